// Runs the fuzz child (child.ts) for one kind and counts the outcomes. Each input has a time limit:
// when it passes, the child is killed, the input counted as a hang, and a new child continues
// with the next input; a child that dies mid-input (a native crash, a signal) counts a crash and
// is restarted the same way. So every input is tried once and every failure is counted.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Outcome } from './child.ts';

export interface FuzzFigures {
  kind: string;
  tried: number;
  cleanErrors: number;
  accepted: number;
  crashes: number;
  hangs: number;
  partial: number;
  inconsistent: number;
  rawErrors: number;
  /** The first failures, each with its index and mutation, to reproduce. */
  failures: string[];
  seconds: number;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** The number of mutations per kind: NNLOCK_FUZZ_N, or `fallback`. */
export function fuzzCount(fallback: number): number {
  const n = Number(process.env.NNLOCK_FUZZ_N);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

interface ChildEnd {
  /** The index the child was busy with when it ended, or null when it finished cleanly. */
  busy: number | null;
  timedOut: boolean;
  detail: string;
}

function runChild(
  kind: string,
  seed: number,
  from: number,
  count: number,
  perInputMs: number,
  setupMs: number,
  onDone: (i: number, outcome: Outcome, what: string, message: string) => void,
): Promise<ChildEnd> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, kind, String(seed), String(from), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let busy: number | null = null;
    let timedOut = false;
    let stderr = '';
    let timer = setTimeout(() => kill(), setupMs);
    function kill(): void {
      timedOut = true;
      child.kill('SIGKILL');
    }
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: { start?: number; done?: number; outcome?: Outcome; what?: string; message?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      clearTimeout(timer);
      if (msg.start !== undefined) {
        busy = msg.start;
        timer = setTimeout(() => kill(), perInputMs);
      } else if (msg.done !== undefined) {
        busy = null;
        onDone(msg.done, msg.outcome!, msg.what ?? '', msg.message ?? '');
        timer = setTimeout(() => kill(), perInputMs); // the next start (or exit) must come soon
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const clean = code === 0 && busy === null;
      resolve({ busy: clean ? null : (busy ?? -1), timedOut, detail: `exit ${code ?? signal}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}` });
    });
  });
}

/** Tries `count` mutations of `kind` (seeded), each within `perInputMs`. */
export async function fuzz(kind: string, count: number, o: { seed?: number; perInputMs?: number; setupMs?: number } = {}): Promise<FuzzFigures> {
  const seed = o.seed ?? 11;
  const started = Date.now();
  const f: FuzzFigures = { kind, tried: 0, cleanErrors: 0, accepted: 0, crashes: 0, hangs: 0, partial: 0, inconsistent: 0, rawErrors: 0, failures: [], seconds: 0 };
  const fail = (text: string) => {
    if (f.failures.length < 10) f.failures.push(text);
  };
  let next = 0;
  while (next < count) {
    const end = await runChild(kind, seed, next, count - next, o.perInputMs ?? 10_000, o.setupMs ?? 60_000, (i, outcome, what, message) => {
      f.tried++;
      next = i + 1;
      if (outcome === 'error') f.cleanErrors++;
      else if (outcome === 'accepted') f.accepted++;
      else {
        if (outcome === 'partial') f.partial++;
        else if (outcome === 'inconsistent') f.inconsistent++;
        else f.rawErrors++;
        fail(`#${i} ${outcome} (${what}): ${message}`);
      }
    });
    if (end.busy === null) break;
    if (end.busy < 0) {
      // Died before or between inputs (setup): nothing more can be learnt by retrying.
      f.crashes++;
      fail(`${kind}: the child died outside an input (${end.detail})`);
      break;
    }
    f.tried++;
    if (end.timedOut) f.hangs++;
    else f.crashes++;
    fail(`#${end.busy} ${end.timedOut ? 'hang' : 'crash'}: ${end.detail}`);
    next = end.busy + 1;
  }
  f.seconds = (Date.now() - started) / 1000;
  return f;
}

export function formatFigures(f: FuzzFigures): string {
  return `fuzz ${f.kind}: ${f.tried} inputs, ${f.cleanErrors} clean errors, ${f.accepted} accepted, ${f.crashes} crashes, ${f.hangs} hangs, ${f.partial} partial files, ${f.inconsistent} inconsistent, ${f.rawErrors} raw errors (${f.seconds.toFixed(1)} s)`;
}
