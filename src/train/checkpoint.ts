// Checkpoints: one safetensors file holding the model (model/<name>), the optimizer's state
// (optim/<slot>) and, in its metadata, where training stood. Written atomically, so an
// interruption leaves the previous checkpoint intact; loading it resumes exactly.
import { existsSync } from 'node:fs';
import type { Tensor } from '../tensor/index.ts';
import type { Module, Optimizer } from '../nn/index.ts';
import { type TensorEntry, readSafetensors } from '../io/safetensors.ts';
import { tensorsFromEntries, writeTensorFile } from '../io/tensor-file.ts';
import { loadWeightsSync } from '../models/weights.ts';

export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  /** Per-epoch records of the run so far. */
  history: Record<string, number>[];
  /** Free-form facts about the run (architecture, dataset, seed). */
  info: Record<string, string>;
}

export async function saveCheckpoint(path: string, model: Module, optimizer: Optimizer, state: CheckpointState): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of model.stateDict()) tensors.set(`model/${k}`, t);
  for (const [k, t] of optimizer.stateTensors()) tensors.set(`optim/${k}`, t);
  await writeTensorFile(path, tensors, {
    format: 'nnlock-checkpoint-v1',
    epoch: String(state.epoch),
    history: JSON.stringify(state.history),
    optimizer: JSON.stringify(optimizer.stateScalars()),
    lr: String(optimizer.lr),
    info: JSON.stringify(state.info),
  });
}

/** Restores model and optimizer from a checkpoint; null when there is none at `path`. */
export async function loadCheckpoint(path: string, model: Module, optimizer: Optimizer): Promise<CheckpointState | null> {
  if (!existsSync(path)) return null;
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== 'nnlock-checkpoint-v1') throw new Error(`${path} is not an nnlock checkpoint`);
  const modelEntries = new Map<string, TensorEntry>();
  const optimEntries = new Map<string, TensorEntry>();
  for (const [k, e] of tensors) {
    if (k.startsWith('model/')) modelEntries.set(k.slice(6), e);
    else if (k.startsWith('optim/')) optimEntries.set(k.slice(6), e);
  }
  loadWeightsSync(model, { tensors: modelEntries, metadata }, { source: `the model in checkpoint ${path}` });
  const optimState = tensorsFromEntries(optimEntries);
  try {
    optimizer.loadState(optimState, JSON.parse(metadata.optimizer ?? '{}'));
  } finally {
    for (const t of optimState.values()) t.dispose();
  }
  optimizer.lr = Number(metadata.lr);
  return { epoch: Number(metadata.epoch), history: JSON.parse(metadata.history ?? '[]'), info: JSON.parse(metadata.info ?? '{}') };
}
