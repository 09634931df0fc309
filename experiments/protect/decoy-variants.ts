// Scratch bench for decoy variants (not part of the results page): draws decoys with a variant
// (decoy-variant-draws.ts) at random or L1 positions of the shared ResNet-20 for several keys, runs
// the detector suite without the Fisher detector (the attacker's classifier simulates the same
// variant), and prints per (detector, layer) the AUC averaged over keys against the level chance
// reaches for such a mean; 'none' is the null (no decoys at the same positions). About 2 minutes a
// variant at 8 keys on the shared machine.
//   NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-variants.ts --variants none,r-ctx,resample --keys 8 [--strategy l1]
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { KeyedStream } from '../../src/crypto/index.ts';
import { convLayers } from '../../src/protect/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { selectedCount } from '../../src/protect/selection.ts';
import { type PublishedLayer, chanceSeparability, runDetectors, scoreDetectors } from '../../src/audit/index.ts';
import { RESNET20, readWeights } from './common.ts';
import { VARIANTS } from './decoy-variant-draws.ts';

const { values: args } = parseArgs({ options: { variants: { type: 'string' }, keys: { type: 'string' }, strategy: { type: 'string' }, model: { type: 'string' } } });
const KEYS = Number(args.keys ?? 8);
const strategy = args.strategy ?? 'random';
const file = await readWeights(args.model ?? RESNET20);
const layers: PublishedLayer[] = convLayers(file.tensors).map((l) => ({ name: l.name, shape: l.shape, values: bytesToFloat64(file.tensors.get(l.name)!.data, l.dtype) }));

function positions(layer: PublishedLayer, key: number): Uint8Array {
  const [a, b, kh, kw] = layer.shape;
  const n = a * b;
  const count = selectedCount(n, 0.08);
  const t = new Uint8Array(n);
  if (strategy === 'random') {
    const s = new KeyedStream(new Uint8Array(createHash('sha256').update(`pos ${key} ${layer.name}`).digest()), 'pos');
    const p = s.permutation(n);
    for (let i = 0; i < count; i++) t[p[i]] = 1;
  } else {
    const ks = kh * kw;
    const l1 = Array.from({ length: n }, (_, k) => {
      let s = 0;
      for (let q = 0; q < ks; q++) s += Math.abs(layer.values[k * ks + q]);
      return s;
    });
    const idx = Array.from({ length: n }, (_, i) => i).sort((x, y) => l1[y] - l1[x] || x - y);
    for (let i = 0; i < count; i++) t[idx[i]] = 1;
  }
  return t;
}

for (const variant of (args.variants ?? 'resample,none').split(',')) {
  const t0 = performance.now();
  const aucs = new Map<string, number[][]>(); // detector → layer → per-key AUC
  let meta: { decoys: number; kernels: number }[] = [];
  for (let key = 0; key < KEYS; key++) {
    const truth = layers.map((l) => positions(l, key));
    const draw = variant === 'none' ? undefined : VARIANTS[variant];
    const published = layers.map((l, i) => {
      if (!draw) return l;
      const ks = l.shape[2] * l.shape[3];
      const stream = new KeyedStream(new Uint8Array(createHash('sha256').update(`key ${key} ${l.name}`).digest()), 'decoys');
      const d = Float32Array.from(draw(l.values, l.shape, truth[i], stream));
      const values = Float64Array.from(l.values);
      let j = 0;
      for (let k = 0; k < truth[i].length; k++) if (truth[i][k]) values.set(d.subarray(j * ks, (j++ + 1) * ks), k * ks);
      return { ...l, values };
    });
    const counts = truth.map((t) => t.reduce((a, b) => a + b, 0));
    const attackerDraw = VARIANTS[variant === 'none' ? 'resample' : variant];
    const scores = runDetectors(published, { mode: 'resample', counts, seed: key, draw: attackerDraw });
    const reports = scoreDetectors(published, scores, truth);
    meta = reports[0].layers.map((l) => ({ decoys: l.decoys, kernels: l.kernels }));
    for (const r of reports) {
      const per = aucs.get(r.detector) ?? r.layers.map(() => []);
      r.layers.forEach((l, i) => per[i].push(l.auc));
      aucs.set(r.detector, per);
    }
  }
  // Per (detector, layer): mean AUC over keys; above the K-key chance level?
  let above = 0,
    tests = 0,
    worst = { sep: 0, det: '', layer: '' };
  const byDet: Record<string, number> = {};
  const worstPerLayer: string[] = [];
  layers.forEach((l, i) => {
    const m = meta[i];
    const lim = 0.5 + (chanceSeparability(m.decoys, m.kernels - m.decoys) - 0.5) / Math.sqrt(KEYS);
    let w = { sep: 0, det: '', mean: 0 };
    for (const [det, per] of aucs) {
      if (det === 'rowColumnEffect') continue;
      const mean = per[i].reduce((a, b) => a + b, 0) / per[i].length;
      const sep = Math.max(mean, 1 - mean);
      tests++;
      if (sep > lim) {
        above++;
        byDet[det] = (byDet[det] ?? 0) + 1;
      }
      if (sep > w.sep) w = { sep, det, mean };
      if (m.decoys >= 20 && sep > worst.sep) worst = { sep, det, layer: l.name };
    }
    worstPerLayer.push(`${l.name.replace('.weight', '')} ${w.det} ${w.sep.toFixed(3)} [auc ${w.mean.toFixed(3)}] (lim ${lim.toFixed(3)})`);
  });
  const pooledish = [...aucs]
    .filter(([d]) => d !== 'rowColumnEffect')
    .map(([d, per]) => {
      const m = per.flat().reduce((a, b) => a + b, 0) / per.flat().length;
      return [d, Math.max(m, 1 - m)] as const;
    });
  pooledish.sort((a, b) => b[1] - a[1]);
  console.log(
    `== ${variant} (${strategy}, ${KEYS} keys, ${Math.round((performance.now() - t0) / 1000)} s): worst layer mean ${worst.sep.toFixed(3)} ${worst.det} ${worst.layer}; above ${above}/${tests}`,
  );
  console.log('  by detector:', JSON.stringify(Object.entries(byDet).sort((a, b) => b[1] - a[1])));
  console.log(
    '  mean-over-layers AUC:',
    pooledish
      .slice(0, 8)
      .map(([d, s]) => `${d} ${s.toFixed(3)}`)
      .join(', '),
  );
  console.log(`  ${worstPerLayer.join('\n  ')}`);
}
