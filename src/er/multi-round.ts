// Training Encryption-Robust models, with and without an adaptation network, in one round or in
// several: R rounds of E epochs, each round keeping the adaptation network and restarting the
// backbone (a fresh initialisation, or pretrained weights), so the adaptation network keeps
// learning against backbones that have not co-adapted to its quirks.
//
// Each round is one call of src/train/loop.ts train() with a fresh optimizer; with a checkpoint
// folder, round r checkpoints to round-<r>.ckpt, so an interrupted run resumes mid-round and
// skips finished rounds (their checkpoints restore the whole model, adaptation included).
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Tensor } from '../tensor/index.ts';
import type { Module, Optimizer, Schedule } from '../nn/index.ts';
import { crossEntropy } from '../ops/loss.ts';
import type { BatchSource } from '../data/batch-source.ts';
import { type TrainOptions, train } from '../train/loop.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { EncryptionRobustModel } from './model.ts';
import { DataParallel } from '../train/data-parallel.ts';
import type { ProcessGroup } from '../distributed/index.ts';

export interface MultiRoundOptions {
  /** The model to train; its current backbone serves round 0. */
  model: EncryptionRobustModel;
  /** A new backbone for round r ≥ 1 (fresh init or pretrained weights). */
  newBackbone: (round: number) => Module | Promise<Module>;
  rounds: number;
  epochs: number;
  data: BatchSource;
  /** The optimizer for a round (over model.parameters(), or groups with their own rates). */
  makeOptimizer: (model: EncryptionRobustModel, round: number) => Optimizer;
  /** Learning rate by epoch within a round. */
  schedule?: (round: number) => Schedule | undefined;
  /** Held-out metrics after each epoch, e.g. { testAccuracy }. */
  evaluate?: (model: Module) => Promise<Record<string, number>> | Record<string, number>;
  seed?: number;
  /** Folder for round-<r>.ckpt checkpoints (resumable). */
  checkpointDir?: string;
  /** JSON log of every round, rewritten after each. */
  logFile?: string;
  info?: Record<string, string>;
  /** At the start of each round (0-based). */
  onRound?: (round: number, rounds: number) => void;
  /** Passed to each round's train(): progress of its steps and epochs. */
  onStep?: TrainOptions['onStep'];
  onEpoch?: TrainOptions['onEpoch'];
  onResume?: TrainOptions['onResume'];
  /**
   * Called after each round (e.g. to save the model, or to measure it); data-parallel, on rank 0
   * only. The metrics it returns go into the round's result (`metrics`) and the log.
   */
  afterRound?: (round: number, result: RoundResult) => Promise<Record<string, number> | undefined> | Record<string, number> | undefined;
  /**
   * Train data-parallel in this group (`data` is this rank's shard): each round wraps the model
   * with its new backbone in a DataParallel; only rank 0 writes the log and runs afterRound.
   */
  group?: ProcessGroup;
}

export interface RoundResult {
  round: number;
  history: Record<string, number>[];
  /** The last epoch's record. */
  final: Record<string, number>;
  /** What afterRound measured at the end of the round (e.g. the learned decryption's PSNR). */
  metrics?: Record<string, number>;
}

export async function trainMultiRound(o: MultiRoundOptions): Promise<RoundResult[]> {
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new RangeError(`trainMultiRound: rounds must be a positive integer, got ${o.rounds}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new RangeError(`trainMultiRound: epochs must be a positive integer, got ${o.epochs}`);
  if (o.checkpointDir) mkdirSync(o.checkpointDir, { recursive: true });
  const results: RoundResult[] = [];
  const seed = o.seed ?? 0;
  for (let round = 0; round < o.rounds; round++) {
    if (round > 0) {
      const old = o.model.replaceBackbone(await o.newBackbone(round));
      old.dispose();
    }
    o.onRound?.(round, o.rounds);
    const optimizer = o.makeOptimizer(o.model, round);
    const parallel = o.group && new DataParallel(o.model, o.group);
    const leader = !parallel || parallel.isLeader;
    try {
      const { history } = await train({
        model: o.model,
        optimizer,
        data: o.data,
        epochs: o.epochs,
        loss: (out: Tensor, y: Tensor) => crossEntropy(out, y),
        task: 'classification',
        schedule: o.schedule?.(round),
        evaluate: o.evaluate ? (m) => o.evaluate!(m) : undefined,
        seed: seed * 7919 + round,
        checkpoint: o.checkpointDir ? join(o.checkpointDir, `round-${round}.ckpt`) : undefined,
        info: { ...(o.info ?? {}), round: String(round) },
        onStep: o.onStep,
        onEpoch: o.onEpoch,
        onResume: o.onResume,
        parallel,
      });
      const result: RoundResult = { round, history, final: history[history.length - 1] ?? {} };
      results.push(result);
      if (leader) {
        const metrics = await o.afterRound?.(round, result);
        if (metrics) result.metrics = metrics;
      }
      if (o.logFile && leader) await writeFileAtomic(o.logFile, `${JSON.stringify({ info: o.info ?? {}, seed, rounds: results }, null, 2)}\n`);
      parallel?.barrier();
    } finally {
      parallel?.dispose();
      optimizer.dispose();
    }
  }
  return results;
}
