// The demo with nnlock's shared fixtures beside the project (../shared/data): a pretrained
// ResNet-20 protected with three key tiers and measured at every tier on real CIFAR-10 test
// images (evaluateTiers), then a CIFAR-10 training batch encrypted and attacked from the
// statistics of another batch (attackEncryptedImages).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeKey, generateKey } from '../../../cipher/key.ts';
import { loadCifar10 } from '../../../data/cifar10.ts';
import { subset } from '../../../data/dataset.ts';
import { evaluateTiers, type TierEvaluation } from '../../../protect/evaluate-tiers.ts';
import { attackEncryptedImages, type StatisticalAttackReport } from '../../../attacks/statistical-attack.ts';

export interface FixturesDemoSettings {
  /** The shared fixtures folder. */
  data: string;
  out: string;
  /** Test images per tier evaluation. */
  limit: number;
  /** Where the tiers are evaluated (default 'cpu'). */
  device?: string;
  note(line: string): void;
}

export interface FixturesDemoReport {
  protect: TierEvaluation;
  cipher: { key: string } & StatisticalAttackReport;
}

function fixturePaths(data: string) {
  const cifar = join(data, 'cifar10');
  return { weights: join(data, 'weights', 'resnet20-cifar10.safetensors'), test: join(cifar, 'test_batch.bin'), cipher: join(cifar, 'data_batch_1.bin'), prior: join(cifar, 'data_batch_3.bin') };
}

/** Whether the files this demo reads are all in `data`. */
export function fixturesPresent(data: string): boolean {
  return Object.values(fixturePaths(data)).every(existsSync);
}

export async function fixturesDemo(s: FixturesDemoSettings): Promise<FixturesDemoReport> {
  const f = fixturePaths(s.data);
  mkdirSync(s.out, { recursive: true });
  s.note('protecting a pretrained ResNet-20 and evaluating every tier ...');
  const test = await loadCifar10([f.test]);
  const images = Math.min(s.limit, test.length);
  const protect = await evaluateTiers(f.weights, {
    importance: 'l1',
    ratio: 0.08,
    tiers: 3,
    architecture: 'resnet20',
    device: s.device,
    test: subset(
      test,
      Array.from({ length: images }, (_, i) => i),
    ),
    chart: join(s.out, 'resnet20-tiers.svg'),
    title: 'ResNet-20 protected at 8%: accuracy by key tier',
  });
  s.note('encrypting a training batch and attacking it from image statistics ...');
  const key = generateKey({ kind: 'uniform', k: 4, channels: 3 });
  const attack = await attackEncryptedImages(f.cipher, f.prior, key, { scoreImages: 500, grid: join(s.out, 'cipher-recovered.png') });
  return { protect, cipher: { key: describeKey(key), ...attack } };
}
