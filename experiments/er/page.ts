// Builds experiments/results/er/README.md and summary.json from the stored units in
// experiments/results/er/runs/ (fold.json, frozen-<init>.json, key-from-weights.json). Missing
// units are reported as not measured.
//
//   node --import tsx experiments/er/page.ts
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { disjointSection } from './page-disjoint.ts';

// --results: another folder of the same layout (a smoke run's).
const { values } = parseArgs({ options: { results: { type: 'string', default: 'experiments/results/er' } } });
const RESULTS = values.results!;
const RUNS = `${RESULTS}/runs`;
// biome-ignore lint/suspicious/noExplicitAny: stored JSON of the units
const read = (name: string): any => (existsSync(`${RUNS}/${name}.json`) ? JSON.parse(readFileSync(`${RUNS}/${name}.json`, 'utf8')) : null);
const f4 = (x: number | undefined) => (x === undefined || x === null ? '—' : x.toFixed(4));
const sec = (s: number) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

const fold = read('fold');
const frozen = readdirSync(RUNS)
  .filter((f) => f.startsWith('frozen-') && f.endsWith('.json'))
  .sort()
  .map((f) => read(f.slice(0, -5)));
const leak = read('key-from-weights');
const lines: string[] = [
  '# Encrypted-image learning with pretrained backbones (issue 14)',
  '',
  'Regenerate: `node --import tsx experiments/er/run.ts` (each unit is stored in `runs/` and skipped when present; `experiments/er/page.ts` rebuilds this page). Shared CIFAR-10 (30,000 training / 5,000 test images, JPEG-decoded), k = 4 keys from a fixed secret (0e×32), seed 0, 1 libtorch thread on a 2-core machine shared with 7 other jobs (wall times are inflated by the load).',
  '',
];
const summary: Record<string, unknown> = {};

const disjoint = disjointSection(RESULTS);
lines.push(...disjoint.lines);

lines.push("## Exact absorption: a Hill key folded into a ConvMixer's patch embedding", '');
if (fold) {
  lines.push(
    `\`${fold.architecture}\` (4×4 patch embedding, stride 4) trained on plaintext, ${fold.trainImages} images × ${fold.epochs} epochs (${sec(fold.trainSeconds)}), then folded with W′_c = K_c⁻¹·W_c per channel, the input normalisation folded in first (\`nnlock er fold\`, src/er/fold.ts). Command: \`${fold.command}\`.`,
    '',
    '| key | plaintext model on plaintext | folded model on ciphertext | plaintext model on ciphertext (no fold) | max logit difference (500 images) | fold time | key from W and W′, rel. error |',
    '|---|---|---|---|---|---|---|',
  );
  for (const r of fold.rows)
    lines.push(
      `| ${r.kind} | ${f4(r.plaintextAccuracy)} | ${f4(r.ciphertextAccuracy)} | ${f4(r.unfoldedOnCiphertext)} | ${r.maxLogitDiff.toExponential(2)} | ${(r.foldSeconds * 1000).toFixed(0)} ms | ${r.keyFromBothRelError.toExponential(2)} |`,
    );
  lines.push(
    '',
    'The accuracies are equal to four decimals on all 5,000 test images; on the first 500 the logits differ by at most the figure above (float32 rounding). The accuracy itself is low (a 2-epoch, 8,000-image budget): the claim is equality, not a good model. Whoever holds both the plaintext and the folded model recovers the key exactly: K_c⁻ᵀ = pinv(W_c)·W′_c, with W_c of full column rank (128 ≥ 16), to float32 rounding. Publishing both models publishes the key.',
    '',
  );
  const u = fold.rows[0];
  summary.foldAccuracy = { plaintext: u.plaintextAccuracy, ciphertext: u.ciphertextAccuracy, key: u.kind, images: u.images, command: fold.command };
  summary.foldKeyFromBothRelError = { value: Math.max(...fold.rows.map((r: { keyFromBothRelError: number }) => r.keyFromBothRelError)), command: fold.command };
} else lines.push('Not measured.', '');

lines.push('## Plaintext accuracy on ciphertext with a frozen backbone', '');
if (frozen.length) {
  lines.push(
    'The shared ResNet-20 (0.8122 on the plaintext test set) frozen (`--freeze-backbone`: no gradients, eval-mode batch norm) behind an aligned adaptation network that learns from labeled ciphertext only (uniform key; the first N images of data_batch_1/2 encrypted on the fly, no augmentation; batch 128, cosine schedule, no weight decay), evaluated on the 5,000 encrypted test images. The statistical init needs no key but a plaintext prior of other images (data_batch_3, 10,000 images, never trained on) and reads the N training ciphertexts. Note the setting: this ResNet-20 was pretrained on the CIFAR-10 training set, so the labeled ciphertexts are of images it saw as plaintext.',
    '',
    '| unit | init | labeled images | epochs | optimizer, lr | accuracy before training | test accuracy | / 0.8122 | wall time | command |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of frozen)
    lines.push(
      `| ${r.unit ?? r.init} | ${r.init}${r.init === 'key-inverse' ? ' (oracle, uses the key)' : ''} | ${r.labeledImages} | ${r.epochs} | ${r.init === 'key-inverse' ? '— (no training)' : `${r.optimizer ?? 'sgd'} ${r.lr}`} | ${f4(r.initAccuracy)} | ${f4(r.testAccuracy)} | ${f4(r.ratio)} | ${sec(r.seconds)} | \`${r.command}\` |`,
    );
  lines.push(
    '',
    'SGD (momentum 0.9) at lr 0.01 diverged from both the statistical and the whitening start (training loss above ln 10); Adam does not. The statistical init alone, before any training, is already at 0.8082 / 0.8122 = 0.9951 with 20,000 ciphertexts (0.8016 with 5,000); one epoch of Adam at 1e-4 on the labels takes it to 0.8140. From the default or the whitening start, one epoch of 20,000 labeled ciphertexts is far from enough (0.15 and 0.19): the frozen backbone must be fed a near-exact decryption, which only the statistical start provides at this budget.',
  );
  const keyless = frozen.filter((r: { init: string }) => r.init !== 'key-inverse');
  const best = keyless.reduce((a: { ratio: number } | null, r: { ratio: number }) => (!a || r.ratio > a.ratio ? r : a), null);
  lines.push(
    '',
    `Target ≥ 0.995 of plaintext accuracy: ${best ? `best keyless init ${best.init} reaches ${f4(best.ratio)} — ${best.ratio >= 0.995 ? 'met' : 'NOT met'} at this budget` : 'no keyless run'}.`,
    '',
  );
  summary.frozenBackboneRatio = {
    value: best?.ratio ?? null,
    init: best?.init ?? null,
    unit: best?.unit ?? best?.init ?? null,
    labeledImages: best?.labeledImages ?? null,
    epochs: best?.epochs ?? null,
    byUnit: Object.fromEntries(
      frozen.map((r: { unit?: string; init: string; ratio: number; initAccuracy?: number; labeledImages: number; epochs: number; command: string }) => [
        r.unit ?? r.init,
        { init: r.init, ratio: r.ratio, initAccuracyRatio: r.initAccuracy === undefined ? null : r.initAccuracy / 0.8122, labeledImages: r.labeledImages, epochs: r.epochs, command: r.command },
      ]),
    ),
    command: best?.command ?? null,
  };
} else lines.push('Not measured.', '');

lines.push("## What the trained model leaks: the key from the adaptation network's weights", '');
if (leak?.rows?.length) {
  lines.push(
    "From each trained frozen-backbone model, its adaptation network's weights only (`nnlock attack er-weights`, src/attacks/er-weights.ts): the composite map A = W2ᵀ·W1 of the aligned network, per-channel block A_cc ≈ K_c⁻ᵀ/s_c, so K̂_c = (s_c·A_ccᵀ)⁻¹ with the backbone's public input std s. PSNR: 1,000 test images encrypted with the true key, decrypted with K̂, clamped to [0, 1].",
    '',
    '| model (init-variant) | rel. error of K̂ | after one scale per channel | rel. error of K̂⁻¹ | cross-channel share of A | PSNR of images decrypted with K̂ |',
    '|---|---|---|---|---|---|',
  );
  for (const r of leak.rows)
    lines.push(
      `| ${r.init} | ${r.relError.toExponential(3)} | ${r.scaleFreeRelError.toExponential(3)} | ${r.inverseRelError?.toExponential(3) ?? '—'} | ${r.crossChannel.toFixed(4)} | ${r.decryptedPsnr.toFixed(2)} dB |`,
    );
  lines.push(
    '',
    `Command: \`${leak.command}\` (per model, e.g. \`${leak.rows[0].command}\`).`,
    '',
    "A network that learned to decrypt is a decryptor: from the statistical-init model trained on 20,000 labeled ciphertexts, the key read off its weights decrypts the test images to 40.63 dB, with no plaintext and no ciphertext used by the attack. The key matrix itself comes out only to a relative error of 0.38 (its inverse, the decryption, to 0.24): the network learns K⁻¹ well only in the directions images use, and inverting to K amplifies the others; for an attacker the decryption is what counts. That network started from the ciphertext-only statistical recovery, which already leaks the images (experiments/results/cipher: about 42 dB); what the training adds is the labels' push toward the exact inverse. The networks that did not learn to decrypt at this budget (default, whitening starts) leak nothing by this route (6–7 dB).",
  );
  const best = leak.rows.reduce((a: { relError: number } | null, r: { relError: number }) => (!a || r.relError < a.relError ? r : a), null);
  summary.keyFromAdapterRelError = {
    value: best.relError,
    init: best.init,
    decryptedPsnr: best.decryptedPsnr,
    byModel: Object.fromEntries(
      leak.rows.map((r: { init: string; relError: number; inverseRelError: number; decryptedPsnr: number }) => [
        r.init,
        { relError: r.relError, inverseRelError: r.inverseRelError, decryptedPsnr: r.decryptedPsnr },
      ]),
    ),
    command: best.command,
  };
} else lines.push('Not measured.', '');

summary.decryptionPsnrByRound = disjoint.summary;
lines.push(
  '## Not measured',
  '',
  'The frozen-backbone ratio of the default and whitening inits at larger budgets (how many labeled images and epochs each needs to reach 0.995): only the 20,000-image, 1-epoch figures above. The disjoint units at the full ~15,000 images of classes 5–9 and longer rounds (they ran at 7,500 images × 3 epochs to finish on the shared machine).',
  '',
);
writeFileSync(`${RESULTS}/README.md`, `${lines.join('\n')}\n`);
writeFileSync(`${RESULTS}/summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
process.stderr.write(`wrote ${RESULTS}/README.md and summary.json\n`);
