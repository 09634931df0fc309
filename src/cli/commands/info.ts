// `nnlock info`: what the engine found (libtorch, threads, CUDA, the malloc policy) and a few
// ResNet-20 training steps with their speed, so a new installation can be checked in seconds.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../io.ts';
import { FLAG, option, parse } from '../options.ts';
import { cuda, getNumThreads, libtorchVersion, liveTensors } from '../../tensor/index.ts';
import { engineState } from '../../tensor/init.ts';
import { type TrainingStepTiming, timeTrainingSteps } from '../../train/step-timing.ts';

/** The engine's facts as a reader would want them (what `nnlock info` and `nnlock demo` print first). */
export function engineFacts(): { libtorch: string; threads: number; cudaDevices: number; malloc: string } {
  const a = engineState().allocator;
  const malloc = !a
    ? 'not set (init() was not called)'
    : a.apply
      ? `nnlock's policy (mmap threshold ${a.mmapThreshold / 2 ** 20} MiB, trim threshold ${a.trimThreshold / 2 ** 20} MiB)${a.applied ? '' : ', not applied: the C library is not glibc'}`
      : `left alone (${a.reason})`;
  return { libtorch: libtorchVersion(), threads: getNumThreads(), cudaDevices: cuda.isAvailable() ? cuda.deviceCount() : 0, malloc };
}

interface InfoFlags extends OutputFlags {
  steps: number;
  batch: number;
}

export function registerInfo(program: Command, io: CliIO): void {
  withOutputFlags(program.command('info'))
    .description('show the engine (libtorch, threads, CUDA, malloc) and time a few ResNet-20 training steps')
    .addOption(option('--steps <n>', 'training steps to time', parse.positiveInt, 5))
    .addOption(option(FLAG.batch, 'batch size', parse.positiveInt, 64))
    .action((o: InfoFlags) => {
      const out = new Output(io, o);
      const e = engineFacts();
      const steps: TrainingStepTiming[] = [];
      const imagesPerSecond = timeTrainingSteps(o.steps, o.batch, (t) => {
        steps.push(t);
        out.note(`step ${t.step}${t.step === 0 ? ' (warm-up)' : ''}: loss ${t.loss.toFixed(4)}, ${t.ms.toFixed(0)} ms`);
      });
      const live = liveTensors();
      out.result({ ...e, steps, batch: o.batch, imagesPerSecond, liveTensors: live }, [
        `libtorch ${e.libtorch}, ${e.threads} threads, CUDA ${e.cudaDevices ? `yes (${e.cudaDevices} devices)` : 'no'}`,
        `malloc: ${e.malloc}`,
        `ResNet-20 training: ${imagesPerSecond.toFixed(0)} images/s (median of ${o.steps} steps, batch ${o.batch})`,
        `live tensors after cleanup: ${live}`,
      ]);
    });
}
