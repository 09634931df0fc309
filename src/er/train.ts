// Training an Encryption-Robust model, the whole recipe in one function: build the model (an
// adaptation network in front of a backbone), initialise the adaptation network, then train in
// rounds (each round keeps the adaptation network and restarts the backbone) with SGD, a separate
// learning rate for the adaptation network and a cosine schedule per round; evaluate after every
// epoch, checkpoint (resumable), and save the model file after every round.
//
// `nnlock er train` and the cipher experiments (experiments/cipher/train-config.ts) both call it,
// so the same configuration gives the same history whichever way it is run.
//
// Seeds (kept from the recorded experiments, so their figures reproduce): the engine is seeded with
// seed·1000 before the model is built (every configuration starts from the same backbone at round
// 0) and with seed·1000 + r before the backbone of round r is built; round r trains with seed
// seed·7919 + r (src/er/multi-round.ts); the data order is the BatchSource's own.
import { type Tensor, manualSeed, parseDevice } from '../tensor/index.ts';
import { BlockCipher } from '../cipher/hill.ts';
import { decryptionDiagnostics, decryptionMetrics } from './diagnostics.ts';
import { Adam, type Module, SGD, cosine } from '../nn/index.ts';
import type { BatchSource } from '../data/batch-source.ts';
import type { EpochProgress, StepProgress } from '../train/loop.ts';
import { evaluateAccuracy } from '../train/evaluate.ts';
import { loadWeights } from '../models/weights.ts';
import { type CipherKey, CipherKeyError, keyId } from '../cipher/key.ts';
import { type StatisticalRecovery, blockPairStatistics, recoverFromStatistics } from '../attacks/statistical.ts';
import type { AdaptationVariant } from './adaptation.ts';
import type { EncryptionRobustModel } from './model.ts';
import { type ErModelSpec, buildBackbone, buildErModel, saveErModel } from './model-file.ts';
import { type RoundResult, trainMultiRound } from './multi-round.ts';
import { type WhiteningReport, whitenAdaptation } from './whitening.ts';
import { recoveryAsWindowAffine } from './statistical-init.ts';
import type { ProcessGroup } from '../distributed/index.ts';

/** Plaintext normalisation: per-channel mean and std of pixels in [0, 1]. */
export interface Normalisation {
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * How the adaptation network starts, with what each start needs:
 *   default      PyTorch's random initialisation
 *   identity     the identity map (a one-pixel shift for the padded variant)
 *   whiten       ZCA whitening of the windows of `source` (the training ciphertexts as stored:
 *                unaugmented, unshuffled), the first `maxImages` images; no key needed
 *   statistical  the decryption recovered from the statistics of `ciphertexts` (the training
 *                ciphertexts) against `prior` (plaintext images of the same kind that are not the
 *                training images); no key needed; `norm` folds the backbone's input normalisation in
 *   key-inverse  the exact inverse of the cipher, from `config.cipher` (an oracle: it uses the key)
 */
export type ErInit =
  | { kind: 'default' }
  | { kind: 'identity' }
  | { kind: 'whiten'; source: BatchSource; maxImages?: number; shrinkage?: number }
  | { kind: 'statistical'; ciphertexts: BatchSource; prior: BatchSource; norm?: Normalisation }
  | { kind: 'key-inverse'; norm?: Normalisation };

export type ErInitName = ErInit['kind'];
export const ER_INITS: readonly ErInitName[] = ['default', 'identity', 'whiten', 'statistical', 'key-inverse'];

/** What the initialisation did, for the caller's report. */
export type ErInitReport =
  | { kind: 'default' | 'identity' | 'key-inverse' }
  | ({ kind: 'whiten' } & WhiteningReport)
  | { kind: 'statistical'; cipherImages: number; priorImages: number; seconds: number; recovery: StatisticalRecovery };

/** One epoch's record: train()'s (epoch 1-based, lr, trainLoss, trainAccuracy, seconds, ...) with its round (1-based) and the evaluation's. */
export interface ErEpochRecord extends Record<string, number> {
  round: number;
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
}

/** How well the adaptation network decrypts after each round (ErTrainConfig.decryptionProbe). */
export interface DecryptionProbe {
  /** Held-out plaintext images [N, C, H, W] (uint8 bytes, or float pixels in [0, 1]), encrypted with the config's cipher; the caller keeps them alive and disposes them. */
  images: Tensor;
  /** A PNG picture grid for round r (0-based) is written to grid(r) (decryptionDiagnostics' grid). */
  grid?: (round: number) => string;
  /** Also after every epoch, into the epoch's record (no grid): a single long round is then seen epoch by epoch. */
  everyEpoch?: boolean;
  /** Rows of the grid (default 8) and the side of one tile in pixels (writeImageGrid's default without). */
  rows?: number;
  tileSize?: number;
}

/** A finished round: its last epoch and what the decryption probe measured. */
export interface ErRoundSummary extends ErRoundProgress {
  final: Record<string, number>;
  /** decryptionMetrics of the probe (empty without one). */
  metrics: Record<string, number>;
  /** The grid written, if asked. */
  grid?: string;
  /** Wall time of the round, seconds (its training and evaluation; not the probe). */
  seconds: number;
}

export interface ErRoundProgress {
  /** 0-based round, of `rounds`. */
  round: number;
  rounds: number;
}

export interface ErTrainConfig {
  /** Backbone architecture (a src/models/registry.ts classifier name, e.g. resnet20). */
  architecture: string;
  /** Default: as many as `classes`, else 10. */
  numClasses?: number;
  /** Where the model trains: 'cpu' (default), 'cuda', 'cuda:i' (checked before any work). */
  device?: string;
  /** The class names of the training data (label i = classes[i]), saved in the model file. */
  classes?: readonly string[];
  /** The adaptation network in front of the backbone, or 'none' (the baseline). */
  adaptation: AdaptationVariant | 'none';
  /**
   * The key the images are encrypted with, or null/absent for plaintext: it sets the block size
   * and channels of the adaptation network, its id is written into the model file, and the
   * key-inverse init reads its inverse.
   */
  cipher?: CipherKey | null;
  /** Block size and channels without a cipher (default 4 and 3). */
  k?: number;
  channels?: number;
  /** Default { kind: 'default' }. */
  init?: ErInit;
  /** Training batches (encryptedBatches makes them). */
  train: BatchSource;
  /** Held-out batches, evaluated after every epoch (testAccuracy and evalSeconds in the record). */
  test?: BatchSource;
  /** Default 1. */
  rounds?: number;
  /** Epochs per round. */
  epochs: number;
  /** Backbone learning rate, cosine-annealed to 0 within each round (default 0.1). */
  lr?: number;
  /** The adaptation network's learning rate (default lr); it keeps its ratio to lr under the schedule. */
  adaptationLr?: number;
  /** Default 0.9 (SGD). */
  momentum?: number;
  /**
   * 'sgd' (the default, with momentum) or 'adam' (β 0.9/0.999; suits a frozen backbone, where only
   * the adaptation network's linear map learns and SGD's safe step size depends on the key's scale).
   */
  optimizer?: 'sgd' | 'adam';
  /** Backbone weight decay (default 5e-4; the adaptation network has none). */
  weightDecay?: number;
  /** Default 0 (see the seeds in the file comment). */
  seed?: number;
  /** Backbone weights (safetensors) loaded at the start of every round; else a fresh init each round. */
  pretrained?: string;
  /**
   * Keep the backbone fixed (needs `pretrained`): only the adaptation network learns, the backbone
   * stays in eval mode with its pretrained batch-norm statistics (EncryptionRobustModel.freezeBackbone).
   */
  freezeBackbone?: boolean;
  /** Folder of resumable checkpoints, round-<r>.ckpt. */
  checkpointDir?: string;
  /** JSON log of every round and epoch, rewritten after each round. */
  logFile?: string;
  /** Model file (safetensors) written after every round. */
  out?: string;
  /** Extra metadata for the model file (roundsCompleted, epochsPerRound, init and testAccuracy are the recipe's). */
  metadata?: Record<string, string>;
  /** Recorded in checkpoints and the log (default: architecture, adaptation, init, keyId, kind). */
  info?: Record<string, string>;
  /** After the initialisation, before training (with the model, e.g. to evaluate the initialised model). */
  onInit?: (report: ErInitReport, model: EncryptionRobustModel) => void | Promise<void>;
  /**
   * After every round, score the adaptation output against these held-out plaintext images
   * (PSNR/SSIM raw and after the affine oracle fits: decryptionMetrics), into the round's
   * `metrics`, the log and onRoundEnd; optionally a picture grid per round. Needs a real-valued
   * `cipher` and an adaptation network.
   */
  decryptionProbe?: DecryptionProbe;
  /** At the start of each round. */
  onRound?: (p: ErRoundProgress) => void;
  /** At the end of each round, after the model file is written and the probe has run. */
  onRoundEnd?: (summary: ErRoundSummary) => void | Promise<void>;
  /** After every step: the epoch's running means. */
  onStep?: (p: StepProgress & ErRoundProgress) => void;
  /** After every epoch and its evaluation. */
  onEpoch?: (record: ErEpochRecord, p: EpochProgress & ErRoundProgress) => void;
  /** When a round resumes from its checkpoint after `epoch` finished epochs. */
  onResume?: (epoch: number, checkpoint: string) => void;
  /** Train data-parallel in this group; `train` must then be this rank's shard (encryptedBatches' `shard`). */
  group?: ProcessGroup;
}

export interface ErTrainResult {
  /** The trained model (eval mode); the caller disposes it. */
  model: EncryptionRobustModel;
  /** How to rebuild it (what the model file says). */
  spec: ErModelSpec;
  /** Every epoch of every round, in order. */
  history: ErEpochRecord[];
  /** Per round: its epochs and its last epoch. */
  rounds: RoundResult[];
  init: ErInitReport;
}

/** Trains an Encryption-Robust model as `config` says (see the file comment and ErTrainConfig). */
export async function trainEncryptionRobust(config: ErTrainConfig): Promise<ErTrainResult> {
  const device = parseDevice(config.device ?? 'cpu');
  const key = config.cipher ?? null;
  const init = config.init ?? { kind: 'default' };
  checkErInit(init, config.adaptation, key);
  if (config.optimizer !== undefined && config.optimizer !== 'sgd' && config.optimizer !== 'adam') throw new RangeError(`optimizer must be 'sgd' or 'adam', got '${config.optimizer}'`);
  if (config.freezeBackbone && !config.pretrained) throw new RangeError('freezeBackbone keeps the backbone as it is: give pretrained backbone weights');
  if (config.freezeBackbone && config.adaptation === 'none') throw new RangeError('freezeBackbone with no adaptation network leaves nothing to train');
  if (config.decryptionProbe && (!key || config.adaptation === 'none'))
    throw new RangeError('decryptionProbe scores the adaptation network against the plaintext: it needs the cipher and an adaptation network');
  if (config.decryptionProbe && key?.kind === 'hill256') throw new CipherKeyError('decryptionProbe: a hill256 cipher (mod 256) has no learned decryption to score by PSNR here');
  const { rounds = 1, epochs, lr = 0.1, momentum = 0.9, weightDecay = 5e-4, seed = 0 } = config;
  const adaptationLr = config.adaptationLr ?? lr;
  const spec: ErModelSpec = {
    architecture: config.architecture,
    adaptation: config.adaptation,
    k: key?.k ?? config.k ?? 4,
    channels: key?.channels ?? config.channels ?? 3,
    numClasses: config.numClasses ?? config.classes?.length ?? 10,
    init: init.kind === 'key-inverse' ? 'default' : init.kind,
    ...(config.classes ? { classes: config.classes } : {}),
  };
  const newBackbone = async (round: number): Promise<Module> => {
    manualSeed(seed * 1000 + round);
    const b = buildBackbone(spec.architecture, spec.numClasses);
    if (config.pretrained) await loadWeights(b, config.pretrained);
    return b.to(device);
  };
  manualSeed(seed * 1000);
  const model = buildErModel(spec);
  const probeCipher = config.decryptionProbe && key ? new BlockCipher(key) : null;
  let roundStart = performance.now();
  try {
    if (config.pretrained) await loadWeights(model.backbone, config.pretrained);
    if (config.freezeBackbone) model.freezeBackbone();
    const initReport = await initialise(model, init, key);
    model.to(device); // initialised on the CPU (from JavaScript numbers), trained on the device
    await config.onInit?.(initReport, model);
    let round = 0;
    const at = (p: object) => ({ ...p, round, rounds });
    const results = await trainMultiRound({
      model,
      newBackbone,
      rounds,
      epochs,
      data: config.train,
      seed,
      makeOptimizer: (m) => {
        const groups = m.backboneFrozen ? [] : [{ params: m.backbone.parameters(), lr, weightDecay }];
        if (m.adaptation) groups.push({ params: m.adaptation.parameters(), lr: adaptationLr, weightDecay: 0 });
        return config.optimizer === 'adam' ? new Adam(groups, { lr }) : new SGD(groups, { lr, momentum });
      },
      // Cosine from lr to 0 within each round; every group follows in proportion (Optimizer.lr).
      schedule: () => cosine(lr, epochs),
      evaluate:
        config.test || config.decryptionProbe?.everyEpoch
          ? async (m) => {
              const record: Record<string, number> = {};
              if (config.test) {
                const t0 = performance.now();
                record.testAccuracy = (await evaluateAccuracy(m, config.test)).accuracy;
                record.evalSeconds = (performance.now() - t0) / 1000;
              }
              if (config.decryptionProbe?.everyEpoch && probeCipher) {
                const { report } = await decryptionDiagnostics(model, probeCipher, config.decryptionProbe.images);
                if (report) Object.assign(record, decryptionMetrics(report));
              }
              return record;
            }
          : undefined,
      checkpointDir: config.checkpointDir,
      logFile: config.logFile,
      info: config.info ?? { architecture: spec.architecture, adaptation: spec.adaptation, init: init.kind, keyId: key ? keyId(key) : 'none', kind: key?.kind ?? 'none' },
      onRound: (r) => {
        round = r;
        roundStart = performance.now();
        config.onRound?.({ round, rounds });
      },
      onStep: config.onStep && ((p) => config.onStep!(at(p) as StepProgress & ErRoundProgress)),
      onEpoch: config.onEpoch && ((record, p) => config.onEpoch!({ ...record, round: round + 1 } as ErEpochRecord, at(p) as EpochProgress & ErRoundProgress)),
      onResume: config.onResume,
      group: config.group,
      afterRound: async (r, result) => {
        const seconds = (performance.now() - roundStart) / 1000;
        if (config.out) {
          await saveErModel(config.out, model, spec, key, {
            ...(config.metadata ?? {}),
            roundsCompleted: String(r + 1),
            epochsPerRound: String(epochs),
            init: init.kind,
            ...(config.freezeBackbone ? { backboneFrozen: 'true' } : {}),
            ...(result.final.testAccuracy !== undefined ? { testAccuracy: String(result.final.testAccuracy) } : {}),
          });
        }
        const probe = config.decryptionProbe;
        let metrics: Record<string, number> = {};
        let grid: string | undefined;
        if (probe && probeCipher) {
          const path = probe.grid?.(r);
          const d = await decryptionDiagnostics(model, probeCipher, probe.images, path ? { grid: { path, rows: probe.rows, tileSize: probe.tileSize } } : {});
          metrics = d.report ? decryptionMetrics(d.report) : {};
          grid = d.grid;
        }
        await config.onRoundEnd?.({ round: r, rounds, final: result.final, metrics, seconds, ...(grid ? { grid } : {}) });
        return probe ? metrics : undefined;
      },
    });
    model.eval();
    const history = results.flatMap((r) => r.history.map((h) => ({ ...h, round: r.round + 1 }) as ErEpochRecord));
    return { model, spec, history, rounds: results, init: initReport };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    probeCipher?.dispose();
  }
}

/**
 * Refuses an initialisation the model or the cipher cannot take (trainEncryptionRobust calls it
 * first; callers may call it before they read any data).
 */
export function checkErInit(init: ErInit | ErInitName, adaptation: AdaptationVariant | 'none', key: CipherKey | null): void {
  if (typeof init === 'string') init = { kind: init } as ErInit;
  if (!ER_INITS.includes(init.kind)) throw new RangeError(`init must be one of ${ER_INITS.join(', ')}, got '${init.kind}'`);
  if (init.kind !== 'default' && adaptation === 'none') throw new RangeError(`init ${init.kind} initialises the adaptation network: not without one (adaptation 'none')`);
  if (init.kind === 'statistical') {
    if (!key) throw new RangeError('init statistical works on ciphertexts: give the cipher key they were encrypted with (it reads only its block size)');
    if (key.kind === 'hill256') throw new CipherKeyError('init statistical: a hill256 cipher (mod 256) does not transform image statistics linearly');
    if (adaptation !== 'aligned') throw new RangeError('init statistical needs the aligned adaptation network (the recovered decryption works block by block)');
  }
  if (init.kind === 'key-inverse') {
    if (!key) throw new RangeError('init key-inverse needs the cipher key');
    if (adaptation !== 'aligned') throw new RangeError('init key-inverse needs the aligned adaptation network: only the aligned network can represent the inverse');
    if (key.kind === 'hill256') throw new CipherKeyError('init key-inverse: a hill256 cipher (mod 256) is not linear over the reals; no network weights invert it exactly');
    if (key.shuffle) throw new CipherKeyError('init key-inverse: the adaptation network cannot undo the block shuffle (it works block by block in place)');
  }
}

async function initialise(model: EncryptionRobustModel, init: ErInit, key: CipherKey | null): Promise<ErInitReport> {
  const net = model.adaptation;
  // The model's constructor already applied default and identity (spec.init); none needs a network.
  if (init.kind === 'default' || init.kind === 'identity') return { kind: init.kind };
  if (!net) throw new RangeError(`init ${init.kind}: the model has no adaptation network`);
  if (init.kind === 'key-inverse') {
    net.setBlockInverse(key!.inverses, init.norm ?? {});
    return { kind: 'key-inverse' };
  }
  if (init.kind === 'whiten') {
    const w = await whitenAdaptation(net, init.source, { maxImages: init.maxImages, shrinkage: init.shrinkage });
    return { kind: 'whiten', ...w };
  }
  const t0 = performance.now();
  const cs = await blockPairStatistics(init.ciphertexts, { k: net.k });
  const ps = await blockPairStatistics(init.prior, { k: net.k });
  const recovery = recoverFromStatistics(cs, ps);
  const seconds = (performance.now() - t0) / 1000;
  const { matrix, offset } = recoveryAsWindowAffine(recovery, init.norm ?? {});
  net.setWindowAffine(matrix, offset);
  return { kind: 'statistical', cipherImages: cs.images, priorImages: ps.images, seconds, recovery };
}
