// One command for experiments/results/er/: every unit in order (each resumable, each skipped when
// its result is stored), then the page.
//
//   node --import tsx experiments/er/run.ts
import { execFileSync } from 'node:child_process';

const steps: string[][] = [
  ['experiments/er/fold.ts', '--epochs', '2', '--limit', '8000'],
  ['experiments/er/frozen.ts', '--limit', '5000', '--epochs', '1'],
  ['experiments/er/key-from-weights.ts'],
  ['experiments/er/page.ts'],
];
for (const s of steps) execFileSync(process.execPath, ['--import', 'tsx', ...s], { stdio: 'inherit' });
