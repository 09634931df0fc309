// `nnlock er train | eval | show`: the Encryption-Robust CNN (an adaptation network in front of a
// backbone) trained on block-encrypted images, with single- or multi-round training, evaluation,
// and pictures of what the adaptation network learned.
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { manualSeed, noGrad, scope } from '../../tensor/index.ts';
import { div } from '../../ops/arithmetic.ts';
import { toDtype } from '../../ops/convert.ts';
import { SGD, cosine } from '../../nn/index.ts';
import { loadWeights } from '../../models/weights.ts';
import { ADAPTATION_INITS, type AdaptationInit, type AdaptationVariant } from '../../er/adaptation.ts';
import { whitenAdaptation } from '../../er/whitening.ts';
import { blockPairStatistics, recoverFromStatistics } from '../../attacks/statistical.ts';
import { recoveryAsWindowAffine } from '../../er/statistical-init.ts';
import type { EncryptionRobustModel } from '../../er/model.ts';
import { DataLoader } from '../../data/loader.ts';
import { type Dataset, subset } from '../../data/dataset.ts';
import { cifar10Files } from '../../data/cifar10.ts';
import type { BatchSource } from '../../data/batch-source.ts';
import type { CipherKey } from '../../cipher/key.ts';
import { CipherKeyError, describeKey, keyId } from '../../cipher/key.ts';
import { loadKey } from '../../cipher/key-file.ts';
import { BlockCipher } from '../../cipher/hill.ts';
import { encryptPixels, encryptedSource, readEncryptedDataset, readImagesTensor } from '../../cipher/data.ts';
import { trainingProgress } from '../progress.ts';
import { trainMultiRound } from '../../er/multi-round.ts';
import { evaluateAccuracy } from '../../train/evaluate.ts';
import { type ErModelSpec, buildBackbone, buildErModel, loadErModel, saveErModel } from '../../er/model-file.ts';
import { learnedDecryption } from '../../attacks/learned.ts';
import { intArg, learnedMarkdown, numberArg, writeCipherGrid } from './cipher.ts';

/** Comma-separated .bin files, or a CIFAR-10 folder (its train or test files). */
function dataFiles(spec: string, split: 'train' | 'test'): string[] {
  const parts = spec.split(',');
  if (parts.length === 1 && existsSync(parts[0]) && statSync(parts[0]).isDirectory()) return cifar10Files(parts[0], split);
  for (const p of parts) if (!existsSync(p)) throw new Error(`${p}: no such file`);
  return parts;
}

function triple(s: string | undefined, name: string): number[] | undefined {
  if (s === undefined) return undefined;
  const v = s.split(',').map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new Error(`${name} must be three comma-separated numbers, got '${s}'`);
  return v;
}

function limited(ds: Dataset, limit: number | undefined): Dataset {
  return limit !== undefined && limit < ds.length ? subset(ds, Array.from({ length: limit }, (_, i) => i)) : ds;
}

interface DataChoice {
  source: BatchSource;
  count: number;
  close(): void;
}

/**
 * Batches the network sees: plaintext files encrypted on the fly (after augmentation), or an
 * already encrypted dataset read as stored. No key: plaintext (normalised by mean/std when given).
 */
async function batches(o: {
  files: string[]; encrypted: boolean; key: CipherKey | null; batch: number; shuffle: boolean; seed: number;
  limit?: number; augment?: boolean; workers: number; mean?: number[]; std?: number[];
}): Promise<DataChoice> {
  if (o.encrypted) {
    if (!o.key) throw new Error('--encrypted-data needs the --key it was encrypted with');
    if (o.augment) throw new Error('--augment works on plaintext before encryption: it cannot be used with --encrypted-data');
    const { dataset } = await readEncryptedDataset(o.files, o.key.kind === 'hill256' ? undefined : o.key);
    const ds = limited(dataset, o.limit);
    const loader = new DataLoader(ds, { batchSize: o.batch, shuffle: o.shuffle, seed: o.seed, workers: o.workers });
    return { source: loader, count: ds.length, close() {} };
  }
  const { dataset } = await readEncryptedDataset(o.files);
  if (!(dataset.images instanceof Uint8Array)) throw new Error(`${o.files.join(', ')}: expected plaintext CIFAR-10 .bin files (use --encrypted-data for an encrypted dataset)`);
  const ds = limited(dataset, o.limit);
  const loader = new DataLoader(ds, {
    batchSize: o.batch, shuffle: o.shuffle, seed: o.seed, workers: o.workers,
    augment: o.augment ? { crop: { padding: 4 }, hflip: true } : undefined,
    ...(o.key ? {} : { mean: o.mean, std: o.std }),
  });
  const cipher = o.key ? new BlockCipher(o.key) : null;
  return { source: encryptedSource(loader, cipher), count: ds.length, close: () => cipher?.dispose() };
}

export function registerEr(program: Command): void {
  const er = program
    .command('er')
    .description('Encryption-Robust CNN: an adaptation network + backbone trained on block-encrypted images');

  er.command('train')
    .description('train on encrypted images (one or several rounds; each round keeps the adaptation network and restarts the backbone)')
    .option('-K, --key <file>', 'cipher key (omit for the plaintext baseline)')
    .option('-d, --data <files>', 'plaintext CIFAR-10 .bin files (comma-separated) or folder: encrypted on the fly, after --augment')
    .option('--encrypted-data <files>', 'instead of --data: a dataset already encrypted with --key (.bin for hill256, .safetensors otherwise)')
    .option('-t, --test <files>', 'plaintext CIFAR-10 test file(s) or folder, encrypted on the fly; evaluated after every epoch')
    .option('--encrypted-test <files>', 'instead of --test: an encrypted test dataset')
    .option('-a, --arch <name>', 'backbone architecture (resnet20, vgg11-bn, ...)', 'resnet20')
    .option('--adaptation <variant>', 'aligned | padded (the report\'s, off-grid) | none (default: aligned with a key, none without)')
    .option('--init <init>', 'adaptation init: whiten (the default: ZCA whitening of the training ciphertexts, no key needed) | default (PyTorch\'s random init) | identity | key-inverse (oracle: the exact inverse set from the key) | statistical (the decryption recovered from the training ciphertexts\' statistics and --prior images, no key)')
    .option('--prior <files>', '--init statistical: plaintext CIFAR-10 .bin file(s) of the same kind that are NOT the training images (their statistics decode the ciphertext)')
    .option('--whiten-images <n>', 'training images the whitening is estimated from', '10000')
    .option('--whiten-shrinkage <x>', 'whitening shrinkage ε as a fraction of the mean eigenvalue (caps the gain of directions without variance)', '0.01')
    .option('--pretrained <file>', 'backbone weights loaded at the start of every round (else a fresh init each round)')
    .option('--rounds <n>', 'training rounds', '1')
    .option('--epochs <n>', 'epochs per round', '10')
    .option('--batch <n>', 'batch size', '128')
    .option('--lr <x>', 'learning rate (cosine-annealed within each round)', '0.1')
    .option('--adaptation-lr <x>', 'learning rate of the adaptation network (default: --lr)')
    .option('--momentum <x>', 'SGD momentum', '0.9')
    .option('--weight-decay <x>', 'weight decay', '5e-4')
    .option('--augment', 'random crop (padding 4) and horizontal flip of the plaintext before encryption')
    .option('--mean <r,g,b>', 'plaintext normalisation (plaintext baseline, or folded into --init key-inverse / statistical)')
    .option('--std <r,g,b>', 'plaintext normalisation std')
    .option('--limit <n>', 'use the first n training images')
    .option('--test-limit <n>', 'use the first n test images')
    .option('--workers <n>', 'data loader worker threads', '1')
    .option('--seed <n>', 'seed', '0')
    .requiredOption('-o, --out <file>', 'model file to write (safetensors; rewritten after every round)')
    .option('--checkpoint-dir <dir>', 'resumable checkpoints, one per round')
    .option('--log <file>', 'JSON log of every round and epoch')
    .option('--quiet', 'no progress output')
    .addHelpText('after', [
      '',
      'Examples:',
      '  nnlock er train -K key.json -d ../shared/data/cifar10 -t ../shared/data/cifar10/test_batch.bin --rounds 3 --epochs 5 -o er.safetensors',
      '  nnlock er train -K key.json -d ../shared/data/cifar10 --adaptation none -o no-adapt.safetensors     (baseline)',
      '  nnlock er train -d ../shared/data/cifar10 --augment -o plain.safetensors                            (plaintext baseline)',
    ].join('\n'))
    .action(async (o: {
      key?: string; data?: string; encryptedData?: string; test?: string; encryptedTest?: string; arch: string; adaptation?: string; init?: string;
      prior?: string; whitenImages: string; whitenShrinkage: string; pretrained?: string; rounds: string; epochs: string; batch: string; lr: string; adaptationLr?: string; momentum: string; weightDecay: string;
      augment?: boolean; mean?: string; std?: string; limit?: string; testLimit?: string; workers: string; seed: string; out: string;
      checkpointDir?: string; log?: string; quiet?: boolean;
    }) => {
      const key = o.key ? await loadKey(o.key) : null;
      if (!!o.data === !!o.encryptedData) throw new Error('give exactly one of --data and --encrypted-data');
      if (o.test && o.encryptedTest) throw new Error('give at most one of --test and --encrypted-test');
      const adaptation = (o.adaptation ?? (key ? 'aligned' : 'none')) as AdaptationVariant | 'none';
      if (!['aligned', 'padded', 'none'].includes(adaptation)) throw new Error(`--adaptation must be aligned, padded or none, got '${o.adaptation}'`);
      // Whitening is the default: it learns faster than PyTorch's random init (experiments/results/cipher).
      const init = (o.init ?? (adaptation === 'none' ? 'default' : 'whiten')) as AdaptationInit | 'key-inverse';
      if (![...ADAPTATION_INITS, 'key-inverse'].includes(init)) throw new Error(`--init must be ${ADAPTATION_INITS.join(', ')} or key-inverse, got '${o.init}'`);
      if ((init === 'whiten' || init === 'statistical') && adaptation === 'none') throw new Error(`--init ${init} initialises the adaptation network: not with --adaptation none`);
      if (init === 'statistical') {
        if (!key) throw new Error('--init statistical works on ciphertexts: give --key');
        if (key.kind === 'hill256') throw new CipherKeyError('--init statistical: a hill256 cipher (mod 256) does not transform image statistics linearly');
        if (adaptation !== 'aligned') throw new Error('--init statistical needs --adaptation aligned (the recovered decryption works block by block)');
        if (!o.prior) throw new Error('--init statistical needs --prior: plaintext images of the same kind that are not the training images');
      } else if (o.prior) {
        throw new Error('--prior is only used by --init statistical');
      }
      const mean = triple(o.mean, '--mean');
      const std = triple(o.std, '--std');
      if (init === 'key-inverse') {
        if (!key) throw new Error('--init key-inverse needs --key');
        if (adaptation !== 'aligned') throw new Error('--init key-inverse needs --adaptation aligned: only the aligned network can represent the inverse');
        if (key.kind === 'hill256') throw new CipherKeyError('--init key-inverse: a hill256 cipher (mod 256) is not linear over the reals; no network weights invert it exactly');
        if (key.shuffle) throw new CipherKeyError('--init key-inverse: the adaptation network cannot undo the block shuffle (it works block by block in place)');
      } else if (key && (mean || std) && init !== 'statistical') {
        throw new Error('--mean/--std normalise plaintext; with a key they only apply to --init key-inverse or statistical');
      }
      const seed = intArg(o.seed, '--seed', 0);
      const workers = intArg(o.workers, '--workers', 0);
      const batch = intArg(o.batch, '--batch');
      const lr = numberArg(o.lr, '--lr');
      const adaptationLr = o.adaptationLr ? numberArg(o.adaptationLr, '--adaptation-lr') : lr;
      const rounds = intArg(o.rounds, '--rounds');
      const epochs = intArg(o.epochs, '--epochs');
      const spec: ErModelSpec = {
        architecture: o.arch, adaptation, k: key?.k ?? 4, channels: key?.channels ?? 3, numClasses: 10,
        init: init === 'key-inverse' ? 'default' : init,
      };
      if (adaptation !== 'none' && !key && !o.adaptation) throw new Error('an adaptation network needs the block size: give --key');

      const train = await batches({
        files: dataFiles((o.data ?? o.encryptedData)!, 'train'), encrypted: !!o.encryptedData, key, batch, shuffle: true, seed,
        limit: o.limit ? intArg(o.limit, '--limit') : undefined, augment: o.augment, workers, mean, std,
      });
      const testSpec = o.test ?? o.encryptedTest;
      const test = testSpec ? await batches({
        files: dataFiles(testSpec, 'test'), encrypted: !!o.encryptedTest, key, batch: 500, shuffle: false, seed,
        limit: o.testLimit ? intArg(o.testLimit, '--test-limit') : undefined, workers, mean, std,
      }) : null;
      const newBackbone = async (round: number) => {
        manualSeed(seed * 1000 + round);
        const b = buildBackbone(o.arch, 10);
        if (o.pretrained) await loadWeights(b, o.pretrained);
        return b;
      };
      manualSeed(seed * 1000);
      const model = buildErModel(spec);
      try {
        if (o.pretrained) await loadWeights(model.backbone, o.pretrained);
        if (init === 'key-inverse') model.adaptation!.setBlockInverse(key!.inverses, { mean, std });
        if (init === 'statistical') {
          // The training ciphertexts as stored (not augmented), against the prior's plaintext statistics.
          const cipherBatches = await batches({
            files: dataFiles((o.data ?? o.encryptedData)!, 'train'), encrypted: !!o.encryptedData, key, batch: 500, shuffle: false, seed, workers,
            limit: o.limit ? intArg(o.limit, '--limit') : undefined,
          });
          const priorBatches = await batches({ files: dataFiles(o.prior!, 'train'), encrypted: false, key: null, batch: 500, shuffle: false, seed, workers });
          try {
            const cs = await blockPairStatistics(cipherBatches.source, { k: key!.k });
            const ps = await blockPairStatistics(priorBatches.source, { k: key!.k });
            const { matrix, offset } = recoveryAsWindowAffine(recoverFromStatistics(cs, ps), { mean, std });
            model.adaptation!.setWindowAffine(matrix, offset);
            if (!o.quiet) console.error(`adaptation network set to the decryption recovered from the statistics of ${cs.images} training ciphertexts and ${ps.images} prior images (no key)`);
          } finally {
            cipherBatches.close();
            priorBatches.close();
          }
        }
        if (init === 'whiten') {
          // From the training images as stored (encrypted, not augmented), in file order.
          const maxImages = intArg(o.whitenImages, '--whiten-images');
          const plain = await batches({
            files: dataFiles((o.data ?? o.encryptedData)!, 'train'), encrypted: !!o.encryptedData, key, batch: 500, shuffle: false, seed,
            limit: Math.min(maxImages, train.count), workers, mean, std,
          });
          try {
            const w = await whitenAdaptation(model.adaptation!, plain.source, { maxImages, shrinkage: numberArg(o.whitenShrinkage, '--whiten-shrinkage') });
            if (!o.quiet) console.error(`adaptation network whitened from ${w.images} training images (window eigenvalues ${w.eigenvalueRange.map((v) => v.toExponential(2)).join(' to ')}, ε ${w.epsilon.toExponential(2)})`);
          } finally {
            plain.close();
          }
        }
        if (!o.quiet) {
          console.error(`training ${o.arch}${adaptation === 'none' ? '' : ` with a ${adaptation} adaptation network (init ${init})`} on ${train.count} ${key ? `images encrypted with the ${describeKey(key)}` : 'plaintext images'}`);
        }
        const results = await trainMultiRound({
          model, newBackbone, rounds, epochs, data: train.source, seed,
          onRound: o.quiet ? undefined : (r, n) => console.error(`round ${r + 1}/${n}${r > 0 ? ' (backbone restarted, adaptation kept)' : ''}`),
          ...trainingProgress({ quiet: o.quiet }),
          makeOptimizer: (m: EncryptionRobustModel) => {
            const backboneParams = m.backbone.parameters();
            const groups = [{ params: backboneParams, lr, weightDecay: numberArg(o.weightDecay, '--weight-decay') }];
            if (m.adaptation) groups.push({ params: m.adaptation.parameters(), lr: adaptationLr, weightDecay: 0 });
            return new SGD(groups, { lr, momentum: numberArg(o.momentum, '--momentum') });
          },
          schedule: () => {
            // Cosine per round, scaling every group by the same factor (the adaptation keeps its ratio).
            const c = cosine(1, epochs);
            return { at: (t: number) => lr * c.at(t) };
          },
          evaluate: test ? async (m) => ({ testAccuracy: (await evaluateAccuracy(m, test.source)).accuracy }) : undefined,
          checkpointDir: o.checkpointDir, logFile: o.log,
          info: { architecture: o.arch, adaptation, init, keyId: key ? keyId(key) : 'none', kind: key?.kind ?? 'none' },
          afterRound: async (round, r) => {
            await saveErModel(o.out, model, spec, key, {
              roundsCompleted: String(round + 1), epochsPerRound: String(epochs), init,
              ...(r.final.testAccuracy !== undefined ? { testAccuracy: String(r.final.testAccuracy) } : {}),
            });
          },
        });
        const summary = results.map((r) => `round ${r.round + 1}: train accuracy ${r.final.trainAccuracy?.toFixed(4)}${r.final.testAccuracy !== undefined ? `, test accuracy ${r.final.testAccuracy.toFixed(4)}` : ''}`);
        console.log(summary.join('\n'));
        console.log(`wrote ${o.out}`);
      } finally {
        train.close();
        test?.close();
        model.dispose();
      }
    });

  er.command('eval')
    .description('test accuracy of a trained model on encrypted images; optionally how well its adaptation network decrypts')
    .requiredOption('-m, --model <file>', 'model file from `nnlock er train`')
    .option('-K, --key <file>', 'the key it was trained for (omit for a plaintext model)')
    .option('-d, --data <files>', 'plaintext CIFAR-10 test file(s) or folder, encrypted on the fly')
    .option('--encrypted-data <files>', 'instead of --data: an encrypted dataset')
    .option('--limit <n>', 'first n images')
    .option('--decryption', 'also score the adaptation output against the plaintext (PSNR/SSIM, first 1000 images)')
    .option('--mean <r,g,b>', 'plaintext normalisation of a plaintext model')
    .option('--std <r,g,b>', 'plaintext normalisation std')
    .option('--json', 'print the result as JSON')
    .action(async (o: { model: string; key?: string; data?: string; encryptedData?: string; limit?: string; decryption?: boolean; mean?: string; std?: string; json?: boolean }) => {
      if (!!o.data === !!o.encryptedData) throw new Error('give exactly one of --data and --encrypted-data');
      const key = o.key ? await loadKey(o.key) : null;
      const { model, spec } = await loadErModel(o.model, key);
      const files = dataFiles((o.data ?? o.encryptedData)!, 'test');
      const data = await batches({
        files, encrypted: !!o.encryptedData, key, batch: 500, shuffle: false, seed: 0, workers: 1,
        limit: o.limit ? intArg(o.limit, '--limit') : undefined, mean: triple(o.mean, '--mean'), std: triple(o.std, '--std'),
      });
      try {
        const t0 = performance.now();
        const { accuracy, count } = await evaluateAccuracy(model, data.source);
        const seconds = (performance.now() - t0) / 1000;
        const out: Record<string, unknown> = { model: o.model, accuracy, images: count, seconds, adaptation: spec.adaptation, keyId: key ? keyId(key) : 'none' };
        let md = '';
        if (o.decryption) {
          if (!key || !model.adaptation || !o.data) throw new Error('--decryption needs a key, a model with an adaptation network and plaintext --data');
          const bc = new BlockCipher(key);
          const { x } = await readImagesTensor(files[0], { limit: 1000 });
          try {
            const report = noGrad(() => scope(() => {
              const plain = div(toDtype(x, 'float32'), 255);
              return learnedDecryption(model, encryptPixels(plain, bc), plain);
            }));
            out.decryption = report;
            md = learnedMarkdown(o.model, spec.adaptation, key, report);
          } finally {
            x.dispose();
            bc.dispose();
          }
        }
        if (o.json) console.log(JSON.stringify(out, null, 2));
        else {
          console.log(`accuracy ${accuracy.toFixed(4)} on ${count} ${key ? 'encrypted ' : ''}images (${spec.architecture}, adaptation ${spec.adaptation}; ${seconds.toFixed(1)} s)`);
          if (md) console.log(`\n${md}`);
        }
      } finally {
        data.close();
        model.dispose();
      }
    });

  er.command('show')
    .description('PNG grid of a few test images: ciphertext, adaptation output (raw and affine-fitted), plaintext')
    .requiredOption('-m, --model <file>', 'model file from `nnlock er train`')
    .requiredOption('-K, --key <file>', 'the key it was trained for')
    .requiredOption('-d, --data <file>', 'plaintext images: a CIFAR-10 .bin file')
    .option('--count <n>', 'images (rows)', '8')
    .requiredOption('-o, --out <file>', 'PNG to write')
    .action(async (o: { model: string; key: string; data: string; count: string; out: string }) => {
      const key = await loadKey(o.key);
      const { model } = await loadErModel(o.model, key);
      const bc = new BlockCipher(key);
      const count = intArg(o.count, '--count');
      const { x } = await readImagesTensor(dataFiles(o.data, 'test')[0], { limit: Math.max(count, 256) });
      try {
        await writeCipherGrid(o.out, model, bc, x, count);
        console.log(`wrote ${o.out}${model.adaptation ? '' : ' (the model has no adaptation network: ciphertext and plaintext only)'}`);
      } finally {
        x.dispose();
        bc.dispose();
        model.dispose();
      }
    });
}
