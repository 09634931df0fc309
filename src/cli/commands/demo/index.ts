// `nnlock demo`: the engine at work, then both capabilities on real data. With the shared
// fixtures beside the project: a pretrained ResNet-20 protected with tiered keys, and CIFAR-10
// images encrypted and attacked (fixtures.ts). Without them (every user's machine): Debian's
// Fashion-MNIST, a small CNN trained on it and cached, protected with tiered keys, an
// Encryption-Robust model trained on its ciphertext, and the attack (fashion.ts).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { liveTensors } from '../../../tensor/index.ts';
import { timeTrainingSteps } from '../../../train/step-timing.ts';
import { cacheDir } from '../../../io/cache-dir.ts';
import { DEBIAN_FASHION_MNIST_DIR, hasFashionMnist } from '../../../data/fashion-mnist.ts';
import { engineFacts } from '../info.ts';
import { fixturesDemo, fixturesPresent } from './fixtures.ts';
import { FASHION_DEMO, fashionDemo } from './fashion.ts';
import { engineLines, fashionLines, fixturesLines } from './text.ts';

const DEFAULT_DATA = resolve(import.meta.dirname, '..', '..', '..', '..', '..', 'shared', 'data');

interface DemoFlags extends OutputFlags {
  data: string;
  fashionMnist: string;
  cache: string;
  limit?: number;
  out: string;
  device: string;
}

export function registerDemo(program: Command, io: CliIO): void {
  withOutputFlags(program.command('demo'))
    .description('a tour: the engine, a real model protected with tiered keys, learning on block-encrypted images, and what their statistics give away')
    .addOption(option(FLAG.data, 'the shared fixtures (CIFAR-10, weights); without them the demo uses Fashion-MNIST', undefined, io.env.NNLOCK_DATA ?? DEFAULT_DATA))
    .addOption(option('--fashion-mnist <dir>', "Fashion-MNIST's idx files, when the fixtures are absent", undefined, DEBIAN_FASHION_MNIST_DIR))
    .addOption(option('--cache <dir>', 'where trained models are kept between runs', undefined, cacheDir(io.env)))
    .addOption(option(FLAG.limit, 'test images per evaluation (default 1000 with the fixtures, 10000 on Fashion-MNIST)', parse.positiveInt))
    .addOption(option(FLAG.out, 'where to write the pictures', undefined, 'runs/demo'))
    .addOption(deviceOption(io.env))
    .action(async (o: DemoFlags) => {
      const out = new Output(io, o);
      const engine = { ...engineFacts(), imagesPerSecond: timeTrainingSteps(3, 64) };
      const note = (line: string) => out.note(line);
      if (fixturesPresent(o.data)) {
        const r = await fixturesDemo({ data: o.data, out: o.out, limit: o.limit ?? 1000, device: o.device, note });
        out.result({ engine, fixtures: o.data, ...r, liveTensors: liveTensors() }, [...engineLines(engine), '', ...fixturesLines(r), '', `live tensors at the end: ${liveTensors()}`]);
        return;
      }
      if (!hasFashionMnist(o.fashionMnist)) {
        const missing = `neither the shared fixtures (${o.data}; pass --data) nor Fashion-MNIST (${o.fashionMnist}; pass --fashion-mnist) were found`;
        out.result({ engine, fixtures: null, fashionMnist: null }, [
          ...engineLines(engine),
          '',
          `(${missing}: install Fashion-MNIST with \`apt-get install dataset-fashion-mnist\` or scripts/setup.sh; see README.md)`,
        ]);
        return;
      }
      out.note(`(the shared fixtures were not found at ${o.data}: the demo runs on Fashion-MNIST instead)`);
      const progressStream = out.progressStream as NodeJS.WriteStream;
      const r = await fashionDemo({ dir: o.fashionMnist, cache: o.cache, out: o.out, limit: o.limit ?? 10_000, device: o.device, quiet: o.quiet, progressStream, note });
      out.result({ engine, fixtures: null, ...r, liveTensors: liveTensors() }, [
        ...engineLines(engine),
        '',
        ...fashionLines(r, FASHION_DEMO.protect.ratio),
        '',
        `live tensors at the end: ${liveTensors()}`,
      ]);
    });
}
