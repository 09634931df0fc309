// Scratch bench beside decoy-variants.ts: tier 0 (accuracy on the first 2,000 CIFAR-10 test images)
// of ResNet-20 with decoys of two variants in the L1-selected 8% of every conv layer, 8 keys.
//   NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-variants-tier0.ts
import { createHash } from 'node:crypto';
import { KeyedStream } from '../../src/crypto/index.ts';
import { convLayers } from '../../src/protect/index.ts';
import { bytesToFloat64, float64ToBytes } from '../../src/protect/layers.ts';
import { selectedCount } from '../../src/protect/selection.ts';
import { modelSpec } from '../../src/models/index.ts';
import { RESNET20, correctOn, loadIntoModel, readWeights, testLoader } from './common.ts';
import { VARIANTS } from './decoy-variant-draws.ts';
const file = await readWeights(RESNET20);
const loader = await testLoader(0, 2000);
for (const variant of ['r-ctx', 'resample']) {
  const acc: number[] = [];
  for (let key = 0; key < 8; key++) {
    const tensors = new Map(file.tensors);
    for (const l of convLayers(file.tensors)) {
      const e = file.tensors.get(l.name)!;
      const v = bytesToFloat64(e.data, l.dtype);
      const [a, b] = l.shape;
      const n = a * b;
      const ks = l.shape[2] * l.shape[3];
      const l1 = Array.from({ length: n }, (_, k) => {
        let s = 0;
        for (let q = 0; q < ks; q++) s += Math.abs(v[k * ks + q]);
        return s;
      });
      const idx = Array.from({ length: n }, (_, i) => i).sort((x, y) => l1[y] - l1[x] || x - y);
      const t = new Uint8Array(n);
      for (let i = 0; i < selectedCount(n, 0.08); i++) t[idx[i]] = 1;
      const st = new KeyedStream(new Uint8Array(createHash('sha256').update(`key ${key} ${l.name}`).digest()), 'decoys');
      const d = VARIANTS[variant](v, l.shape, t, st);
      const out = Float64Array.from(v);
      let j = 0;
      for (let k = 0; k < n; k++) if (t[k]) out.set(d.subarray(j * ks, (j++ + 1) * ks), k * ks);
      tensors.set(l.name, { ...e, data: float64ToBytes(out, l.dtype) });
    }
    const model = modelSpec('resnet20').create();
    loadIntoModel(model, { ...file, tensors });
    acc.push((await correctOn(model, loader)) / 2000);
    model.dispose();
  }
  console.log(variant, acc.map((x) => x.toFixed(3)).join(' '), 'mean', (acc.reduce((x, y) => x + y) / acc.length).toFixed(3));
}
