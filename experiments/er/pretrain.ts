// The backbone of the disjoint-class setting (issue 14, the report's approach one): ResNet-20
// trained on the plaintext of CIFAR-10's classes 0–4 only (relabelled 0–4), the first step of
// experiments/er/disjoint.ts, which then trains on the encrypted images of classes 5–9.
// The same as `nnlock model train -a resnet20 -d DATA --classes 0-4 ...` (trainClassifier).
//
//   node --import tsx experiments/er/pretrain.ts [--epochs E] [--tag T] [--threads T]
//
// --tag names another budget: its weights are pretrained-0-4-<tag>.safetensors and its unit
// disjoint-pretrain-<tag>.json, so a longer pretraining sits beside the first one.
//
// Resumable: experiments/out/er/disjoint/pretrain.ckpt; the weights go to
// experiments/out/er/disjoint/pretrained-0-4.safetensors and the unit to
// experiments/results/er/runs/disjoint-pretrain.json (skipped when present).
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { init } from '../../src/tensor/init.ts';
import { trainClassifier } from '../../src/train/classifier.ts';

const { values } = parseArgs({
  options: { epochs: { type: 'string', default: '6' }, threads: { type: 'string', default: '1' }, tag: { type: 'string', default: '' } },
});
const suffix = values.tag ? `-${values.tag}` : '';
const DISJOINT_OUT = 'experiments/out/er/disjoint';
const PRETRAINED_0_4 = `${DISJOINT_OUT}/pretrained-0-4${suffix}.safetensors`;
const DATA = '../shared/data/cifar10';
const file = `experiments/results/er/runs/disjoint-pretrain${suffix}.json`;
const epochs = Number(values.epochs);
init({ threads: Number(values.threads) });
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
mkdirSync(DISJOINT_OUT, { recursive: true });
mkdirSync('experiments/results/er/runs', { recursive: true });

if (existsSync(file)) log(`pretrain: done (${file})`);
else {
  const t0 = performance.now();
  let trainImages = 0;
  let testImages = 0;
  const r = await trainClassifier({
    architecture: 'resnet20',
    data: `${DATA}/data_batch_1.bin,${DATA}/data_batch_2.bin,${DATA}/data_batch_3.bin`,
    test: `${DATA}/test_batch.bin`,
    classSubset: [0, 1, 2, 3, 4],
    epochs,
    batch: 128,
    lr: 0.1,
    seed: 0,
    checkpoint: `${DISJOINT_OUT}/pretrain${suffix}.ckpt`,
    log: `${DISJOINT_OUT}/pretrain${suffix}-log.json`,
    out: PRETRAINED_0_4,
    overwrite: true,
    onStart: (s) => {
      trainImages = s.trainImages;
      testImages = s.testImages;
      log(`pretrain: ${s.trainImages} training images of classes 0-4, ${s.testImages} test images${s.resuming ? ' (resuming)' : ''}`);
    },
    onEpoch: (e) => log(`pretrain: epoch ${e.epoch}/${epochs}: loss ${e.trainLoss?.toFixed(3)} train ${e.trainAccuracy?.toFixed(4)} test ${e.testAccuracy?.toFixed(4)}`),
  });
  r.model.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const unit = {
    unit: `disjoint-pretrain${suffix}`,
    architecture: 'resnet20',
    classes: [0, 1, 2, 3, 4],
    trainImages,
    testImages,
    epochs,
    batch: 128,
    lr: 0.1,
    schedule: 'cosine',
    augment: true,
    seed: 0,
    testAccuracy: r.testAccuracy,
    history: r.history,
    seconds,
    weights: PRETRAINED_0_4,
    command: `node --import tsx experiments/er/pretrain.ts --epochs ${epochs}${values.tag ? ` --tag ${values.tag}` : ''} --threads ${values.threads}`,
    equivalentCli: `nnlock model train -a resnet20 -d ${DATA}/data_batch_1.bin,${DATA}/data_batch_2.bin,${DATA}/data_batch_3.bin --test ${DATA}/test_batch.bin --classes 0-4 --epochs ${epochs} -o ${PRETRAINED_0_4}`,
  };
  writeFileSync(file, `${JSON.stringify(unit, null, 2)}\n`);
  log(`pretrain: test accuracy ${r.testAccuracy?.toFixed(4)} on classes 0-4 (${seconds.toFixed(0)} s); wrote ${file}`);
}
