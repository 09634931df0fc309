// What the trained model leaks (issue 14): the client's key recovered from each frozen-backbone
// model's adaptation network (experiments/er/frozen.ts's models), its weights alone, with the
// backbone's public input std (every model in experiments/out/er/frozen/); scored against the true key and by the PSNR of 1,000 test images
// encrypted with the true key and decrypted with the recovered one.
//
//   node --import tsx experiments/er/key-from-weights.ts
//
// Result: experiments/results/er/runs/key-from-weights.json.
import { readdirSync, writeFileSync } from 'node:fs';
import { init } from '../../src/tensor/init.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { keyFromAdapterFile } from '../../src/attacks/er-weights-files.ts';

init({ threads: 1 });
const key = deriveKey(new Uint8Array(32).fill(14), { kind: 'uniform', k: 4 });
const STD = [0.229, 0.224, 0.225];
const rows = [];
const units = readdirSync('experiments/out/er/frozen')
  .filter((f) => f.endsWith('.safetensors'))
  .map((f) => f.slice(0, -'.safetensors'.length))
  .sort();
for (const name of units) {
  const weights = `experiments/out/er/frozen/${name}.safetensors`;
  const r = await keyFromAdapterFile(weights, { std: STD, trueKey: key, images: '../shared/data/cifar10/test_batch.bin', limit: 1000 });
  process.stderr.write(`${name}: ${JSON.stringify(r)}\n`);
  rows.push({ init: name, ...r, command: `nnlock attack er-weights -w ${weights} --std ${STD.join(',')} --true-key KEY --images ../shared/data/cifar10/test_batch.bin --limit 1000` });
}
writeFileSync(
  'experiments/results/er/runs/key-from-weights.json',
  `${JSON.stringify({ command: 'node --import tsx experiments/er/key-from-weights.ts', key: 'uniform, k=4, secret 0e×32', rows }, null, 2)}\n`,
);
