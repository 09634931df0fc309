// One fuzz run of one kind, in a child process of the test (so a native crash or a hang fails the
// test instead of killing it): `node --import tsx test/fuzz/child.ts KIND SEED FROM COUNT`.
// Prints one JSON line as each input starts ({"start": i}) and one with its outcome
// ({"done": i, "outcome", "what", "message"}); the parent times each input and counts.
import { mkdtemp, mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mutate } from './mutate.ts';
import { HARNESS_TARGETS, Inconsistent, TARGETS, type Target, writeInput } from './targets.ts';

export type Outcome = 'error' | 'accepted' | 'raw-error' | 'inconsistent' | 'partial';

/** A TypeError from reading a property of undefined is a defect surfacing, not a refusal. */
function isRawError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  return e instanceof TypeError && /Cannot read properties|is not a function|is not iterable|Cannot convert/.test(e.message);
}

async function main(): Promise<void> {
  const [kind, seedArg, fromArg, countArg] = process.argv.slice(2);
  const target: Target | undefined = (TARGETS as Record<string, Target>)[kind] ?? (HARNESS_TARGETS as Record<string, Target>)[kind];
  if (!target) throw new Error(`unknown fuzz kind ${kind}`);
  const seed = Number(seedArg);
  const from = Number(fromArg);
  const count = Number(countArg);
  const root = await mkdtemp(join(tmpdir(), `nnlock-fuzz-${kind}-`));
  const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  try {
    const valid = await target.setup(root);
    for (let i = from; i < from + count; i++) {
      const v = valid[i % valid.length];
      const m = mutate(v.bytes, seed, i, v.hotspots, v.textLimit);
      const dir = join(root, String(i));
      await mkdir(dir);
      const input = await writeInput(dir, v.name, v.assemble ? v.assemble(m.bytes) : m.bytes);
      say({ start: i });
      let outcome: Outcome = 'accepted';
      let message = '';
      try {
        await target.run(input, dir, v);
      } catch (e) {
        outcome = e instanceof Inconsistent ? 'inconsistent' : isRawError(e) ? 'raw-error' : 'error';
        message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
      // Nothing but the input, and the output only when the input was accepted, may remain.
      const left = (await readdir(dir)).filter((f) => f !== v.name && !(outcome === 'accepted' && f === target.output));
      if (left.length > 0) {
        message = `left ${left.join(', ')} after ${outcome} (${message})`;
        outcome = 'partial';
      }
      say({ done: i, outcome, what: m.what, message: message.slice(0, 300) });
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
