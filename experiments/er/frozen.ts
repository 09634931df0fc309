// Plaintext accuracy on ciphertext with a frozen backbone (issue 14): the shared ResNet-20
// (0.8122 on the shared CIFAR-10 test set), frozen, behind an aligned adaptation network that
// learns from labeled ciphertext only (training images of data_batch_1/2, encrypted on the fly),
// evaluated on the 5,000 encrypted test images. One unit per initialisation of the adaptation
// network: default, whiten, statistical (prior: data_batch_3, never trained on), and key-inverse
// (the oracle, evaluated without training, as a check).
//
//   node --import tsx experiments/er/frozen.ts [--limit N] [--epochs E] [--lr X] [--optimizer sgd|adam] [--only a,b] [--tag T] [--threads T]
//
// --tag names a variant (another budget or learning rate): its units are frozen-<init>-<tag>.
//
// Resumable: checkpoints under experiments/out/er/frozen/<init>/; a finished unit is stored as
// experiments/results/er/runs/frozen-<init>.json and skipped on rerun. The trained models stay in
// experiments/out/er/frozen/<init>.safetensors (the key-from-weights attack reads them).
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from '../../src/tensor/init.ts';
import { deriveKey, describeKey, keyId } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptedBatches, openPlaintextImages } from '../../src/er/data.ts';
import { type ErInit, trainEncryptionRobust } from '../../src/er/train.ts';
import { buildErModel } from '../../src/er/model-file.ts';
import { loadWeights } from '../../src/models/weights.ts';
import { evaluateAccuracy } from '../../src/train/evaluate.ts';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '5000' },
    epochs: { type: 'string', default: '1' },
    only: { type: 'string', default: 'key-inverse,statistical,whiten,default' },
    threads: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.01' },
    tag: { type: 'string', default: '' },
    optimizer: { type: 'string', default: 'sgd' },
  },
});
const DATA = '../shared/data/cifar10';
const TRAIN = `${DATA}/data_batch_1.bin,${DATA}/data_batch_2.bin`;
const PRIOR = `${DATA}/data_batch_3.bin`;
const TEST = `${DATA}/test_batch.bin`;
const PRETRAINED = '../shared/data/weights/resnet20-cifar10.safetensors';
const PLAINTEXT_ACCURACY = 0.8122;
const NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const limit = Number(values.limit);
const epochs = Number(values.epochs);
const lr = Number(values.lr);
init({ threads: Number(values.threads) });
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const out = 'experiments/out/er/frozen';
mkdirSync(out, { recursive: true });
mkdirSync('experiments/results/er/runs', { recursive: true });

// A fixed secret so the figures reproduce (the same key as experiments/er/fold.ts's uniform one).
const key = deriveKey(new Uint8Array(32).fill(14), { kind: 'uniform', k: 4 });
const cipher = new BlockCipher(key);
const trainSet = await openPlaintextImages(TRAIN, { split: 'train', limit });
const testSet = await openPlaintextImages(TEST, { split: 'test' });
const test = encryptedBatches(testSet, cipher, { batch: 500, shuffle: false, workers: 0 });

for (const name of values.only!.split(',')) {
  const unit = values.tag ? `${name}-${values.tag}` : name;
  const file = `experiments/results/er/runs/frozen-${unit}.json`;
  if (existsSync(file)) {
    log(`${name}: done (${file})`);
    continue;
  }
  const t0 = performance.now();
  let result: Record<string, unknown>;
  if (name === 'key-inverse') {
    // The oracle: the exact inverse from the key, no training.
    const model = buildErModel({ architecture: 'resnet20', adaptation: 'aligned', k: 4, channels: 3, numClasses: 10, init: 'default' });
    await loadWeights(model.backbone, PRETRAINED);
    model.adaptation!.setBlockInverse(key.inverses, NORM);
    const { accuracy, count } = await evaluateAccuracy(model, test);
    model.dispose();
    result = { init: name, labeledImages: 0, epochs: 0, testAccuracy: accuracy, testImages: count };
  } else {
    const stored = { batch: 500, shuffle: false, workers: 0 };
    let erInit: ErInit;
    if (name === 'statistical') {
      const prior = await openPlaintextImages(PRIOR, { split: 'train' });
      erInit = { kind: 'statistical', ciphertexts: encryptedBatches(trainSet, cipher, stored), prior: encryptedBatches(prior, null, stored), norm: NORM };
    } else if (name === 'whiten') erInit = { kind: 'whiten', source: encryptedBatches(trainSet, cipher, stored), maxImages: limit };
    else if (name === 'default') erInit = { kind: 'default' };
    else if (name === 'identity') erInit = { kind: 'identity' };
    else throw new Error(`no unit ${name}`);
    let initAccuracy: number | undefined;
    const r = await trainEncryptionRobust({
      architecture: 'resnet20',
      adaptation: 'aligned',
      cipher: key,
      init: erInit,
      pretrained: PRETRAINED,
      freezeBackbone: true,
      train: encryptedBatches(trainSet, cipher, { batch: 128, shuffle: true, seed: 0, workers: 1 }),
      test,
      epochs,
      lr,
      optimizer: values.optimizer as 'sgd' | 'adam',
      weightDecay: 0,
      seed: 0,
      checkpointDir: join(out, unit),
      logFile: join(out, `${unit}-log.json`),
      out: join(out, `${unit}.safetensors`),
      onInit: async (_report, model) => {
        log(`${name}: initialised in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        // The initialised model, before any training (the model is in training mode: evaluateAccuracy switches and restores it).
        initAccuracy = (await evaluateAccuracy(model, test)).accuracy;
        log(`${name}: accuracy before training ${initAccuracy.toFixed(4)}`);
      },
      onEpoch: (rec) => log(`${name}: epoch ${rec.epoch}: loss ${rec.trainLoss.toFixed(3)} train ${rec.trainAccuracy.toFixed(4)} test ${rec.testAccuracy?.toFixed(4)}`),
    });
    r.model.dispose();
    const last = r.history[r.history.length - 1];
    result = {
      unit,
      init: name,
      labeledImages: trainSet.length,
      epochs,
      lr,
      optimizer: values.optimizer,
      testAccuracy: last.testAccuracy,
      testImages: testSet.length,
      initAccuracy,
      history: r.history,
    };
  }
  const seconds = (performance.now() - t0) / 1000;
  const accuracy = result.testAccuracy as number;
  const row = {
    ...result,
    ratio: accuracy / PLAINTEXT_ACCURACY,
    plaintextAccuracy: PLAINTEXT_ACCURACY,
    key: describeKey(key),
    keyId: keyId(key),
    seed: 0,
    seconds,
    command: `node --import tsx experiments/er/frozen.ts --limit ${limit} --epochs ${epochs} --lr ${lr} --optimizer ${values.optimizer} --only ${name}${values.tag ? ` --tag ${values.tag}` : ''} --threads ${values.threads}`,
  };
  writeFileSync(file, `${JSON.stringify(row, null, 2)}\n`);
  log(`${name}: accuracy ${accuracy.toFixed(4)} = ${(accuracy / PLAINTEXT_ACCURACY).toFixed(4)} of plaintext (${seconds.toFixed(0)} s); wrote ${file}`);
}
cipher.dispose();
