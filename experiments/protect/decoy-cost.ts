// What drawing 'matched' decoys costs per layer size: one draw of ⌊N·0.08⌋ + 1 decoys in a
// synthetic [a, a, 3, 3] layer (kernels with row, column and log-normal sizes, from a keyed
// stream), for a = 64 (ResNet-20's largest), 256 and 512 (VGG19's largest). A timing: run it as
// `/work/notes/quiet.sh NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-cost.ts`.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { KeyedStream } from '../../src/crypto/index.ts';
import { type DecoyMode, drawDecoys } from '../../src/protect/decoys.ts';

const { values: args } = parseArgs({ options: { sizes: { type: 'string' }, modes: { type: 'string' } } });
const SIZES = (args.sizes ?? '64,256,512').split(',').map(Number);
const MODES = (args.modes ?? 'resample,matched').split(',') as DecoyMode[];

function layer(a: number): Float64Array {
  const s = new KeyedStream(new Uint8Array(createHash('sha256').update(`decoy cost ${a}`).digest()), 'layer');
  const z = s.normal(a * a * 9);
  const row = s.normal(a);
  const col = s.normal(a);
  const size = s.normal(a * a);
  const v = new Float64Array(a * a * 9);
  for (let k = 0; k < a * a; k++) {
    const scale = Math.exp(0.3 * row[Math.floor(k / a)] + 0.3 * col[k % a] + 0.4 * size[k]);
    for (let q = 0; q < 9; q++) v[k * 9 + q] = scale * (0.5 * z[k * 9 + 4] + z[k * 9 + q]);
  }
  return v;
}

for (const a of SIZES) {
  const values = layer(a);
  const s = new KeyedStream(new Uint8Array(32).fill(a & 255), 'positions');
  const planted = new Uint8Array(a * a);
  const perm = s.permutation(a * a);
  for (let i = 0; i < Math.floor(a * a * 0.08) + 1; i++) planted[perm[i]] = 1;
  for (const mode of MODES) {
    const t = performance.now();
    drawDecoys(values, [a, a, 3, 3], planted, new KeyedStream(new Uint8Array(32).fill(7), 'decoys'), mode);
    console.log(`${a}×${a}: ${mode} ${((performance.now() - t) / 1000).toFixed(2)} s`);
  }
}
