// The report's decryption finding in its own setting (issue 14): does an adaptation network trained
// in front of a PRETRAINED backbone learn a recognisable decryption, and does multi-round training
// (keep the adaptation network, reload the pretrained backbone every round) make it one?
//
// Disjoint classes (the report's approach one): the backbone is ResNet-20 pretrained on the
// plaintext of CIFAR-10's classes 0–4 (experiments/er/pretrain.ts); each unit then trains on the
// encrypted images of classes 5–9 (relabelled 0–4, the same 5-way head), uniform k = 4 key.
// Seen data (the report's flawed first setting): the shared ResNet-20, pretrained on the very
// images it is then given encrypted. Every unit has the same total epochs: 1 round × E epochs
// against E rounds × 1 epoch. After every round (and after the initialisation): test accuracy, the
// adaptation output's PSNR/SSIM against the plaintext of a fixed held-out set (raw and after the
// per-channel and colour affine oracle fits), wall time, and a picture grid.
//
//   node --import tsx experiments/er/disjoint.ts [--only u1,u2] [--epochs E] [--lr X] [--tag T] [--pretrained F] [--threads T]
//
// --tag names another budget (more images or epochs, another backbone): its units are
// disjoint-<unit>-<tag>, beside the untagged ones.
//
// Units run in the order given (the key comparison first). Resumable: checkpoints under
// experiments/out/er/disjoint/<unit>/; a finished unit is experiments/results/er/runs/disjoint-<unit>.json
// (skipped when present); its grids are experiments/results/er/grids/<unit>-r<round>.png.
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from '../../src/tensor/init.ts';
import { deriveKey, describeKey, keyId } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import type { AdaptationVariant } from '../../src/er/adaptation.ts';
import { encryptedBatches, openPlaintextImages, plaintextImagesTensor } from '../../src/er/data.ts';
import { trainEncryptionRobust } from '../../src/er/train.ts';
import { decryptionDiagnostics, decryptionMetrics } from '../../src/er/diagnostics.ts';
import { evaluateAccuracy } from '../../src/train/evaluate.ts';

interface Unit {
  setting: 'disjoint' | 'seen';
  adaptation: AdaptationVariant;
  frozen: boolean;
  multi: boolean;
}
const UNITS: Record<string, Unit> = {
  'aligned-single': { setting: 'disjoint', adaptation: 'aligned', frozen: false, multi: false },
  'aligned-multi': { setting: 'disjoint', adaptation: 'aligned', frozen: false, multi: true },
  'aligned-frozen-multi': { setting: 'disjoint', adaptation: 'aligned', frozen: true, multi: true },
  'seen-aligned-multi': { setting: 'seen', adaptation: 'aligned', frozen: false, multi: true },
  'padded-multi': { setting: 'disjoint', adaptation: 'padded', frozen: false, multi: true },
  'padded-single': { setting: 'disjoint', adaptation: 'padded', frozen: false, multi: false },
  'aligned-frozen-single': { setting: 'disjoint', adaptation: 'aligned', frozen: true, multi: false },
};

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: Object.keys(UNITS).join(',') },
    epochs: { type: 'string', default: '3' },
    lr: { type: 'string', default: '0.02' },
    'adaptation-lr': { type: 'string', default: '0.1' },
    'frozen-lr': { type: 'string', default: '0.001' },
    'seen-limit': { type: 'string', default: '15000' },
    'probe-images': { type: 'string', default: '500' },
    threads: { type: 'string', default: '1' },
    // The budget: the first n training images of each unit (all ~15,000 of classes 5-9 without).
    limit: { type: 'string' },
    // A smoke run: other folders than the page's.
    results: { type: 'string', default: 'experiments/results/er' },
    out: { type: 'string', default: 'experiments/out/er/disjoint' },
    pretrained: { type: 'string', default: 'experiments/out/er/disjoint/pretrained-0-4.safetensors' },
    tag: { type: 'string', default: '' },
  },
});
const DATA = '../shared/data/cifar10';
const TRAIN = `${DATA}/data_batch_1.bin,${DATA}/data_batch_2.bin,${DATA}/data_batch_3.bin`;
const TEST = `${DATA}/test_batch.bin`;
const OUT = values.out!;
const PRETRAINED_0_4 = values.pretrained!;
const SHARED = '../shared/data/weights/resnet20-cifar10.safetensors';
const RESULTS = values.results!;
const GRIDS = `${RESULTS}/grids`;
const limit = values.limit === undefined ? undefined : Number(values.limit);
const DISJOINT_CLASSES = [5, 6, 7, 8, 9];
const totalEpochs = Number(values.epochs);
const lr = Number(values.lr);
const adaptationLr = Number(values['adaptation-lr']);
const frozenLr = Number(values['frozen-lr']);
const seenLimit = Number(values['seen-limit']);
const probeImages = Number(values['probe-images']);
init({ threads: Number(values.threads) });
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
for (const d of [OUT, GRIDS, `${RESULTS}/runs`]) mkdirSync(d, { recursive: true });
if (!existsSync(PRETRAINED_0_4)) throw new Error(`${PRETRAINED_0_4}: run experiments/er/pretrain.ts first`);

// The same fixed secret as the other units of this page (experiments/er/frozen.ts).
const key = deriveKey(new Uint8Array(32).fill(14), { kind: 'uniform', k: 4 });
const cipher = new BlockCipher(key);
const dp = (n: number | undefined, d = 2) => (n === undefined ? '—' : n.toFixed(d));

for (const name of values.only!.split(',')) {
  const u = UNITS[name];
  if (!u) throw new Error(`no unit ${name}; units: ${Object.keys(UNITS).join(', ')}`);
  const unitName = values.tag ? `${name}-${values.tag}` : name;
  const file = `${RESULTS}/runs/disjoint-${unitName}.json`;
  if (existsSync(file)) {
    log(`${name}: done (${file})`);
    continue;
  }
  const disjoint = u.setting === 'disjoint';
  const only = disjoint ? { classSubset: DISJOINT_CLASSES } : {};
  const trainSet = await openPlaintextImages(TRAIN, { split: 'train', ...only, limit: disjoint ? limit : Math.min(seenLimit, limit ?? seenLimit) });
  const testSet = await openPlaintextImages(TEST, { split: 'test', ...only, ...(disjoint ? {} : { limit: 2500 }), ...(limit ? { limit: Math.min(limit, 2500) } : {}) });
  const probe = await plaintextImagesTensor(TEST, { split: 'test', limit: probeImages, ...only });
  const test = encryptedBatches(testSet, cipher, { batch: 500, shuffle: false, workers: 0 });
  const rounds = u.multi ? totalEpochs : 1;
  const epochs = u.multi ? 1 : totalEpochs;
  const unitLr = u.frozen ? frozenLr : lr;
  const optimizer = u.frozen ? 'adam' : 'sgd';
  const t0 = performance.now();
  const perRound: Record<string, unknown>[] = [];
  let atInit: Record<string, number> = {};
  log(`${name}: ${trainSet.length} training images, ${testSet.length} test images, ${rounds} × ${epochs} epochs`);
  const r = await trainEncryptionRobust({
    architecture: 'resnet20',
    classes: trainSet.classes,
    adaptation: u.adaptation,
    cipher: key,
    init: { kind: 'default' },
    pretrained: disjoint ? PRETRAINED_0_4 : SHARED,
    freezeBackbone: u.frozen,
    train: encryptedBatches(trainSet, cipher, { batch: 128, shuffle: true, seed: 0, augment: true, workers: 1 }),
    test,
    rounds,
    epochs,
    lr: unitLr,
    // Fine-tuned: the adaptation network learns at the from-scratch rate (experiments/cipher's 0.1),
    // the pretrained backbone at the lower --lr. Frozen: Adam on the adaptation network alone.
    adaptationLr: u.frozen ? frozenLr : adaptationLr,
    optimizer,
    weightDecay: u.frozen ? 0 : 5e-4,
    seed: 0,
    checkpointDir: join(OUT, unitName),
    logFile: join(OUT, `${unitName}-log.json`),
    out: join(OUT, `${unitName}.safetensors`),
    decryptionProbe: { images: probe, grid: (round) => `${GRIDS}/${unitName}-r${round + 1}.png`, rows: 8, tileSize: 64, everyEpoch: !u.multi },
    onInit: async (_report, model) => {
      // Before any training: the pretrained backbone behind the initial adaptation network.
      const { report } = await decryptionDiagnostics(model, cipher, probe, { grid: { path: `${GRIDS}/${unitName}-r0.png`, rows: 8, tileSize: 64 } });
      atInit = { ...decryptionMetrics(report!), testAccuracy: (await evaluateAccuracy(model, test)).accuracy };
      log(`${name}: at init: accuracy ${dp(atInit.testAccuracy, 4)}, PSNR raw ${dp(atInit.decryptionPsnrRaw)} affine ${dp(atInit.decryptionPsnrAffine)} dB`);
    },
    onEpoch: (rec) =>
      log(
        `${name}: round ${rec.round} epoch ${rec.epoch}: loss ${rec.trainLoss.toFixed(3)} train ${rec.trainAccuracy.toFixed(4)} test ${dp(rec.testAccuracy, 4)}${rec.decryptionPsnrAffine === undefined ? '' : `, PSNR raw ${dp(rec.decryptionPsnrRaw)} affine ${dp(rec.decryptionPsnrAffine)} dB`}`,
      ),
    onRoundEnd: (s) => {
      perRound.push({ round: s.round + 1, testAccuracy: s.final.testAccuracy, trainAccuracy: s.final.trainAccuracy, seconds: s.seconds, ...s.metrics, grid: s.grid });
      log(
        `${name}: round ${s.round + 1}/${s.rounds}: accuracy ${dp(s.final.testAccuracy, 4)}, PSNR raw ${dp(s.metrics.decryptionPsnrRaw)} affine ${dp(s.metrics.decryptionPsnrAffine)} colour ${dp(s.metrics.decryptionPsnrColour)} dB, SSIM affine ${dp(s.metrics.decryptionSsimAffine, 3)} (${s.seconds.toFixed(0)} s)`,
      );
    },
  });
  r.model.dispose();
  probe.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const row = {
    unit: unitName,
    base: name,
    tag: values.tag,
    pretrainedWeights: disjoint ? PRETRAINED_0_4 : SHARED,
    ...u,
    backbone: disjoint ? `resnet20 pretrained on plaintext classes 0-4 (${PRETRAINED_0_4})` : `shared resnet20 (${SHARED}), trained on these images`,
    classes: disjoint ? DISJOINT_CLASSES : 'all',
    trainImages: trainSet.length,
    testImages: testSet.length,
    probeImages: Math.min(probeImages, testSet.length),
    rounds,
    epochsPerRound: epochs,
    batch: 128,
    optimizer,
    lr: unitLr,
    adaptationLr: u.frozen ? frozenLr : adaptationLr,
    augment: true,
    init: 'default',
    key: describeKey(key),
    keyId: keyId(key),
    seed: 0,
    atInit,
    perRound,
    history: r.history,
    seconds,
    command: `node --import tsx experiments/er/disjoint.ts --only ${name} --epochs ${totalEpochs} --lr ${lr} --adaptation-lr ${adaptationLr} --frozen-lr ${frozenLr} ${limit ? `--limit ${limit} ` : ''}--seen-limit ${seenLimit} --probe-images ${probeImages}${values.tag ? ` --tag ${values.tag} --pretrained ${PRETRAINED_0_4}` : ''} --threads ${values.threads}`,
  };
  writeFileSync(file, `${JSON.stringify(row, null, 2)}\n`);
  log(`${name}: done in ${(seconds / 60).toFixed(1)} min; wrote ${file}`);
}
cipher.dispose();
