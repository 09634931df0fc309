// The launcher: N copies of a command on this machine, each told its place the way torchrun
// tells it (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE), so the
// commands it runs work the same under torchrun, Slurm or Kubernetes. Several machines: the same
// launch on each, with nodes, nodeRank and one masterAddr:masterPort (rank 0's machine).
// As torchrun does, a rank that fails ends the others: one failed rank fails the job.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';

export interface LaunchOptions {
  /** The command and its arguments, run once per local rank. */
  command: string;
  args: readonly string[];
  /** Processes on this machine. */
  nproc: number;
  /** Machines in the job (default 1) and this one's place among them (default 0). */
  nodes?: number;
  nodeRank?: number;
  /** Rank 0's machine and store port. Default on one machine: the loopback and a free port. */
  masterAddr?: string;
  masterPort?: number;
  /** The environment the ranks inherit (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Each rank's libtorch threads (NNLOCK_THREADS, unless the environment sets it): default the
   * machine's cores divided among the local ranks, at least 1 (torchrun's OMP_NUM_THREADS is 1).
   */
  threadsPerRank?: number;
  /** Output of the ranks, as it comes. */
  onOutput?: (rank: number, stream: 'stdout' | 'stderr', chunk: string) => void;
  /** A rank ended (code null: killed by `signal`). */
  onExit?: (rank: number, code: number | null, signal: string | null) => void;
}

export interface LaunchResult {
  /** Exit codes by local rank (null for a rank ended by a signal). */
  codes: (number | null)[];
  /** The first rank that failed, or null when all succeeded. */
  failedRank: number | null;
  worldSize: number;
  masterPort: number;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function positive(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`launch: ${name} must be a positive integer, got ${n}`);
}

export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  const nodes = o.nodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  positive('nproc', o.nproc);
  positive('nodes', nodes);
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nodes) throw new RangeError(`launch: nodeRank must be from 0 to ${nodes - 1}, got ${nodeRank}`);
  if (nodes > 1 && (o.masterAddr === undefined || o.masterPort === undefined)) {
    throw new Error('launch: a job on several machines needs the master address and port (rank 0 machine), the same on every machine');
  }
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.masterPort ?? (await freePort(masterAddr));
  const worldSize = o.nproc * nodes;
  const baseEnv = o.env ?? process.env;
  const threads = o.threadsPerRank ?? Math.max(1, Math.floor(availableParallelism() / o.nproc));
  const children: ChildProcess[] = [];
  const codes: (number | null)[] = new Array(o.nproc).fill(null);
  let failedRank: number | null = null;
  const exits = Array.from({ length: o.nproc }, (_, local) => {
    const rank = nodeRank * o.nproc + local;
    const env = {
      ...baseEnv,
      NNLOCK_THREADS: baseEnv.NNLOCK_THREADS ?? String(threads),
      MASTER_ADDR: masterAddr,
      MASTER_PORT: String(masterPort),
      WORLD_SIZE: String(worldSize),
      RANK: String(rank),
      LOCAL_RANK: String(local),
      LOCAL_WORLD_SIZE: String(o.nproc),
      GROUP_RANK: String(nodeRank),
    };
    const child = spawn(o.command, [...o.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => o.onOutput?.(rank, 'stdout', d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => o.onOutput?.(rank, 'stderr', d));
    return new Promise<void>((resolve) => {
      child.on('error', (e) => {
        o.onOutput?.(rank, 'stderr', `launch: could not start ${o.command}: ${e.message}\n`);
        codes[local] = 127;
      });
      child.on('close', (code, signal) => {
        codes[local] = code ?? codes[local];
        o.onExit?.(rank, code, signal);
        if ((code !== 0 || signal !== null) && failedRank === null) {
          failedRank = rank;
          // torchrun's rule: one failed rank ends the job (the others would wait for it forever).
          for (const c of children) if (c !== child && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
        }
        resolve();
      });
    });
  });
  await Promise.all(exits);
  return { codes, failedRank, worldSize, masterPort };
}
