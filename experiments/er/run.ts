// One command for experiments/results/er/: every unit in order (each resumable, each skipped when
// its result is stored), then the page.
//
//   node --import tsx experiments/er/run.ts
import { execFileSync } from 'node:child_process';

const steps: string[][] = [
  // The report's decryption finding in its own setting: the backbone of classes 0-4, then the units
  // on the encrypted classes 5-9 (the key comparison first, so a cut leaves it).
  ['experiments/er/pretrain.ts', '--epochs', '6'],
  ['experiments/er/disjoint.ts', '--epochs', '3', '--limit', '7500', '--lr', '0.02', '--adaptation-lr', '0.1'],
  ['experiments/er/fold.ts', '--epochs', '2', '--limit', '8000'],
  // SGD at lr 0.01 (diverged from both inits: kept as measured), then Adam at two budgets.
  ['experiments/er/frozen.ts', '--limit', '5000', '--epochs', '1', '--only', 'key-inverse,statistical,whiten'],
  ['experiments/er/frozen.ts', '--limit', '5000', '--epochs', '1', '--optimizer', 'adam', '--lr', '0.0001', '--only', 'statistical', '--tag', 'adam5k'],
  ['experiments/er/frozen.ts', '--limit', '20000', '--epochs', '1', '--optimizer', 'adam', '--lr', '0.001', '--only', 'whiten,default', '--tag', 'adam20k'],
  ['experiments/er/frozen.ts', '--limit', '20000', '--epochs', '1', '--optimizer', 'adam', '--lr', '0.0001', '--only', 'statistical', '--tag', 'adam20k'],
  ['experiments/er/key-from-weights.ts'],
  ['experiments/er/page.ts'],
];
for (const s of steps) execFileSync(process.execPath, ['--import', 'tsx', ...s], { stdio: 'inherit' });
