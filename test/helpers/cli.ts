// Runs the CLI in-process, as `nnlock ...args` would, with capturing streams: no globals replaced.
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Key files that commands write by default go to $NNLOCK_KEYS_DIR (else ~/.nnlock/keys): tests
// point it at a temporary folder so they never touch the home directory.
let keysDir: string | undefined;
const testKeysDir = () => (keysDir ??= mkdtempSync(join(tmpdir(), 'nnlock-test-keys-')));

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
    env: { NNLOCK_KEYS_DIR: testKeysDir(), ...process.env, ...env },
  };
  const code = await main(['node', 'nnlock', ...args], io);
  return { code, out, err };
}
