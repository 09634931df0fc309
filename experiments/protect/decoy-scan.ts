// A cheap per-feature scan of decoys on the shared ResNet-20, before any full detector run
// (decoy-detectors.ts): per key, every conv layer gets decoys at ⌊N·r⌋ + 1 random positions, drawn
// straight from drawDecoys (or a matched variant), the published values rounded to float32 as the
// file stores them; then every detector of src/audit but the gradient one (it needs images and does
// not separate matched decoys: decoy-detectors.md) is scored per layer. Prints each (detector,
// layer) AUC averaged over the keys for the layers with ≥ 82 decoys, pooled, and the worst layer.
//
//   NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-scan.ts --keys 4 [--variant NAME] [--null]
import { parseArgs } from 'node:util';
import { KeyedStream } from '../../src/crypto/index.ts';
import { convLayers } from '../../src/protect/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { type DecoyRandom, drawDecoys } from '../../src/protect/decoys.ts';
import { type MatchedOptions, matchedDecoys } from '../../src/protect/decoys/matched.ts';
import { type PublishedLayer, runDetectors, scoreDetectors } from '../../src/audit/index.ts';
import { createHash } from 'node:crypto';
import { RESNET20, readWeights } from './common.ts';

const { values: args } = parseArgs({ options: { keys: { type: 'string' }, variant: { type: 'string' }, ratio: { type: 'string' }, null: { type: 'boolean' }, first: { type: 'string' } } });
const KEYS = Number(args.keys ?? 4);
const FIRST = Number(args.first ?? 0);
const RATIO = Number(args.ratio ?? 0.08);
/** Matched variants under study (MatchedOptions); 'matched' is today's default. */
const VARIANTS: Record<string, MatchedOptions> = {
  matched: {},
  c32: { candidates: 32 },
};
const variant = args.variant ?? 'matched';
const options = VARIANTS[variant];
if (!options) throw new Error(`unknown variant ${variant}`);
const draw = (values: Float64Array, shape: readonly [number, number, number, number], planted: Uint8Array, random: DecoyRandom) =>
  planted.reduce((s, r) => s + r, 0) > shape[0] * shape[1] - 2 ? drawDecoys(values, shape, planted, random, 'matched') : matchedDecoys(values, shape, planted, random, options);

const file = await readWeights(RESNET20);
const layers: PublishedLayer[] = convLayers(file.tensors).map((l) => ({ name: l.name, shape: l.shape, values: bytesToFloat64(file.tensors.get(l.name)!.data, l.dtype) }));
const sums = new Map<string, { auc: number; n: number; decoys: number }>();
const t0 = performance.now();
for (let k = FIRST; k < FIRST + KEYS; k++) {
  const stream = new KeyedStream(new Uint8Array(createHash('sha256').update(`nnlock decoy scan ${k}`).digest()), 'scan');
  const truth: Uint8Array[] = [];
  const published = layers.map((l) => {
    const kernels = l.shape[0] * l.shape[1];
    const ks = l.shape[2] * l.shape[3];
    const count = Math.floor(kernels * RATIO) + 1;
    const t = new Uint8Array(kernels);
    const perm = stream.permutation(kernels);
    for (let i = 0; i < count; i++) t[perm[i]] = 1;
    truth.push(t);
    if (args.null) return l;
    const d = draw(l.values, l.shape, t, stream);
    const values = Float64Array.from(l.values);
    let j = 0;
    for (let i = 0; i < kernels; i++) if (t[i]) values.set(d.subarray(j * ks, (j++ + 1) * ks).map(Math.fround), i * ks);
    return { ...l, values };
  });
  const t1 = performance.now();
  const counts = truth.map((t) => t.reduce((a, b) => a + b, 0));
  const reports = scoreDetectors(published, runDetectors(published, { mode: 'matched', counts, seed: k, draw }), truth);
  for (const r of reports) {
    const add = (key: string, auc: number, decoys: number) => {
      const s = sums.get(key) ?? { auc: 0, n: 0, decoys };
      s.auc += auc;
      s.n++;
      sums.set(key, s);
    };
    add(`${r.detector}|pooled`, r.pooledAuc, 0);
    for (const l of r.layers) add(`${r.detector}|${l.layer}`, l.auc, l.decoys);
  }
  console.error(`key ${k}: decoys ${Math.round(t1 - t0)} ms, detectors ${Math.round(performance.now() - t1)} ms`);
}
const mean = (key: string) => {
  const s = sums.get(key);
  return s ? s.auc / s.n : Number.NaN;
};
const detectors = [...new Set([...sums.keys()].map((k) => k.split('|')[0]))].filter((d) => d !== 'rowColumnEffect');
const big = layers.filter((l) => Math.floor(l.shape[0] * l.shape[1] * RATIO) + 1 >= 82).map((l) => l.name);
const mid = layers.filter((l) => Math.floor(l.shape[0] * l.shape[1] * RATIO) + 1 >= 20).map((l) => l.name);
console.log(`variant ${variant}${args.null ? ' (null)' : ''}, keys ${FIRST}..${FIRST + KEYS - 1}: AUC − 0.5 averaged over keys`);
console.log(`${'detector'.padEnd(27)}${'pooled'.padStart(8)}${big.map((l) => l.replace('.weight', '').replace('layer', 'L').padStart(10)).join('')}`);
for (const d of detectors) console.log(`${d.padEnd(27)}${(mean(`${d}|pooled`) - 0.5).toFixed(3).padStart(8)}${big.map((l) => (mean(`${d}|${l}`) - 0.5).toFixed(3).padStart(10)).join('')}`);
let worst = { d: '', l: '', s: 0 };
let pooled = { d: '', s: 0 };
for (const d of detectors) {
  const p = Math.max(mean(`${d}|pooled`), 1 - mean(`${d}|pooled`));
  if (p > pooled.s) pooled = { d, s: p };
  for (const l of mid) {
    const s = Math.max(mean(`${d}|${l}`), 1 - mean(`${d}|${l}`));
    if (s > worst.s) worst = { d, l, s };
  }
}
console.log(`worst pooled ${pooled.s.toFixed(3)} (${pooled.d}); worst layer (≥ 20 decoys) ${worst.s.toFixed(3)} (${worst.d}, ${worst.l}); ${Math.round((performance.now() - t0) / 1000)} s`);
