// Runs the CLI in-process, as `nnlock ...args` would, with capturing streams: no globals replaced.
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/io.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let out = '';
  let err = '';
  const io: CliIO = {
    stdout: {
      write: (s: string) => {
        out += s;
        return true;
      },
      isTTY: false,
    },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
      isTTY: false,
    },
    env: { ...process.env, ...env },
  };
  const code = await main(['node', 'nnlock', ...args], io);
  return { code, out, err };
}
