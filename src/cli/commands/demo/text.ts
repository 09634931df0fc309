// The demo's report as text: what each step showed, one line per figure.
import type { TierEvaluation } from '../../../protect/evaluate-tiers.ts';
import type { FashionDemoReport } from './fashion.ts';
import type { FixturesDemoReport } from './fixtures.ts';

export interface EngineReport {
  libtorch: string;
  threads: number;
  cudaDevices: number;
  imagesPerSecond: number;
}

export function engineLines(e: EngineReport): string[] {
  return [`== engine: libtorch ${e.libtorch}, ${e.threads} threads, CUDA ${e.cudaDevices ? 'yes' : 'no'}`, `   ResNet-20 training step, batch 64: ${e.imagesPerSecond.toFixed(0)} images/s`];
}

const WHO = ['no key (the published file)', 'tier-1 key', 'tier-2 key', 'tier-3 key (master)'];

function tierLines(t: TierEvaluation, how: string): string[] {
  return [
    `   protected ${t.selected} of ${t.kernels} kernels (${how}); decoys drawn from each layer's own distribution`,
    ...t.accuracy.map((a, m) => `   tier ${m}: accuracy ${a.toFixed(4)} on ${t.images} test images  ← ${WHO[m] ?? `tier-${m} key`}`),
    `   tiers ${t.ordered ? 'strictly ordered: each key gives more than the one below' : 'NOT strictly ordered'}`,
    `   full key: all ${t.tensors} tensors ${t.identical ? 'bit-identical to the original' : 'DIFFER from the original'}`,
    `   tier-1 key asking for tier ${t.accuracy.length - 1}: ${t.refused ? `refused (${t.refused})` : 'NOT refused'}`,
    `   chart: ${t.chart}`,
    ...(t.samples ? [`   predictions of each tier for ${t.samples.labels.length} test images: ${t.samples.path}`] : []),
  ];
}

export function fixturesLines(r: FixturesDemoReport): string[] {
  const a = r.cipher;
  return [
    '== selective encryption of a pretrained ResNet-20 (CIFAR-10)',
    ...tierLines(r.protect, '8% per layer, L1 importance'),
    '',
    '== block-wise image encryption (Hill cipher per 4×4 block and channel, uniform key)',
    `   encrypted ${a.cipherImages} training images with a fresh random key (${a.key})`,
    `   ciphertext-only attack (no key, no known plaintext; the statistics of another batch of CIFAR images): ${a.seconds.toFixed(1)} s,`,
    `   recovered images at ${a.recovered?.psnr.toFixed(2)} dB PSNR against the plaintext (${a.recovered?.images} images)`,
    `   picture: ${a.grid}`,
  ];
}

export function fashionLines(r: FashionDemoReport, ratio: number): string[] {
  const c = r.classifier;
  const a = r.attack;
  return [
    `== data: Fashion-MNIST from ${r.data.dir} (${r.data.trainImages} training, ${r.data.testImages} test images; ${r.data.classes.join(', ')})`,
    `   (nnlock's fixtures were not found: this is the demo on real data any machine can install; see README.md)`,
    '',
    '== selective encryption of a small CNN trained on Fashion-MNIST',
    `   ${c.architecture}, ${c.epochs} epochs: ${c.cached ? `read from the cache (${c.path})` : `trained now, cached at ${c.path}`}${c.testAccuracy === undefined ? '' : `, test accuracy ${c.testAccuracy.toFixed(4)}`}`,
    ...tierLines(r.protect, `${Math.round(ratio * 100)}% per layer, L1 importance`),
    '',
    '== learning on block-encrypted images (Hill cipher per 4×4 block, uniform key)',
    `   ${r.cipher.key} (the demo's own, kept in ${r.cipher.keyFile})`,
    `   Encryption-Robust model (adaptation network + ${c.architecture}), ${r.er.epochs} epoch on ${r.er.trainImages} encrypted images: ${r.er.cached ? 'read from the cache' : 'trained now, cached'}`,
    `   accuracy on ${r.er.testImages} encrypted test images: ${r.er.accuracy?.toFixed(4)} (the plaintext model above: ${c.testAccuracy?.toFixed(4)})`,
    `   ciphertext-only attack on ${a.cipherImages} encrypted test images (no key, no known plaintext; statistics of ${a.priorImages} other images): ${a.seconds.toFixed(1)} s,`,
    `   recovered images at ${a.recovered?.psnr.toFixed(2)} dB PSNR (SSIM ${a.recovered?.ssim.toFixed(3)}) against the plaintext: what the statistics give away`,
    `   picture: ${a.grid}`,
  ];
}
