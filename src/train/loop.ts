// The training loop: epochs of steps, progress reported through callbacks, evaluation after each epoch,
// a checkpoint after each epoch (atomic, resumable), a JSON log, and determinism from a seed
// (the engine is reseeded at every epoch from seed and epoch, so a resumed run draws the same
// numbers as an uninterrupted one).
import { type Tensor, manualSeed, scope } from '../tensor/index.ts';
import { type BatchSource, type TaskKind, batchesOn } from '../data/batch-source.ts';
import type { Module, Optimizer, Schedule } from '../nn/index.ts';
import { applySchedule } from '../nn/index.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { correctCount, psnrOfMse } from './metrics.ts';
import type { DataParallel } from './data-parallel.ts';

export interface TrainOptions {
  model: Module;
  optimizer: Optimizer;
  data: BatchSource;
  epochs: number;
  /** Loss of a batch: cross-entropy for classifiers, MSE for denoisers. */
  loss: (output: Tensor, target: Tensor) => Tensor;
  /** 'classification' reports accuracy, 'denoising' the PSNR of the MSE loss. */
  task: TaskKind;
  /** Learning rate by epoch (applied before each epoch). */
  schedule?: Schedule;
  /** Metrics on held-out data after each epoch, e.g. { testAccuracy }. */
  evaluate?: (model: Module, epoch: number) => Promise<Record<string, number>> | Record<string, number>;
  seed?: number;
  /** Checkpoint file: written after every epoch, resumed from when it exists. */
  checkpoint?: string;
  /** JSON log of the run, rewritten after every epoch. */
  logFile?: string;
  info?: Record<string, string>;
  /** After every step: the running means of the epoch so far (for a progress display). */
  onStep?: (p: StepProgress) => void;
  /** After every epoch (and its evaluation), with its record. */
  onEpoch?: (record: Record<string, number>, p: EpochProgress) => void;
  /** When a checkpoint is found: training continues after `epoch` finished epochs. */
  onResume?: (epoch: number, checkpoint: string) => void;
  /** Stop after this many epochs of this call (to test interruptions); the run stays resumable. */
  stopAfter?: number;
  /**
   * Train data-parallel (data-parallel.ts): `data` is this rank's shard, gradients are averaged
   * across the ranks, epoch records sum all ranks, and only rank 0 writes the checkpoint and log.
   */
  parallel?: DataParallel;
}

export interface StepProgress {
  /** 0-based epoch, of `epochs`. */
  epoch: number;
  epochs: number;
  /** Steps done in this epoch, of `steps`. */
  step: number;
  steps: number;
  /** Running loss, images per second, and accuracy (classification) or PSNR (denoising). */
  fields: Record<string, number>;
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  /** Estimated seconds for the epochs left, from this epoch's time. */
  secondsLeft: number;
}

export interface TrainResult {
  history: Record<string, number>[];
  resumedFrom: number;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const seed = o.seed ?? 0;
  let history: Record<string, number>[] = [];
  let start = 0;
  if (o.checkpoint) {
    const state = await loadCheckpoint(o.checkpoint, o.model, o.optimizer);
    if (state) {
      start = state.epoch;
      history = state.history;
      o.onResume?.(start, o.checkpoint);
    }
  }
  if (o.parallel) {
    o.parallel.agreeOnStart(start);
    o.parallel.syncState();
  }
  const resumedFrom = start;
  // Batches go where the model is (model.to(device) put it there); the CPU source when it is there.
  const data = batchesOn(o.data, o.model.device);
  let ran = 0;
  for (let epoch = start; epoch < o.epochs; epoch++) {
    if (o.stopAfter !== undefined && ran >= o.stopAfter) break;
    manualSeed(seed * 1_000_003 + epoch);
    if (o.schedule) applySchedule(o.optimizer, o.schedule, epoch);
    o.model.train();
    const t0 = performance.now();
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let steps = 0;
    for await (const batch of data.epoch(epoch)) {
      const n = batch.x.shape[0];
      const { loss, hits } = scope(() => {
        o.optimizer.zeroGrad();
        o.parallel?.beforeForward();
        const out = o.model.forward(batch.x);
        const l = o.loss(out, batch.y);
        if (o.parallel) o.parallel.backward(l);
        else l.backward();
        o.optimizer.step();
        return { loss: l.item(), hits: o.task === 'classification' ? correctCount(out, batch.y) : 0 };
      });
      batch.x.dispose();
      batch.y.dispose();
      if (!Number.isFinite(loss)) throw new Error(`training diverged at epoch ${epoch + 1}, step ${steps + 1}: loss is ${loss}`);
      seen += n;
      lossSum += loss * n;
      correct += hits;
      steps++;
      const fields: Record<string, number> = { loss: lossSum / seen, 'img/s': seen / ((performance.now() - t0) / 1000) };
      if (o.task === 'classification') fields.acc = correct / seen;
      else fields.psnr = psnrOfMse(lossSum / seen);
      o.onStep?.({ epoch, epochs: o.epochs, step: steps, steps: o.data.batchCount, fields });
    }
    if (o.parallel) [lossSum, correct, seen] = o.parallel.sum([lossSum, correct, seen]);
    const seconds = (performance.now() - t0) / 1000;
    const record: Record<string, number> = {
      epoch: epoch + 1,
      lr: o.optimizer.lr,
      trainLoss: lossSum / Math.max(seen, 1),
      seconds,
      imagesPerSecond: seen / seconds,
    };
    if (o.task === 'classification') record.trainAccuracy = correct / Math.max(seen, 1);
    else record.trainPsnr = psnrOfMse(lossSum / Math.max(seen, 1));
    if (o.evaluate) {
      o.model.eval();
      Object.assign(record, await o.evaluate(o.model, epoch));
    }
    history.push(record);
    ran++;
    o.onEpoch?.(record, { epoch, epochs: o.epochs, secondsLeft: (o.epochs - epoch - 1) * seconds });
    const writes = !o.parallel || o.parallel.isLeader;
    if (o.checkpoint && writes) await saveCheckpoint(o.checkpoint, o.model, o.optimizer, { epoch: epoch + 1, history, info: o.info ?? {} });
    if (o.logFile && writes) await writeFileAtomic(o.logFile, JSON.stringify({ info: o.info ?? {}, seed, history }, null, 2));
    o.parallel?.barrier(); // the checkpoint is complete before any rank goes on
  }
  o.model.eval();
  return { history, resumedFrom };
}
