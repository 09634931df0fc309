// The machine-readable summary of issue 13, experiments/results/protect/summary.json, assembled
// from the part files (no computation):
//
//   node --import tsx experiments/protect/summary.ts      (run.ts calls it too)
//
//   headStart, headStartBaseline  attack-<mode>.json (attack-harness.ts): the new mode, today's default
//   headStartPerTier              attack-default-position-tier<m>.json
//   decoyAucMax                   decoy-detectors*.json (decoy-detectors.ts)
//   allWeightsFractionAtChance    fraction-at-chance.json's `best` (written by the importance part)
//   unlockOverAes                 bench/results/unlock.json (bench/unlock.ts)
//   dncnnPaper                    dncnn-paper.json (exp-dncnn-paper.ts)
//   dncnnDenseFront               dncnn-dense-front.json (dncnn-dense-front.ts): the new mode on DnCNN
// Every entry carries the command that produced it; a part not measured yet is null with a note.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { ROOT } from './common.ts';

/** The protection reported as the mode with no head start, and today's default. */
export const NEW_MODE = 'dense-front';
export const BASELINE_MODE = 'default-position';
/** Detectors that look at positions only (what the selection gives away, no decoy can change it). */
export const POSITION_ONLY = new Set(['rowColumnEffect']);

const DIR = join(ROOT, 'experiments', 'results', 'protect');
const UNLOCK_BENCH = join(ROOT, 'bench', 'results', 'unlock.json');

/** The parsed result files of these experiments (their shapes are the writers' own). */
// biome-ignore lint/suspicious/noExplicitAny: JSON written by the experiments themselves
export type Json = any;

function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Accuracy points, one decimal. */
const points = (h: Record<string, number>) => Object.fromEntries(Object.entries(h).map(([n, v]) => [n, Number((100 * v).toFixed(1))]));

/** An attack entry's head starts, "x points at N = n", by increasing N. */
function pointsAt(h: Record<string, Json>): string {
  return Object.entries(h)
    .filter(([k]) => /^\d+$/.test(k))
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([n, v]) => `${v} points at N = ${n}`)
    .join(', ');
}

/**
 * The other dense protections the harness measured, smallest weight fraction first: the share of
 * all weights and the head start at each N, from attack-<name>.json (runs before the decoy fix for
 * layers sealed whole drew their decoys from the sealed kernels' statistics: said so).
 */
function denseOthers(): string {
  const names = ['dense-early', 'dense-front-0.15', 'dense-all'];
  const rows = names
    .map((n) => ({ n, a: attackEntry(n) as Record<string, Json> | null }))
    .filter((r): r is { n: string; a: Record<string, Json> } => r.a !== null)
    .sort((x, y) => x.a.weightFraction - y.a.weightFraction);
  if (rows.length === 0) return '';
  const label: Record<string, string> = { 'dense-early': 'conv1 and layer1 only', 'dense-front-0.15': '`--front-share 0.15`', 'dense-all': 'every conv kernel' };
  // Runs since the fix record their starting weights' fingerprint (startTag).
  const old = (n: string) =>
    (readJson(join(DIR, `attack-${n}.json`)).runs as Json[]).some((r) => r.start === 'published' && r.startTag)
      ? ''
      : ", decoys from the sealed kernels' statistics (measured before the fix for layers sealed whole)";
  return `Other dense protections: ${rows.map(({ n, a }) => `${label[n] ?? n} (${(100 * a.weightFraction).toFixed(1)}% of all weights): head start ${pointsAt(a)}${old(n)}`).join('; ')}.`;
}

function attackEntry(name: string): Record<string, unknown> | null {
  const f = join(DIR, `attack-${name}.json`);
  if (!existsSync(f)) return null;
  const a = readJson(f);
  return {
    ...points(a.headStart),
    unit: 'accuracy points',
    measure: 'best of fine-tuning the attacked file (and detect-and-replace, where run) minus the best baseline (from scratch), same N and steps',
    protection: a.protection,
    tier: a.tier ?? 0,
    weightFraction: a.weightFraction,
    tierAccuracy: a.tierAccuracy,
    strictlyOrdered: a.strictlyOrdered,
    masterBitExact: a.masterBitExact,
    command: a.command,
  };
}

function decoyAucMax(): Record<string, unknown> | null {
  // decoy-detectors.ts computes the figure itself for the default decoys (pooled and per layer, with
  // each layer's chance level); older result files without it are read run by run below.
  // The many-key runs of the default decoys at random positions (keys32/, then keys16/) are the
  // final figure when they are there: the more keys, the lower the noise floor; they are rerun
  // whenever the default decoys change (the 8-key run of every mode, decoy-detectors.json, may be
  // the previous decoys': see its date).
  for (const file of ['keys32/decoy-detectors.json', 'keys16/decoy-detectors.json', 'decoy-detectors.json']) {
    const path = join(DIR, file);
    if (!existsSync(path)) continue;
    const d = readJson(path);
    if (d.decoyAucMax) return { ...d.decoyAucMax, command: d.decoyAucMax.command ?? d.command, date: d.date, source: `experiments/results/protect/${file}` };
  }
  let best: { value: number; detector: string; where: string; command: string } | undefined;
  const positionsAlone: { where: string; value: number }[] = [];
  for (const f of readdirSync(DIR).filter((x) => /^decoy-detectors.*\.json$/.test(x))) {
    const d = readJson(join(DIR, f));
    const selection = d.selection ?? 'top';
    for (const r of d.runs) {
      const about = r.reports
        .filter((x: { detector: string }) => !POSITION_ONLY.has(x.detector))
        .sort((a: { pooledSeparability: number }, b: { pooledSeparability: number }) => b.pooledSeparability - a.pooledSeparability);
      const pos = r.reports.find((x: { detector: string }) => POSITION_ONLY.has(x.detector));
      const where = `${r.model}, ${r.strategy} (${selection})`;
      if (pos && r.mode === 'context') positionsAlone.push({ where, value: Number(pos.pooledSeparability.toFixed(4)) });
      // The new decoys, on selections whose positions are not a clue themselves (random or balanced).
      if (r.mode === 'context' && (r.strategy === 'random' || selection === 'balanced') && (!best || about[0].pooledSeparability > best.value)) {
        best = { value: about[0].pooledSeparability, detector: about[0].detector, where: `${where} selection, context decoys`, command: d.command };
      }
    }
  }
  if (!best) return null;
  return {
    value: Number(best.value.toFixed(4)),
    detector: best.detector,
    where: best.where,
    measure: 'max over detectors and models of the pooled max(AUC, 1 − AUC); selections whose positions are not themselves a clue (random or balanced)',
    command: best.command,
    positionsAlone,
    positionsAloneNote: 'rowColumnEffect: what the selected POSITIONS give away (no decoy can change it); at chance for random selection',
  };
}

function fractionAtChance(): Record<string, unknown> {
  const f = join(DIR, 'fraction-at-chance.json');
  if (!existsSync(f)) return { value: null, note: 'experiments/results/protect/fraction-at-chance.json is not there yet (the importance part writes it)' };
  const d = readJson(f);
  if (d.best === undefined) return { value: null, note: 'fraction-at-chance.json has no `best` entry' };
  return { ...(typeof d.best === 'object' && d.best !== null ? d.best : { value: d.best }), command: d.best?.command ?? d.command, source: 'experiments/results/protect/fraction-at-chance.json' };
}

function unlockOverAes(): Record<string, unknown> {
  if (!existsSync(UNLOCK_BENCH)) return { resnet20: null, vgg19: null, note: 'bench/results/unlock.json is not there yet' };
  const b = readJson(UNLOCK_BENCH);
  const cases = b.settings?.unlockOverAes ?? {};
  const ratio = (name: string) => {
    const c = cases[name];
    return c === undefined ? null : Number((typeof c === 'number' ? c : c.median).toFixed(3));
  };
  const both = (variant: string) => ({ resnet20: ratio(`resnet20-${variant}`), vgg19: ratio(`vgg19-${variant}`) });
  // The headline: the long-lived case, the file opened once (parsed and verified with every check,
  // the digest of all weights included) and then unlocked in place when the key arrives (bench
  // case `opened`). A bench run from before that case existed has none: null, with the note.
  const opened = both('opened');
  return {
    ...opened,
    measure:
      'median over rounds of unlock time / whole-file AES-256-GCM decryption (+ parse) time, in memory; the unlock is of all tiers (master key), in place, from a file opened once by the process: parsed and verified with every check (signature, signer, digest of all weights) at open, outside the timing, and not changed since',
    ...(opened.resnet20 === null ? { note: 'bench/results/unlock.json has no `opened` case: run bench/unlock.ts again' } : {}),
    openedIntoCopies: { ...both('opened-copy'), note: 'the same into copies of the protected layers (the opened file stays as published, for further unlocks)' },
    openedTier1: { ...both('opened-tier1'), intoCopies: both('opened-tier1-copy'), note: 'tier 1 only (tier-1 key) from the opened file: in place, and into copies' },
    everyCheck: {
      ...both('every-check'),
      note: 'unlockModel(path) verifying everything itself at each unlock (signature, digest of all weights hashed as read, sections), over AES-256-GCM read + decryption of the whole file',
    },
    restoreOnly: {
      ...both('restore-only'),
      note: 'from disk with verifyWeights: false (the weights verified before), every other check at each unlock',
    },
    // unlock overlaps its reads (thread pool) with hashing and opening the sections: against a
    // whole-file AES-GCM read and decrypted with the same overlap (bench: *-vs-pipelined).
    overPipelinedAes: {
      resnet20: cases['resnet20-every-check-vs-pipelined']?.median ?? null,
      vgg19: cases['vgg19-every-check-vs-pipelined']?.median ?? null,
      restoreOnly: { resnet20: cases['resnet20-restore-only-vs-pipelined']?.median ?? null, vgg19: cases['vgg19-restore-only-vs-pipelined']?.median ?? null },
      note: 'the same over AES-256-GCM read in 4 MiB chunks, four in flight, each decrypted as it arrives',
    },
    // In memory (no read on either side): what a service that verified its file once pays per unlock.
    restoreOnlyInMemory: {
      resnet20: cases['resnet20-memory-restore-only']?.median ?? null,
      vgg19: cases['vgg19-memory-restore-only']?.median ?? null,
      note: 'bytes in memory, weights verified before: parse + unlock in place, against AES-256-GCM decryption + parse',
    },
    // What no unlock of a mode can go below on this CPU (bench floor-* rows, same run, same baseline).
    floor: b.floorOverAes
      ? {
          everyCheck: b.floorOverAes.everyCheck ?? null,
          everyCheckOverlapped: b.floorOverAes.everyCheckOverlapped ?? null,
          restoreOnly: b.floorOverAes.restoreOnly ?? null,
          restoreOnlyInMemory: b.floorOverAes.memoryRestoreOnly ?? null,
          note: "every check: (read + SHA-256 of all published weights) / (read + AES-256-GCM), and that hash overlapped with a chunked read; restore-only: read + parse + the key's fingerprint, HKDF and each section's SHA-256 and AES-GCM open (in memory: without the read)",
        }
      : null,
    date: b.date,
    command: b.command ?? 'node --import tsx bench/unlock.ts',
    source: 'bench/results/unlock.json',
  };
}

/** A head start per N in dB, to 0.01 dB. */
function roundDb(byN: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(byN).map(([n, h]) => [n, Number(h.toFixed(2))]));
}

function dncnnPaper(): Record<string, unknown> | null {
  const f = join(DIR, 'dncnn-paper.json');
  if (!existsSync(f)) return null;
  const d = readJson(f);
  return {
    setting: d.setting,
    weightFraction: d.weightFraction,
    noisyPsnr: d.noisyPsnr,
    tierPsnr: d.tiers.map((t: { psnr: number }) => Number(t.psnr.toFixed(2))),
    tier0BelowNoisy: d.tier0BelowNoisy,
    strictlyOrdered: d.strictlyOrdered,
    masterBitExact: d.masterBitExact,
    attackHeadStartDb: d.attack ? roundDb(d.attack.headStartDb) : null,
    // The attack measured on an earlier configuration of the setting (not rerun on this one).
    previousAttackHeadStartDb: d.previousAttack
      ? {
          tier0Psnr: Number(d.previousAttack.tier0Psnr.toFixed(2)),
          setting: d.previousAttack.setting,
          headStartDb: roundDb(d.previousAttack.attack.headStartDb),
        }
      : null,
    sweep: d.sweep ?? null,
    // Where the configuration was chosen: held-out train400 images (never Set12), or null when it
    // was chosen on Set12 itself (last session's sweep) or given by flags.
    screening: d.screening
      ? {
          set: d.screening.set.name,
          images: d.screening.set.files.length,
          middle: d.screening.middle.describe,
          rule: d.screening.rule,
          passed: d.screening.passed,
          tier0: Number(d.screening.winnerScreening.tier0.toFixed(2)),
          noisyPsnr: Number(d.screening.set.noisyPsnr.toFixed(2)),
          command: d.screening.command,
        }
      : null,
    command: d.command,
  };
}

/** The dense-front mode on DnCNN-S-25, per front share: the tiers and the thief's head start in dB. */
function dncnnDenseFront(): Record<string, unknown>[] | null {
  const f = join(DIR, 'dncnn-dense-front.json');
  if (!existsSync(f)) return null;
  const d = readJson(f);
  return Object.values(d.byShare as Record<string, Json>)
    .sort((a, b) => a.frontShare - b.frontShare)
    .map((e) => ({
      frontShare: e.frontShare,
      layers: e.layers,
      weightFraction: e.weightFraction,
      noisyPsnr: Number(e.noisyPsnr.toFixed(2)),
      tierPsnr: e.tiers.map((t: { psnr: number }) => Number(t.psnr.toFixed(2))),
      tier0BelowNoisy: e.tier0BelowNoisy,
      strictlyOrdered: e.strictlyOrdered,
      masterBitExact: e.masterBitExact,
      headStartDb: roundDb(e.attack.headStartDb),
      command: e.command,
    }));
}

/** summary.json's content. */
export function buildSummary(): Record<string, unknown> {
  const perTier: Record<string, unknown> = {};
  for (const m of [1, 2]) perTier[String(m)] = attackEntry(`${BASELINE_MODE}-tier${m}`);
  return {
    headStart: attackEntry(NEW_MODE),
    headStartBaseline: attackEntry(BASELINE_MODE),
    headStartPerTier: perTier,
    decoyAucMax: decoyAucMax(),
    allWeightsFractionAtChance: fractionAtChance(),
    unlockOverAes: unlockOverAes(),
    dncnnPaper: dncnnPaper(),
    dncnnDenseFront: dncnnDenseFront(),
  };
}

/** The results page's plain section: what tier 0 protects against, and what it does not, with the figures. */
export function tier0Section(summary: Record<string, unknown>): string[] {
  const base = summary.headStartBaseline as Record<string, Json> | null;
  const fresh = summary.headStart as Record<string, Json> | null;
  const perTier = summary.headStartPerTier as Record<string, Record<string, Json> | null>;
  const dm = summary.decoyAucMax as {
    value: number;
    mode?: string;
    keys?: number;
    pooled?: { value: number };
    oneKey?: { perLayer: { value: number } };
    keyAveraged?: { atChance: { perLayer: { value: number } } };
  } | null;
  const keys = dm?.keys ?? 1;
  const averagedNote =
    dm && keys > 1 && dm.keyAveraged && dm.oneKey
      ? ` (each AUC averaged over ${keys} keys; without decoys, chance alone reaches ${dm.keyAveraged.atChance.perLayer.value.toFixed(3)} in the worst layer at the same keys; one key's worst layer: ${dm.oneKey.perLayer.value.toFixed(3)})`
      : '';
  const dn = summary.dncnnPaper as Record<string, Json> | null;
  const dd = summary.dncnnDenseFront as Record<string, Json>[] | null;
  return [
    '## What tier 0 protects against, and what it does not',
    '',
    '- **It protects against using the file as it is.** The published model runs and scores like a random guess (tier 0 at or near 0.10 on CIFAR-10 at the default 8% of kernels); the sealed tiers restore it, the master key bit-exactly.',
    base
      ? `- **Sparse protection (the default) does not protect against a thief with a few labelled images who fine-tunes.** With today's default (L1, 8% of each layer's kernels, ${(100 * base.weightFraction).toFixed(1)}% of all weights) the attacker who fine-tunes the tier-0 file gets ${pointsAt(base)} more accuracy than training from scratch with the same images and steps: the 92% of weights left in the clear are a pretrained model with holes, and a few hundred steps fill the holes.`
      : '- The fine-tuning attack on the default protection has not been measured yet.',
    ...[1, 2].flatMap((m) => {
      const t = perTier[String(m)];
      return t ? [`- A holder of tier ${m}'s key (${(100 * t.weightFraction).toFixed(1)}% of all weights still decoys) who fine-tunes: ${pointsAt(t)} over scratch.`] : [];
    }),
    fresh
      ? `- **\`--mode dense-front\` removes the head start at ${(100 * fresh.weightFraction).toFixed(1)}% of all weights.** Decoys in every kernel of conv1, layer1 and layer2 (BN, layer3 and the classifier in the clear): head start ${pointsAt(fresh)} (negative: fine-tuning the file is worse than starting from scratch), tiers ${fresh.tierAccuracy.map((x: number) => x.toFixed(3)).join(' / ')} (${fresh.strictlyOrdered ? 'strictly ordered' : 'NOT strictly ordered'}), the master key ${fresh.masterBitExact ? 'bit-exact' : 'NOT bit-exact'}. ` +
        denseOthers()
      : '',
    dn
      ? `- **DnCNN in the paper's setting (2% of three middle layers, ${(100 * dn.weightFraction).toFixed(2)}% of all weights, 5 tiers)${dn.tier0BelowNoisy && dn.strictlyOrdered ? '' : ' does not hold either'}.** Tier 0 gives ${dn.tierPsnr[0].toFixed(2)} dB on Set12 at σ = 25, ${dn.tier0BelowNoisy ? 'below' : 'above'} the noisy input's ${dn.noisyPsnr.toFixed(2)} dB; the tiers are ${dn.tierPsnr.map((x: number) => x.toFixed(2)).join(' / ')} dB (${dn.strictlyOrdered ? 'strictly ordered' : 'NOT strictly ordered'}; ${dn.setting.estimator ?? 'pss'} importance, ${dn.setting.decoys} decoys, layers ${dn.setting.layers.map((l: string) => l.replace('.weight', '')).join(', ')}${dn.screening ? `, chosen among the middle ones: ${dn.screening.middle}` : ''}). ` +
        (dn.screening
          ? `The configuration was chosen on ${dn.screening.images} held-out train400 images, never on Set12 (there tier 0 gave ${dn.screening.tier0.toFixed(2)} dB against a noisy ${dn.screening.noisyPsnr.toFixed(2)}${dn.screening.passed ? '' : '; no middle-layer configuration passed there'}), and measured once on Set12. `
          : 'The configuration was chosen on Set12 itself. ') +
        (dn.attackHeadStartDb
          ? `A thief who fine-tunes tier 0 with ${Object.keys(dn.attackHeadStartDb).join(', ')} clean patches gets ${Object.values(dn.attackHeadStartDb).join(', ')} dB over training from scratch.`
          : dn.previousAttackHeadStartDb
            ? `The attack was not rerun on this configuration; on the earlier one (tier 0 at ${dn.previousAttackHeadStartDb.tier0Psnr} dB) a thief who fine-tuned tier 0 with ${Object.keys(dn.previousAttackHeadStartDb.headStartDb).join(', ')} clean patches got ${Object.values(dn.previousAttackHeadStartDb.headStartDb).join(', ')} dB over training from scratch: a tier 0 below the noisy input is not a tier 0 a thief cannot repair.`
            : 'The attack has not been run.')
      : '',
    dd && dd.length > 0
      ? `- **On DnCNN, \`--mode dense-front\`${dd.every((e) => Math.min(...(Object.values(e.headStartDb) as number[])) > 1) ? ' does not remove the head start' : ''}.** The same thief (N = ${Object.keys(dd[0].headStartDb).join(', ')} clean patches, the same steps and learning rates, each side keeping its best) against the dense-front file: ${dd
          .map(
            (e) =>
              `front share ${e.frontShare} (${e.layers.length} layers, ${(100 * e.weightFraction).toFixed(1)}% of all weights): tiers ${e.tierPsnr.map((x: number) => x.toFixed(2)).join(' / ')} dB (${e.strictlyOrdered ? 'strictly ordered' : 'NOT strictly ordered'}, tier 0 ${e.tier0BelowNoisy ? 'below' : 'above'} the noisy ${e.noisyPsnr.toFixed(2)}; master ${e.masterBitExact ? 'bit-exact' : 'NOT bit-exact'}), head start ${Object.values(e.headStartDb).join(', ')} dB`,
          )
          .join('; ')} (\`${dd[0].command}\`, and the same for the other shares).`
      : '',
    dm
      ? `- **The decoys themselves are hard to find but not invisible.** Against the default decoys (${dm.mode ?? 'context'}) at random positions the best of the detectors separates decoys from genuine kernels at ${(dm.pooled?.value ?? dm.value).toFixed(3)} pooled over a model's layers and at ${dm.value.toFixed(3)} in the worst layer with at least 20 decoys${averagedNote} (max(AUC, 1 − AUC); 0.5 = chance; 0.1's per-position decoys: 0.89–0.90 pooled). Where the kernels were chosen by importance, their positions alone separate them at 0.67–0.72 (balanced selection: 0.58–0.59), and finding them does not matter much anyway: resetting the suspects before fine-tuning did not beat fine-tuning directly. In the dense mode there is nothing to find: the header names the protected layers, and every kernel in them is a decoy.`
      : '',
    '',
  ];
}

export async function writeSummary(): Promise<string> {
  const path = join(DIR, 'summary.json');
  await writeFileAtomic(path, `${JSON.stringify(buildSummary(), null, 1)}\n`);
  return path;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`wrote ${await writeSummary()}`);
