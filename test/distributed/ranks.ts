// Helpers of the distributed tests: a free loopback port, and N child processes started as
// torchrun starts them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), each with its exit
// code, output and the time it took.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface RankResult {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs `node --import tsx script ...args` once per rank (worldSize 0: once, with no launcher variables). */
export async function runRanks(worldSize: number, script: string, args: string[], env: Record<string, string> = {}, killAfterMs = 120_000): Promise<RankResult[]> {
  const port = await freePort();
  const runs = Array.from({ length: Math.max(worldSize, 1) }, (_, rank) => {
    const launcher = worldSize === 0 ? {} : { RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(worldSize), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, NNLOCK_THREADS: '1', ...launcher, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    return new Promise<RankResult>((resolve) =>
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ rank, code, signal, out, err, ms: performance.now() - started });
      }),
    );
  });
  return Promise.all(runs);
}
