// Exact absorption (issue 14): a ConvMixer trained on the shared CIFAR-10 plaintext, a Hill key of
// its patch size folded into its patch embedding (src/er/fold.ts), accuracy of the plaintext model
// on plaintext against the folded model on ciphertext (the same 5,000 test images), and the key
// recovered by someone holding both weights.
//
//   node --import tsx experiments/er/fold.ts [--epochs N] [--limit N] [--arch convmixer-...]
//
// Resumable: training checkpoints every epoch under experiments/out/er/fold/; the trained weights
// are kept there, so a rerun only re-folds and re-evaluates. Result: experiments/results/er/runs/fold.json.
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from '../../src/tensor/init.ts';
import { noGrad, scope } from '../../src/tensor/index.ts';
import { trainClassifier } from '../../src/train/classifier.ts';
import { openModel } from '../../src/models/load.ts';
import type { ConvMixer } from '../../src/models/convmixer.ts';
import { normalisationFrom } from '../../src/data/normalisation.ts';
import { openDataset } from '../../src/data/open.ts';
import { deriveKey, describeKey, keyId } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptedBatches } from '../../src/er/data.ts';
import { evaluateAccuracy } from '../../src/train/evaluate.ts';
import { foldCipherIntoPatchEmbedding, foldNormalisation, keyRelativeError, patchWeightsOf, recoverKeyFromFold } from '../../src/er/fold.ts';
import { max } from '../../src/ops/reduction.ts';
import { abs, sub } from '../../src/ops/arithmetic.ts';
import type { Batch, BatchSource } from '../../src/data/batch-source.ts';

const { values } = parseArgs({
  options: { epochs: { type: 'string', default: '4' }, limit: { type: 'string' }, arch: { type: 'string', default: 'convmixer-128x4-p4' }, threads: { type: 'string', default: '1' } },
});
const DATA = '../shared/data/cifar10';
const TEST = `${DATA}/test_batch.bin`;
const out = 'experiments/out/er/fold';
mkdirSync(out, { recursive: true });
init({ threads: Number(values.threads) });
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const weights = join(out, `${values.arch}.safetensors`);
const t0 = performance.now();
let history: Record<string, number>[] = [];
if (!existsSync(weights)) {
  const r = await trainClassifier({
    architecture: values.arch!,
    data: DATA,
    test: TEST,
    epochs: Number(values.epochs),
    limit: values.limit ? Number(values.limit) : undefined,
    batch: 128,
    lr: 0.05,
    seed: 0,
    checkpoint: join(out, 'train.ckpt'),
    log: join(out, 'train-log.json'),
    out: weights,
    onEpoch: (rec) => log(`epoch ${rec.epoch}: loss ${rec.trainLoss?.toFixed(3)} train ${rec.trainAccuracy?.toFixed(4)} test ${rec.testAccuracy?.toFixed(4)}`),
  });
  history = r.history;
  r.model.dispose();
}
const trainSeconds = (performance.now() - t0) / 1000;

const { model: plainModule, metadata } = await openModel(weights);
const plain = plainModule as ConvMixer;
const norm = normalisationFrom(metadata);
// A fixed secret, so the figures reproduce; uniform and orthogonal keys of the patch size.
const rows = [];
for (const kind of ['uniform', 'orthogonal'] as const) {
  const key = deriveKey(new Uint8Array(32).fill(14), { kind, k: plain.patch });
  const { model: f } = await openModel(weights);
  const fm = f as ConvMixer;
  const t1 = performance.now();
  foldCipherIntoPatchEmbedding(fm.patchEmbedding, key, norm);
  const foldSeconds = (performance.now() - t1) / 1000;
  const cipher = new BlockCipher(key);
  const test = await openDataset(TEST, { split: 'test' });
  const plainAcc = await evaluateAccuracy(plain, encryptedBatches(test, null, { batch: 500, shuffle: false, workers: 0, mean: norm.mean, std: norm.std }));
  const cipherAcc = await evaluateAccuracy(fm, encryptedBatches(test, cipher, { batch: 500, shuffle: false, workers: 0 }));
  // Largest logit difference on the first 500 test images.
  let maxLogitDiff = 0;
  const pb = await firstBatch(encryptedBatches(test, null, { batch: 500, shuffle: false, workers: 0, mean: norm.mean, std: norm.std }));
  const cb = await firstBatch(encryptedBatches(test, cipher, { batch: 500, shuffle: false, workers: 0 }));
  maxLogitDiff = noGrad(() => scope(() => max(abs(sub(plain.forward(pb.x), fm.forward(cb.x)))).item()));
  for (const t of [pb.x, pb.y, cb.x, cb.y]) t.dispose();
  // The unfolded plaintext model fed ciphertext: what the fold is needed for.
  const unfolded = await evaluateAccuracy(plain, encryptedBatches(test, cipher, { batch: 500, shuffle: false, workers: 0 }));
  const recovered = recoverKeyFromFold(foldNormalisation(patchWeightsOf(plain.patchEmbedding), norm), patchWeightsOf(fm.patchEmbedding));
  const keyErr = keyRelativeError(recovered, key);
  const row = {
    kind,
    key: describeKey(key),
    keyId: keyId(key),
    plaintextAccuracy: plainAcc.accuracy,
    ciphertextAccuracy: cipherAcc.accuracy,
    images: plainAcc.count,
    unfoldedOnCiphertext: unfolded.accuracy,
    maxLogitDiff,
    foldSeconds,
    keyFromBothRelError: keyErr,
  };
  log(JSON.stringify(row));
  rows.push(row);
  cipher.dispose();
  fm.dispose();
}
plain.dispose();
const result = {
  command: `node --import tsx experiments/er/fold.ts --epochs ${values.epochs}${values.limit ? ` --limit ${values.limit}` : ''} --arch ${values.arch} --threads ${values.threads}`,
  architecture: values.arch,
  epochs: Number(values.epochs),
  trainImages: values.limit ? Number(values.limit) : 30000,
  seed: 0,
  secret: '0e×32 (fixed)',
  trainSeconds,
  history,
  rows,
};
mkdirSync('experiments/results/er/runs', { recursive: true });
writeFileSync('experiments/results/er/runs/fold.json', `${JSON.stringify(result, null, 2)}\n`);
log('wrote experiments/results/er/runs/fold.json');

async function firstBatch(source: BatchSource): Promise<Batch> {
  for await (const b of source.epoch(0)) return b;
  throw new Error('no batch');
}
