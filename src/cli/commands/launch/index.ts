// `nnlock launch --nproc N -- COMMAND ...`: N copies of a command, data-parallel, told their place
// by the variables torchrun sets. The launching is src/distributed/launch.ts; this file parses,
// turns a leading `nnlock` into this very nnlock, and prints the ranks' output (rank 0's as it is,
// the others' lines marked [rank i]).
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { CliIO, OutStream } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { UsageError } from '../../errors.ts';
import { option, parse } from '../../options.ts';
import { launch } from '../../../distributed/launch.ts';

/** launch is new in 0.2: nothing moved here. */
export const legacyLaunch: MovedCommand[] = [];

interface LaunchFlags {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr?: string;
  masterPort?: number;
  threads?: number;
}

const NNLOCK_BIN = fileURLToPath(new URL('../../../../bin/nnlock.js', import.meta.url));

/** `nnlock ...` runs this nnlock (the same version, no PATH needed); anything else runs as given. */
export function resolveCommand(argv: readonly string[]): { command: string; args: string[] } {
  if (argv[0] === 'nnlock') return { command: process.execPath, args: [NNLOCK_BIN, ...argv.slice(1)] };
  return { command: argv[0], args: argv.slice(1) };
}

/** Writes the ranks' output: rank 0's unchanged (its --json stays one document), others' lines prefixed. */
function rankWriter(io: CliIO): (rank: number, stream: 'stdout' | 'stderr', chunk: string) => void {
  const partial = new Map<string, string>();
  return (rank, stream, chunk) => {
    const out: OutStream = stream === 'stdout' ? io.stdout : io.stderr;
    if (rank === 0) return void out.write(chunk);
    const key = `${rank}:${stream}`;
    const lines = ((partial.get(key) ?? '') + chunk).split(/\r?\n|\r/);
    partial.set(key, lines.pop() ?? '');
    for (const l of lines) if (l !== '') out.write(`[rank ${rank}] ${l}\n`);
  };
}

export function registerLaunch(program: Command, io: CliIO): void {
  program
    .command('launch')
    .description('run a command in N data-parallel processes (the torchrun variables: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK)')
    .argument('<command...>', 'the command after --, e.g. -- nnlock model train ...')
    .addOption(option('--nproc <n>', 'processes on this machine', parse.positiveInt, 1))
    .addOption(option('--nnodes <n>', 'machines in the job (run the same launch on each)', parse.positiveInt, 1))
    .addOption(option('--node-rank <i>', "this machine's place, from 0", parse.nonNegativeInt, 0))
    .option('--master-addr <host>', "rank 0's machine (default: this one's loopback)")
    .addOption(option('--master-port <port>', "rank 0's store port (default: a free one; several machines need it given)", parse.positiveInt))
    .addOption(option('--threads <n>', 'libtorch threads per process (default: the cores divided among the processes)', parse.positiveInt))
    .addHelpText('after', '\nExample:\n  nnlock launch --nproc 2 -- nnlock model train -a resnet20 -d ../shared/data/cifar10 -o runs/r20.safetensors --epochs 1')
    .action(async (argv: string[], o: LaunchFlags) => {
      if (o.nodeRank >= o.nnodes) throw new UsageError(`--node-rank ${o.nodeRank} must be below --nnodes ${o.nnodes}`);
      if (o.nnodes > 1 && (o.masterAddr === undefined || o.masterPort === undefined)) throw new UsageError('--nnodes > 1 needs --master-addr and --master-port (the same on every machine)');
      const { command, args } = resolveCommand(argv);
      const result = await launch({
        command,
        args,
        nproc: o.nproc,
        nodes: o.nnodes,
        nodeRank: o.nodeRank,
        masterAddr: o.masterAddr,
        masterPort: o.masterPort,
        threadsPerRank: o.threads,
        env: io.env,
        onOutput: rankWriter(io),
      });
      if (result.failedRank !== null) {
        const local = result.failedRank - o.nodeRank * o.nproc;
        throw new Error(`rank ${result.failedRank} failed (exit code ${result.codes[local] ?? 'none: killed'}); the other ranks were stopped`);
      }
    });
}
