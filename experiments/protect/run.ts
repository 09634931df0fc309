// The protection experiments (Tian, Zhou & Duan, CVPR 2021, as nnlock implements them), one
// command regenerating experiments/results/protect/README.md:
//
//   node --import tsx experiments/protect/run.ts [--only 1,3] [--quick]
//
//   1  tier-0 accuracy vs ratio of protected kernels, 7 strategies, ResNet-20
//   2  DnCNN-S-25 on Set12: PSNR per tier, full-tier check, image grid
//   3  can decoys (and the selection) be told from genuine kernels? two-sample tests
//   4  fine-tuning attack on the tier-0 ResNet-20 vs training from scratch
//
// Every finished unit of work (an importance file, one evaluation, a training epoch) is cached
// under experiments/out/protect/, so an interrupted run resumes where it stopped; delete that
// folder to start over. --quick runs a tiny version of everything (caches and results under
// experiments/out/protect/quick/, the real results page is left alone). The page is rebuilt
// from the stored results of every experiment, so --only N refreshes one section.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { libtorchVersion, getNumThreads } from '../../src/tensor/index.ts';
import { machineInfo } from '../../bench/lib/report.ts';
import { type RunContext, type Section, log, readSection, requireData, runContext, writeSection } from './common.ts';
import { runExp1 } from './exp1-ratio.ts';
import { runExp2 } from './exp2-dncnn.ts';
import { runExp3 } from './exp3-decoys.ts';
import { runExp4 } from './exp4-finetune.ts';

const EXPERIMENTS: Record<number, (ctx: RunContext) => Promise<Section>> = { 1: runExp1, 2: runExp2, 3: runExp3, 4: runExp4 };

const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' } } });
const only = values.only ? values.only.split(',').map(Number) : [1, 2, 3, 4];
for (const n of only) if (!EXPERIMENTS[n]) throw new Error(`--only: no experiment ${n} (have 1, 2, 3, 4)`);
requireData();
const ctx = runContext(values.quick ?? false);
log(`protection experiments ${only.join(', ')}${ctx.quick ? ' (quick)' : ''}: caches in ${ctx.out}, results in ${ctx.results}`);
for (const n of only) {
  log(`=== experiment ${n} ===`);
  const s = await EXPERIMENTS[n](ctx);
  await writeSection(ctx, s);
  log(`experiment ${n} done in ${Math.round(s.seconds)} s`);
}

const sections = [1, 2, 3, 4].map((n) => readSection(ctx, n)).filter((s): s is Section => s !== undefined);
const m = machineInfo();
const page = [
  '# Selective protection experiments (ResNet-20, DnCNN-S-25)',
  '',
  'Method: Tian, Zhou & Duan, "Probabilistic selection and design of sensitive kernels for CNN protection" (CVPR 2021): ' +
    'PSS importance, DPRM decoys, hierarchical tiers — as implemented in `src/protect`.',
  '',
  `Regenerate: \`node --import tsx experiments/protect/run.ts\` (or \`--only N\` for one section; \`--quick\` for a smoke run that writes elsewhere). ` +
    'Finished units are cached under `experiments/out/protect/` (git-ignored), so a rerun skips them.',
  '',
  `Machine of the last run: ${m.cpuModel}, ${m.logicalCores} logical cores (shared with other jobs; load average ${m.loadAverage.join(' ')}), ` +
    `libtorch ${libtorchVersion()} with ${getNumThreads()} threads, Node ${process.version}. Data: the shared fixtures (\`../shared/data\`).`,
  '',
  '| experiment | run time | date |',
  '| --- | ---: | --- |',
  ...sections.map((s) => `| ${s.n}. ${s.title} | ${Math.round(s.seconds)} s${s.quick ? ' (quick)' : ''} | ${s.date.slice(0, 16).replace('T', ' ')} |`),
  '',
  ...sections.flatMap((s) => [`## ${s.n}. ${s.title}`, '', s.markdown, '']),
].join('\n');
await writeFileAtomic(join(ctx.results, 'README.md'), page);
log(`wrote ${join(ctx.results, 'README.md')}`);
