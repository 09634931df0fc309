// Computes (and caches) the importance maps of the PSS study on the shared ResNet-20, one after the
// other, so the long ones can run in the background before the experiments that use them:
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/pss-study.ts \
//     --variants pss-paper,pss-default,taylor [--paper-epochs 2] > pss-study.log 2>&1 &
//
// Variants: see pss-variants.ts. Caches under experiments/out/protect/importance/.
import { parseArgs } from 'node:util';
import { RESNET20, log, readWeights, requireData, runContext } from './common.ts';
import { variantImportance, variants } from './pss-variants.ts';

const { values } = parseArgs({ options: { variants: { type: 'string' }, 'paper-epochs': { type: 'string' } } });
requireData();
const all = variants(Number(values['paper-epochs'] ?? 2));
const names = (values.variants ?? Object.keys(all).join(',')).split(',');
for (const n of names) if (!all[n]) throw new Error(`--variants: no variant '${n}' (have ${Object.keys(all).join(', ')})`);
const ctx = runContext(false);
const file = await readWeights(RESNET20);
for (const n of names) {
  const r = await variantImportance(ctx, n, all[n], file);
  log(`${n}: ${r.scores.size} layers, ${r.seconds.toFixed(0)} s`);
}
