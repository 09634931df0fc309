// The block-wise image encryption experiments (src/cipher) on the shared CIFAR-10, k = 4, one
// command regenerating experiments/results/cipher/README.md:
//
//   node --import tsx experiments/cipher/run.ts [--quick] [--only name,name,...]
//
// Units (names for --only; by default they run in RUN_ORDER: attacks, plain, uniform-aligned, then the rest):
//   attacks               known-plaintext key recovery on real CIFAR-10 blocks, every key kind
//   plain                 ResNet-20 on plaintext (the baseline)
//   uniform-none          on uniform-key ciphertext, no adaptation network
//   uniform-aligned       ... with the aligned adaptation network (+ learned decryption, grid)
//   uniform-padded        ... with the padded one (the report's variant)
//   uniform-aligned-r2    aligned, multi-round: 2 rounds × half the epochs (backbone restarted, adaptation kept)
//   uniform-padded-r2     padded, multi-round
//   orthogonal-aligned    orthogonal key, aligned adaptation
//   orthogonal-none       orthogonal key, no adaptation
//   plain-s1, uniform-aligned-s1, plain-s2, uniform-aligned-s2
//                         seed repeats of the two configurations the 0.98 bar compares (run-to-run spread)
//   timing                throughput of plain / none / aligned / padded measured back to back (fair times)
//   uniform-aligned-whiten (-s1, -s2), orthogonal-aligned-whiten, uniform-padded-whiten, uniform-aligned-whiten-r2
//                         the adaptation network started as the whitening of the training ciphertexts (no key)
//   plain-aligned-whiten  control: the same whitened network in front of ResNet-20 on plaintext
//   statistical           ciphertext-only key recovery from image statistics (prior: other CIFAR images), by number of ciphertexts
//   uniform-aligned-stat (-s1, -s2), orthogonal-aligned-stat
//                         the adaptation network started as that recovered decryption (no key)
//   long20-plain, long20-uniform-aligned-stat
//                         the bar's pair at 20,000 images × 10 epochs (the prior's images stay out of training)
//   long-plain, long-uniform-aligned-whiten
//                         the bar's pair at a longer budget (all 30,000 training images, 10 epochs)
//   figures               (only with --only) recompute the learned-decryption figures and grids from the saved models
// Every training configuration has the same budget (see common.ts: images, epochs, steps) except the long-* pair.
//
// Resumable: every epoch checkpoints under experiments/out/cipher/checkpoints/<name>/ (git-ignored);
// a finished unit is stored as experiments/results/cipher/runs/<name>.json and skipped on rerun
// (delete that file to redo it). The page is rebuilt from every stored unit after each one, so a
// partial run gives a partial page; `--only page` just rebuilds it. --quick runs a tiny version
// (caches and page under experiments/out/cipher/quick/; the real page is left alone).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { duration, log, requireData, runContext } from './common.ts';
import { refreshFigures, runConfig } from './train-config.ts';
import { runAttacks } from './attacks.ts';
import { runStatistical } from './statistical.ts';
import { runTiming } from './timing.ts';
import { ALL_CONFIGS, CONFIGS, RUN_ORDER, UNITS } from './configs.ts';
import { writePage } from './page.ts';

const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' } } });
const only = values.only
  ? values.only
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  : RUN_ORDER;
for (const n of only) if (n !== 'page' && !UNITS.includes(n)) throw new Error(`--only: no unit '${n}' (have ${UNITS.join(', ')}, page)`);
requireData();
const ctx = runContext(values.quick ?? false);
const started = performance.now();
log(`cipher experiments${ctx.quick ? ' (quick)' : ''}: ${only.join(', ')}; checkpoints in ${ctx.out}, results in ${ctx.results}; budget ${JSON.stringify(ctx.budget)}`);

for (const unit of only) {
  if (unit === 'page') continue;
  if (unit === 'attacks') await runAttacks(ctx);
  else if (unit === 'statistical') await runStatistical(ctx);
  else if (unit === 'timing') await runTiming(ctx);
  else if (unit === 'figures') {
    for (const cfg of CONFIGS) await refreshFigures(ctx, cfg);
  } else await runConfig(ctx, ALL_CONFIGS.find((c) => c.name === unit)!);
  await writePage(ctx);
}
await writePage(ctx);
log(`done in ${duration((performance.now() - started) / 1000)}; wrote ${join(ctx.results, 'README.md')}`);
