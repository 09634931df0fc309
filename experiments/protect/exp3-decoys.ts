// Experiment 3: can the decoys be told from genuine kernels by their values alone? Someone holding
// only the published file sees every kernel of a layer; per layer and kernel position (each of the
// kh·kw values), a two-sample test compares
//   (a) the decoy values (the published values of the selected kernels) with the genuine values
//       of the unselected kernels of the same layer, and
//   (b) the ORIGINAL values of the selected kernels with the unselected ones: whether the
//       selection itself leaves a visible trace (what the decoys would have to hide).
// Tests (experiments/lib/stats.ts): Kolmogorov–Smirnov, Welch's t on means, Brown–Forsythe
// (median-centred Levene) and the F-test on variances. If the two samples come from the same
// distribution, about 5% of the positions give p < 0.05 by chance. Also, per layer, the same tests
// on a whole-kernel summary an attacker would try first: each kernel's L1 norm.
//
// Selections: PSS at the ratio experiment 1 found (≤ 0.12 tier-0 accuracy), and random at the same
// ratio as a control (its selected originals ARE a random sample of the layer, so (b) must give
// about 5%). Three keys (the decoys differ per key).
//
// Finally a detector an attacker could run on the published file alone: DPRM draws the kh·kw values
// of a decoy independently (a diagonal Gaussian), while genuine kernels have correlated positions.
// Per layer, fit the mean and the full kh·kw covariance of all published kernels, score each kernel
// by log N_diag(x) − log N_full(x) (how much better the independent-positions model explains it),
// and flag the S highest (S, the number of protected kernels, follows from the public sealed section
// sizes and the ⌊N·r⌋ + 1 rule). Reported: the precision of the flags, and the accuracy of the
// published model with the flagged kernels set to zero (against zeroing the true decoys, an oracle).
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { type Strategy, convLayers } from '../../src/protect/index.ts';
import { bytesToFloat64, float64ToBytes } from '../../src/protect/layers.ts';
import { selectKernels } from '../../src/protect/selection.ts';
import { type TestResult, brownForsytheTest, fTest, ksTest, welchTest } from '../lib/stats.ts';
import { barChartSvg } from '../lib/svg.ts';
import { modelSpec } from '../../src/models/index.ts';
import { JsonCache, RESNET20, type RunContext, type Section, correctOn, fmt, loadIntoModel, log, pct, protectWithKey, readSection, readWeights, table, testLoader } from './common.ts';
import { STRATEGY_LABELS, importanceOf, resnetImportanceFile, resnetSettings } from './importance.ts';
import type { Exp1Data } from './exp1-ratio.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';

const TESTS = ['ks', 'welch', 'bf', 'f'] as const;
type TestName = (typeof TESTS)[number];
const TEST_LABELS: Record<TestName, string> = { ks: 'KS', welch: 'Welch t (means)', bf: 'Brown–Forsythe (variances)', f: 'F-test (variances)' };
const COMPARISONS = ['decoy', 'selected'] as const;
type Comparison = (typeof COMPARISONS)[number];
const COMPARISON_LABELS: Record<Comparison, string> = { decoy: 'decoys vs unselected genuine', selected: 'selected originals vs unselected' };
const MIN_SAMPLE = 3;

interface Counts {
  tested: number;
  rejected: Record<TestName, number>;
}

function emptyCounts(): Counts {
  return { tested: 0, rejected: { ks: 0, welch: 0, bf: 0, f: 0 } };
}

function runTests(x: ArrayLike<number>, y: ArrayLike<number>): Record<TestName, TestResult> {
  return { ks: ksTest(x, y), welch: welchTest(x, y), bf: brownForsytheTest(x, y), f: fTest(x, y) };
}

function add(c: Counts, r: Record<TestName, TestResult>): void {
  c.tested++;
  for (const t of TESTS) if (r[t].p < 0.05) c.rejected[t]++;
}

interface LayerRow {
  layer: string;
  kernels: number;
  selected: number;
  positions: Record<Comparison, Counts>;
  /** Whole-kernel L1 norms: per key for decoys; p-values kept. */
  norm: Record<Comparison, { p: Record<TestName, number[]> }>;
}

export interface Exp3Data {
  ratio: number;
  ratioSource: string;
  keys: number;
  strategies: string[];
  /** strategy → comparison → pooled counts over layers, positions and keys. */
  pooled: Record<string, Record<Comparison, Counts>>;
  /** strategy → comparison → layers (of 19, per key) whose kernel-norm KS test gives p < 0.05. */
  normRejections: Record<string, Record<Comparison, { tested: number; rejected: Record<TestName, number> }>>;
  layers: Record<string, LayerRow[]>;
  decoysMatchSelection: boolean;
  detector: { strategy: string; images: number; original: number; perKey: DetectorResult[] };
}

/** Cholesky factor L (row-major n×n, lower) of a symmetric positive-definite matrix, with a tiny ridge. */
function cholesky(a: Float64Array, n: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i];
  const m = Float64Array.from(a);
  for (let i = 0; i < n; i++) m[i * n + i] += 1e-9 * (trace / n);
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = m[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-300)) : sum / l[j * n + j];
    }
  }
  return l;
}

/**
 * Per kernel of a layer (values kernel after kernel, `ks` each): log N_diag(x) − log N_full(x)
 * under the mean and covariance of all kernels. Higher = looks more like independent positions.
 */
export function decoyScores(values: Float64Array, kernels: number, ks: number): Float64Array {
  const mu = new Float64Array(ks);
  for (let k = 0; k < kernels; k++) for (let q = 0; q < ks; q++) mu[q] += values[k * ks + q] / kernels;
  const cov = new Float64Array(ks * ks);
  for (let k = 0; k < kernels; k++) {
    for (let i = 0; i < ks; i++) {
      const di = values[k * ks + i] - mu[i];
      for (let j = 0; j <= i; j++) cov[i * ks + j] += (di * (values[k * ks + j] - mu[j])) / (kernels - 1);
    }
  }
  for (let i = 0; i < ks; i++) for (let j = 0; j < i; j++) cov[j * ks + i] = cov[i * ks + j];
  const l = cholesky(cov, ks);
  let logDetFull = 0,
    logDetDiag = 0;
  for (let i = 0; i < ks; i++) {
    logDetFull += 2 * Math.log(l[i * ks + i]);
    logDetDiag += Math.log(cov[i * ks + i]);
  }
  const out = new Float64Array(kernels);
  const y = new Float64Array(ks);
  for (let k = 0; k < kernels; k++) {
    // Mahalanobis under the full covariance: solve L y = x − μ, then |y|².
    let full = 0,
      diag = 0;
    for (let i = 0; i < ks; i++) {
      let sum = values[k * ks + i] - mu[i];
      for (let j = 0; j < i; j++) sum -= l[i * ks + j] * y[j];
      y[i] = sum / l[i * ks + i];
      full += y[i] * y[i];
      diag += (values[k * ks + i] - mu[i]) ** 2 / cov[i * ks + i];
    }
    out[k] = -0.5 * diag - 0.5 * logDetDiag - (-0.5 * full - 0.5 * logDetFull);
  }
  return out;
}

/** A copy of `file` with the given kernels of each layer set to zero. */
function zeroKernels(file: SafetensorsFile, kernelsByLayer: Map<string, Int32Array>): SafetensorsFile {
  const tensors = new Map(file.tensors);
  for (const [name, idx] of kernelsByLayer) {
    const e = file.tensors.get(name)!;
    const l = convLayers(new Map([[name, e]]))[0];
    const v = bytesToFloat64(e.data, l.dtype);
    for (const i of idx) v.fill(0, i * l.kernelSize, (i + 1) * l.kernelSize);
    tensors.set(name, { ...e, data: float64ToBytes(v, l.dtype) });
  }
  return { tensors, metadata: file.metadata };
}

export interface DetectorResult {
  key: number;
  flagged: number;
  hits: number;
  precision: number;
  /** Precision of flagging S kernels at random: S / N pooled. */
  chance: number;
  /** Accuracy on the first `images` test images. */
  tier0: number;
  zeroFlagged: number;
  zeroTrueDecoys: number;
}

export async function runExp3(ctx: RunContext): Promise<Section> {
  const t0 = performance.now();
  const exp1 = readSection(ctx, 1)?.data as Exp1Data | undefined;
  const ratio = exp1?.threshold.pss ?? 0.08;
  const ratioSource = exp1?.threshold.pss != null ? 'the smallest ratio giving tier-0 accuracy ≤ 0.12 with PSS (experiment 1)' : 'default 8% (experiment 1 has no PSS threshold yet)';
  const keys = ctx.quick ? 1 : 3;
  const file = await readWeights(RESNET20);
  const layers = convLayers(file.tensors);
  const original = new Map(layers.map((l) => [l.name, bytesToFloat64(file.tensors.get(l.name)!.data, l.dtype)]));
  const strategies: Strategy[] = ['pss', 'random'];
  const pooled: Exp3Data['pooled'] = {};
  const normRejections: Exp3Data['normRejections'] = {};
  const layerRows: Exp3Data['layers'] = {};
  let decoysMatchSelection = true;

  for (const s of strategies) {
    pooled[s] = { decoy: emptyCounts(), selected: emptyCounts() };
    normRejections[s] = { decoy: emptyCounts(), selected: emptyCounts() };
    const rows = new Map<string, LayerRow>();
    for (let k = 0; k < keys; k++) {
      const importance = await importanceOf(s, file, 'resnet20', k, s === 'pss' ? resnetImportanceFile(ctx, 'pss') : '', resnetSettings(ctx.quick));
      const p = await protectWithKey(file, k, { importance, ratio, tiers: 1, architecture: 'resnet20' });
      const selections = selectKernels(layers, importance, ratio);
      for (const sel of selections) {
        const l = sel.layer;
        const ks = l.kernelSize;
        const orig = original.get(l.name)!;
        const pub = bytesToFloat64(p.file.tensors.get(l.name)!.data, l.dtype);
        const isSel = new Uint8Array(l.kernels);
        for (const i of sel.ranked) isSel[i] = 1;
        // Sanity: exactly the selected kernels changed.
        for (let i = 0; i < l.kernels; i++) {
          let changed = false;
          for (let q = 0; q < ks; q++) if (orig[i * ks + q] !== pub[i * ks + q]) changed = true;
          if (changed !== (isSel[i] === 1)) decoysMatchSelection = false;
        }
        const row = rows.get(l.name) ?? {
          layer: l.name,
          kernels: l.kernels,
          selected: sel.ranked.length,
          positions: { decoy: emptyCounts(), selected: emptyCounts() },
          norm: { decoy: { p: { ks: [], welch: [], bf: [], f: [] } }, selected: { p: { ks: [], welch: [], bf: [], f: [] } } },
        };
        rows.set(l.name, row);
        const nSel = sel.ranked.length;
        const nUn = l.kernels - nSel;
        if (nSel < MIN_SAMPLE || nUn < MIN_SAMPLE) continue;
        // The selection of PSS does not depend on the key: test (b) once.
        const doSelected = s === 'random' || k === 0;
        for (let q = 0; q < ks; q++) {
          const decoy = new Float64Array(nSel),
            chosen = new Float64Array(nSel),
            rest = new Float64Array(nUn);
          let a = 0,
            b = 0;
          for (let i = 0; i < l.kernels; i++) {
            if (isSel[i]) {
              decoy[a] = pub[i * ks + q];
              chosen[a++] = orig[i * ks + q];
            } else rest[b++] = orig[i * ks + q];
          }
          const rd = runTests(decoy, rest);
          add(row.positions.decoy, rd);
          add(pooled[s].decoy, rd);
          if (doSelected) {
            const rs = runTests(chosen, rest);
            add(row.positions.selected, rs);
            add(pooled[s].selected, rs);
          }
        }
        // Whole-kernel L1 norms.
        const l1 = (v: Float64Array, i: number) => {
          let t = 0;
          for (let q = 0; q < ks; q++) t += Math.abs(v[i * ks + q]);
          return t;
        };
        const decoyN: number[] = [],
          chosenN: number[] = [],
          restN: number[] = [];
        for (let i = 0; i < l.kernels; i++) {
          if (isSel[i]) {
            decoyN.push(l1(pub, i));
            chosenN.push(l1(orig, i));
          } else restN.push(l1(orig, i));
        }
        const nd = runTests(decoyN, restN);
        for (const t of TESTS) row.norm.decoy.p[t].push(nd[t].p);
        add(normRejections[s].decoy, nd);
        if (doSelected) {
          const ns = runTests(chosenN, restN);
          for (const t of TESTS) row.norm.selected.p[t].push(ns[t].p);
          add(normRejections[s].selected, ns);
        }
      }
      log(`exp3: ${s} key ${k}: ${pooled[s].decoy.tested} decoy positions tested so far, KS rejections ${pct(pooled[s].decoy.rejected.ks / Math.max(1, pooled[s].decoy.tested))}`);
    }
    layerRows[s] = [...rows.values()];
  }

  // The detector, on the PSS-protected model of each key.
  const images = ctx.quick ? 200 : 1000;
  const cache = new JsonCache<number>(join(ctx.out, 'exp3-detector.json'));
  const loader = await testLoader(0, images);
  const model = modelSpec('resnet20').create();
  const perKey: DetectorResult[] = [];
  let originalAcc = 0;
  try {
    const accuracy = async (id: string, f: () => SafetensorsFile): Promise<number> =>
      cache.getOr(`${id}|${ratio}|${images}`, async () => {
        loadIntoModel(model, f());
        return (await correctOn(model, loader)) / images;
      });
    originalAcc = await accuracy('original', () => file);
    const importance = await importanceOf('pss', file, 'resnet20', 0, resnetImportanceFile(ctx, 'pss'), resnetSettings(ctx.quick));
    const selections = selectKernels(layers, importance, ratio);
    for (let k = 0; k < keys; k++) {
      const p = await protectWithKey(file, k, { importance, ratio, tiers: 1, architecture: 'resnet20' });
      const flaggedBy = new Map<string, Int32Array>();
      const truth = new Map<string, Int32Array>();
      let flagged = 0,
        hits = 0,
        chanceNum = 0;
      for (const sel of selections) {
        const l = sel.layer;
        const scores = decoyScores(bytesToFloat64(p.file.tensors.get(l.name)!.data, l.dtype), l.kernels, l.kernelSize);
        const order = Array.from({ length: l.kernels }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
        const top = Int32Array.from(order.slice(0, sel.ranked.length));
        const truthSet = new Set(sel.ranked);
        flaggedBy.set(l.name, top);
        truth.set(l.name, Int32Array.from(sel.ranked));
        flagged += top.length;
        hits += top.filter((i) => truthSet.has(i)).length;
        chanceNum += (sel.ranked.length * sel.ranked.length) / l.kernels;
      }
      const r: DetectorResult = {
        key: k,
        flagged,
        hits,
        precision: hits / flagged,
        chance: chanceNum / flagged,
        tier0: await accuracy(`tier0-k${k}`, () => p.file),
        zeroFlagged: await accuracy(`zero-flagged-k${k}`, () => zeroKernels(p.file, flaggedBy)),
        zeroTrueDecoys: await accuracy(`zero-true-k${k}`, () => zeroKernels(p.file, truth)),
      };
      perKey.push(r);
      log(
        `exp3 detector, key ${k}: precision ${fmt(r.precision, 3)} (chance ${fmt(r.chance, 3)}); accuracy tier 0 ${fmt(r.tier0, 3)}, flagged zeroed ${fmt(r.zeroFlagged, 3)}, true decoys zeroed ${fmt(r.zeroTrueDecoys, 3)}`,
      );
    }
  } finally {
    model.dispose();
  }

  const data: Exp3Data = {
    ratio,
    ratioSource,
    keys,
    strategies,
    pooled,
    normRejections,
    layers: layerRows,
    decoysMatchSelection,
    detector: { strategy: 'pss', images, original: originalAcc, perKey },
  };
  const svg = 'exp3-decoy-tests.svg';
  await writeFileAtomic(
    join(ctx.results, svg),
    barChartSvg({
      title: `Share of kernel positions with p < 0.05 (ResNet-20, ratio ${pct(ratio)}; 5% = indistinguishable)`,
      yLabel: 'fraction of positions with p < 0.05',
      width: 820,
      categories: TESTS.map((t) => TEST_LABELS[t].replace(/ \(.*\)/, '')),
      series: strategies.flatMap((s) =>
        COMPARISONS.map((c) => ({
          name: `${STRATEGY_LABELS[s]}: ${c === 'decoy' ? 'decoys' : 'selected'}`,
          values: TESTS.map((t) => pooled[s][c].rejected[t] / Math.max(1, pooled[s][c].tested)),
        })),
      ),
    }),
  );
  return { n: 3, title: 'Can decoys be told from genuine kernels?', markdown: render(data, svg), data, seconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), quick: ctx.quick };
}

function frac(c: Counts, t: TestName): string {
  return c.tested ? `${pct(c.rejected[t] / c.tested)}` : '–';
}

function render(d: Exp3Data, svg: string): string {
  const pooledRows = d.strategies.flatMap((s) =>
    COMPARISONS.map((c) => [`${STRATEGY_LABELS[s]}: ${COMPARISON_LABELS[c]}`, String(d.pooled[s][c].tested), ...TESTS.map((t) => frac(d.pooled[s][c], t))]),
  );
  const normRows = d.strategies.flatMap((s) =>
    COMPARISONS.map((c) => [`${STRATEGY_LABELS[s]}: ${COMPARISON_LABELS[c]}`, String(d.normRejections[s][c].tested), ...TESTS.map((t) => frac(d.normRejections[s][c], t))]),
  );
  const layerTable = (s: string) =>
    table(
      ['layer', 'kernels', 'selected', 'decoys: KS', 'decoys: Welch', 'decoys: BF', 'selected: KS', 'selected: Welch', 'selected: BF', 'L1 norm KS p, decoys (per key)', 'L1 norm KS p, selected'],
      d.layers[s].map((r) => [
        r.layer.replace(/\.weight$/, ''),
        String(r.kernels),
        String(r.selected),
        frac(r.positions.decoy, 'ks'),
        frac(r.positions.decoy, 'welch'),
        frac(r.positions.decoy, 'bf'),
        frac(r.positions.selected, 'ks'),
        frac(r.positions.selected, 'welch'),
        frac(r.positions.selected, 'bf'),
        r.norm.decoy.p.ks.map((p) => p.toExponential(1)).join(', ') || '–',
        r.norm.selected.p.ks.map((p) => p.toExponential(1)).join(', ') || '–',
      ]),
    );
  return [
    `Shared ResNet-20, every conv layer, ratio ${pct(d.ratio)} (${d.ratioSource}), ${d.keys} key(s). For each layer and each of the 9 positions of its 3×3 kernels, ` +
      'two samples: the values at that position of the selected kernels (decoys as published, or the original values) and of the unselected kernels. ' +
      `Positions are tested when both samples have at least ${MIN_SAMPLE} values. Decoy tests are pooled over keys (the decoys differ per key); for PSS the selection does not depend on the key, so the "selected originals" tests are counted once. ` +
      `Every selected kernel (and only those) differs in the published file: **${d.decoysMatchSelection ? 'yes' : 'NO'}**. ` +
      "Statistics written in `experiments/lib/stats.ts` (KS with the asymptotic Kolmogorov p-value and Stephens' correction; Welch with the exact Student-t tail; Brown–Forsythe = Levene centred on medians; F = ratio of variances), checked against SciPy by `experiments/protect/check-stats.ts`.",
    '',
    '**Fraction of positions with p < 0.05** (about 5% if the two samples are indistinguishable):',
    '',
    table(['comparison', 'positions tested', ...TESTS.map((t) => TEST_LABELS[t])], pooledRows),
    '',
    'The F-test assumes normal samples; conv weights are heavier-tailed than a Gaussian, so it rejects more often than 5% even where the samples are exchangeable ' +
      "(the random strategy's selected originals); Brown–Forsythe is the robust test of variances. KS compares whole distributions: rejections well above 5% for the decoys while means and variances stay near 5% " +
      "point to a difference in shape (DPRM draws Gaussian values; the F-test's excess on exchangeable samples shows the genuine weights are not Gaussian).",
    '',
    `![decoy tests](${svg})`,
    '',
    '**Whole-kernel L1 norms**, per layer (and per key for decoys): fraction of layer tests with p < 0.05:',
    '',
    table(['comparison', 'layer tests', ...TESTS.map((t) => TEST_LABELS[t])], normRows),
    '',
    "Every position's marginal is matched by DPRM, but a decoy's 9 values are drawn independently while a genuine kernel's positions are correlated, so whole-kernel statistics (here the L1 norm) separate them in most layers; the detector below uses exactly that.",
    '',
    '**A decoy detector on the published file alone** (PSS selection; see the top of `exp3-decoys.ts`): per layer, every kernel scored by log N_diag(x) − log N_full(x) ' +
      "(the independent-positions model of DPRM against the full 3×3 covariance of the layer's kernels), the S highest flagged. " +
      `Accuracy on the first ${d.detector.images} test images (original model: ${fmt(d.detector.original, 3)}):`,
    '',
    table(
      ['key', 'flagged', 'true decoys among them', 'precision', 'chance precision', 'tier 0 (published)', 'flagged kernels zeroed', 'true decoys zeroed (oracle)'],
      d.detector.perKey.map((r) => [String(r.key), String(r.flagged), String(r.hits), fmt(r.precision, 3), fmt(r.chance, 3), fmt(r.tier0, 3), fmt(r.zeroFlagged, 3), fmt(r.zeroTrueDecoys, 3)]),
    ),
    '',
    ...d.strategies.flatMap((s) => [
      `<details><summary>Per layer, ${STRATEGY_LABELS[s]} (fractions of positions with p < 0.05; KS p-values of the kernel L1 norms)</summary>`,
      '',
      layerTable(s),
      '',
      '</details>',
      '',
    ]),
  ].join('\n');
}
