// DnCNN-S-25 in the paper's DnCNN setting (2% of the kernels of three middle conv layers, five
// tiers, Set12 at σ = 25): the importance estimators compared by dncnn-sweep.ts and used by
// exp-dncnn-paper.ts, and their scores, kept per layer under experiments/out/protect/dncnn-sweep/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { type DecoyMode, type ImportanceMap, PSS_SAMPLED_SETTING, type PssSettings, computeImportance, loadImportance, protectModel, saveImportance, unlockModel } from '../../src/protect/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import type { Module } from '../../src/nn/index.ts';
import { type DenoiseImage, evaluateDenoiser, mean } from '../../src/train/evaluate.ts';
import { JsonCache, ROOT, bitIdentical, denoiseTaskData, experimentKey, loadIntoModel, log } from './common.ts';

export const SIGMA = 25;
export const RATIO = 0.02;
export const TIERS = 5;
const SCORES = join(ROOT, 'experiments', 'out', 'protect', 'dncnn-sweep');

/** The estimators compared: strategy, data (clean train400 patches, batch), settings. */
export const ESTIMATORS: Record<string, { strategy: string; images: number; batch: number; pss?: PssSettings; batches?: number; describe: string }> = {
  'pss-light': {
    strategy: 'pss',
    images: 64,
    batch: 16,
    pss: { ...PSS_SAMPLED_SETTING, epochs: 1 },
    describe: 'PSS, the 0.3 light defaults (sampled gates, Adam 0.05, log α ≈ 2.2), 64 patches, 1 epoch (last session)',
  },
  'pss-paper': {
    strategy: 'pss',
    images: 64,
    batch: 16,
    pss: { epochs: 1, gates: 'deterministic', initLogAlpha: 1, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true },
    describe: "PSS, the paper's gates, start and optimiser (deterministic, log α 1.0, SGD 0.1 Nesterov 0.9), 64 patches, 1 epoch",
  },
  'pss-paper-long': {
    strategy: 'pss',
    images: 256,
    batch: 16,
    pss: { epochs: 2, gates: 'deterministic', initLogAlpha: 1, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true },
    describe: "PSS, the paper's gates, start and optimiser, 256 patches, 2 epochs (32 steps per layer)",
  },
  'gate-gradient': { strategy: 'gate-gradient', images: 128, batch: 16, batches: 8, describe: 'gate-gradient at log α 1.0, 8 batches of 16 patches' },
  taylor: { strategy: 'taylor', images: 128, batch: 16, batches: 8, describe: 'first-order Taylor, 8 batches of 16 patches' },
  l1: { strategy: 'l1', images: 0, batch: 0, describe: 'L1 norm of the kernel (weights only)' },
};
/**
 * The estimator's scores of `layers`, computing only those not yet stored (each layer's scores are
 * learned with the other layers untouched, so they do not depend on which others are scored).
 */
export async function importance(file: SafetensorsFile, name: string, layers: readonly string[]): Promise<{ scores: ImportanceMap; seconds: number }> {
  const e = ESTIMATORS[name];
  if (!e) throw new Error(`unknown estimator ${name}`);
  const path = join(SCORES, `${name}.safetensors`);
  mkdirSync(SCORES, { recursive: true });
  const stored = existsSync(path) ? await loadImportance(path) : undefined;
  const scores: ImportanceMap = new Map(stored?.scores ?? []);
  const secondsPerLayer = (stored?.settings.secondsPerLayer as Record<string, number> | undefined) ?? {};
  const missing = layers.filter((l) => !scores.has(l));
  if (missing.length) {
    const t0 = performance.now();
    const data = e.images ? await denoiseTaskData(e.images, e.batch, 0, SIGMA) : undefined;
    const c = await computeImportance(e.strategy, file, data, { architecture: 'dncnn-17', layers: missing, seed: 0, pss: e.pss, batches: e.batches });
    const seconds = (performance.now() - t0) / 1000;
    for (const l of missing) {
      scores.set(l, c.scores.get(l)!);
      secondsPerLayer[l] = seconds / missing.length;
    }
    await saveImportance(path, scores, { strategy: c.strategy, settings: { ...c.settings, images: e.images, batch: e.batch, secondsPerLayer }, source: c.source, architecture: 'dncnn-17' });
    log(`${name}: scored ${missing.length} layers in ${seconds.toFixed(0)} s`);
  }
  return { scores, seconds: layers.reduce((t, l) => t + (secondsPerLayer[l] ?? 0), 0) };
}

export interface Row {
  estimator: string;
  /** The images measured (absent: Set12 or its 256×256 ones, as `images` says). */
  set?: string;
  /** Experiment key of the decoys (absent: 0). */
  key?: number;
  decoys: DecoyMode;
  layers: string[];
  split: string;
  fractions: number[];
  images: number;
  noisyPsnr: number;
  /** PSNR of tiers 0..M (only tier 0 in screening rows). */
  tiers: number[];
  weightFraction: number;
  selectedKernels: number;
  tier0BelowNoisy: boolean;
  strictlyOrdered?: boolean;
  masterBitExact?: boolean;
  importanceSeconds?: number;
  date: string;
}

/**
 * Mean PSNR at every tier of a protected file, tier 0 (the published file) up to the master key's
 * (`tokens.length`), each tier unlocked with its own token, and whether the master key restores
 * `original` bit for bit. `onTier` hears each tier's PSNR as it is measured.
 */
export async function tierPsnrs(
  m: Module,
  original: SafetensorsFile,
  p: { file: SafetensorsFile; tokens: readonly string[] },
  imgs: DenoiseImage[],
  onTier?: (tier: number, psnr: number, noisy: number) => void,
): Promise<{ psnr: number[]; noisy: number; masterBitExact: boolean; strictlyOrdered: boolean }> {
  const psnr: number[] = [];
  let noisy = 0;
  let masterBitExact = false;
  const tiers = p.tokens.length;
  for (let t = 0; t <= tiers; t++) {
    const f = t === 0 ? p.file : (await unlockModel(p.file, p.tokens[t - 1])).file;
    if (t === tiers) masterBitExact = bitIdentical(f, original).identical;
    const r = psnrOf(m, f, imgs);
    noisy = r.noisy;
    psnr.push(r.psnr);
    onTier?.(t, r.psnr, r.noisy);
  }
  return { psnr, noisy, masterBitExact, strictlyOrdered: strictlyRising(psnr) };
}

/** Mean PSNR of a model's output and of the noisy input over images (seed-0 noise, σ = 25). */
export function psnrOf(m: Module, f: SafetensorsFile, imgs: DenoiseImage[]): { psnr: number; noisy: number } {
  loadIntoModel(m, f);
  const rs = evaluateDenoiser(m, imgs, SIGMA, 0);
  return { psnr: mean(rs.map((r) => r.psnr)), noisy: mean(rs.map((r) => r.psnrNoisy)) };
}

export interface Config {
  estimator: string;
  decoys: DecoyMode;
  layers: string[];
  /**
   * 'default' (0.6 + 0.4·m/M), 'equal' (m/M), 'fractions:f1,…,f5', or 'targets:a,b,c,d' (tiers 1–4
   * calibrated to these PSNRs on the calibration images, never on Set12).
   */
  split?: string;
  /** Experiment key (common.ts experimentKey; default 0): the decoys are drawn from its stream. */
  key?: number;
}

export const short = (layers: readonly string[]) => layers.map((l) => l.replace(/^dncnn\.|\.weight$/g, '')).join('/');

/** A named set of evaluation images (the name keys the cache and labels the rows). */
export interface ImageSet {
  name: string;
  images: DenoiseImage[];
}

/** The row's `set`: absent for Set12 and its 256×256 images (the sweep's rows, named by `images`). */
const setLabel = (set: ImageSet) => (/^(set12|small\d*)$/.test(set.name) ? {} : { set: set.name });

/** Whether PSNRs of tiers 0..M rise strictly. */
export const strictlyRising = (psnr: readonly number[]) => psnr.every((v, i) => i === 0 || v > psnr[i - 1]);

/** The paper setting's configurations, evaluated and cached in experiments/results/protect/dncnn-sweep.json. */
export class DncnnSetting {
  readonly model: Module = modelSpec('dncnn-17').create();
  readonly cache: JsonCache<Row>;
  readonly allWeights: number;
  /**
   * @param small screening images (Set12's 256×256 ones)
   * @param calibration the owner's validation images for calibrated targets (train400, never Set12)
   * @param cacheFile the rows' cache, under experiments/results/protect/
   */
  constructor(
    readonly file: SafetensorsFile,
    readonly set12: DenoiseImage[],
    readonly small: DenoiseImage[],
    readonly calibration: DenoiseImage[] = [],
    cacheFile = 'dncnn-sweep.json',
  ) {
    this.cache = new JsonCache<Row>(join(ROOT, 'experiments', 'results', 'protect', cacheFile));
    this.allWeights = [...file.tensors.values()].reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
  }

  rows(): Row[] {
    return Object.values((this.cache as unknown as { data: Record<string, Row> }).data);
  }

  /** The name of the screening images in cache keys (last session's names for Set12's). */
  private get smallName(): string {
    return this.small === this.set12 ? 'set12' : this.small.length === 7 ? 'small' : `small${this.small.length}`;
  }

  keyOf = (c: Config, full: boolean) => this.keyOn(c, full, full ? 'set12' : this.smallName);

  keyOn = (c: Config, full: boolean, setName: string) => `${c.estimator}|${c.decoys}|${short(c.layers)}|${full ? (c.split ?? 'default') : 'tier0'}|${setName}${c.key ? `|key${c.key}` : ''}`;

  splitFractions(split: string): number[] | undefined {
    if (split === 'default') return undefined;
    if (split === 'equal') return Array.from({ length: TIERS }, (_, i) => (i + 1) / TIERS);
    if (split.startsWith('fractions:')) return split.slice(10).split(',').map(Number);
    return undefined;
  }

  protectWith = async (c: Config) => {
    const { scores } = await importance(this.file, c.estimator, c.layers);
    const split = c.split ?? 'default';
    const targets = split.startsWith('targets:') ? split.slice(8).split(',').map(Number) : undefined;
    return protectModel(this.file, {
      importance: new Map(c.layers.map((l) => [l, scores.get(l)!])),
      ratio: RATIO,
      layers: c.layers,
      tiers: TIERS,
      architecture: 'dncnn-17',
      decoys: c.decoys,
      fractions: this.splitFractions(split),
      ...(targets ? { targets, evaluate: (m: Module) => mean(evaluateDenoiser(m, this.calibration, SIGMA, 0).map((r) => r.psnr)) } : {}),
      ...experimentKey(c.key ?? 0, TIERS),
    });
  };

  /** Tier 0 on the screening images. */
  screen = (c: Config): Promise<Row> => this.screenOn(c, { name: this.smallName, images: this.small });

  /** Tier 0 on `set`. */
  screenOn = async (c: Config, set: ImageSet): Promise<Row> => {
    return this.cache.getOr(this.keyOn(c, false, set.name), async () => {
      const p = await this.protectWith({ ...c, split: 'default' });
      const r = psnrOf(this.model, p.file, set.images);
      return this.row(c, p, set, 'tier 0 only', [r.psnr], r.noisy, {});
    });
  };

  /** Every tier on all of Set12, each tier unlocked with its own token. */
  full = (c: Config): Promise<Row> => this.fullOn(c, { name: 'set12', images: this.set12 });

  /** Every tier on `set`, each tier unlocked with its own token, the master key's restore checked bit for bit. */
  fullOn = async (c: Config, set: ImageSet): Promise<Row> => {
    return this.cache.getOr(this.keyOn(c, true, set.name), async () => {
      const p = await this.protectWith(c);
      const t = await tierPsnrs(this.model, this.file, p, set.images, (m, psnr) => log(`  ${this.keyOn(c, true, set.name)} tier ${m}: ${psnr.toFixed(2)} dB`));
      return this.row(c, p, set, c.split ?? 'default', t.psnr, t.noisy, { strictlyOrdered: t.strictlyOrdered, masterBitExact: t.masterBitExact });
    });
  };

  /** The row of one measurement: its configuration, where and what it measured, and `extra` (the full rows' checks). */
  private async row(
    c: Config,
    p: Awaited<ReturnType<DncnnSetting['protectWith']>>,
    set: ImageSet,
    split: string,
    tiers: number[],
    noisy: number,
    extra: Pick<Row, 'strictlyOrdered' | 'masterBitExact'>,
  ): Promise<Row> {
    const selected = p.layers.reduce((n, l) => n + l.selected, 0);
    return {
      estimator: c.estimator,
      key: c.key ?? 0,
      decoys: c.decoys,
      layers: c.layers,
      ...setLabel(set),
      split,
      fractions: p.fractions,
      images: set.images.length,
      noisyPsnr: noisy,
      tiers,
      weightFraction: (selected * 9) / this.allWeights,
      selectedKernels: selected,
      tier0BelowNoisy: tiers[0] < noisy,
      ...extra,
      importanceSeconds: (await importance(this.file, c.estimator, c.layers)).seconds,
      date: new Date().toISOString(),
    };
  }

  show = (r: Row) =>
    `${r.estimator} | ${r.decoys} | ${short(r.layers)} | ${r.split} | ${r.tiers.map((v) => v.toFixed(2)).join(' / ')} (noisy ${r.noisyPsnr.toFixed(2)}, ${r.images} images)${r.strictlyOrdered === undefined ? '' : r.strictlyOrdered ? ' ordered' : ' NOT ordered'}`;
}
