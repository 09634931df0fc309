// `nnlock cipher keygen | encrypt | decrypt | attack`: block-wise Hill-cipher keys, encryption of
// images and CIFAR-10 files, and attacks on the cipher (key assessment, known-plaintext key
// recovery from files, learned decryption by a trained Encryption-Robust model).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { noGrad, scope, type Tensor } from '../../tensor/index.ts';
import { div } from '../../ops/arithmetic.ts';
import { toDtype } from '../../ops/convert.ts';
import { narrow } from '../../ops/shape.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import {
  CIPHER_KINDS, type CipherKey, CipherKeyError, DEFAULT_MAX_CONDITION, assertKind, deriveKey, describeKey, keyId,
  parseSecretHex, randomSecret,
} from '../../cipher/key.ts';
import { loadKey, saveKey } from '../../cipher/key-file.ts';
import { BlockCipher } from '../../cipher/hill.ts';
import {
  ENCRYPTED_DATASET_FORMAT, decryptDatasetFiles, decryptImageFile, encryptCifarFiles, encryptImageFile, encryptPixels,
  readImagesTensor, safetensorsFormat,
} from '../../cipher/data.ts';
import { assessKey, assessmentMarkdown } from '../../attacks/assess.ts';
import { knownPlaintextAttack } from '../../attacks/known-plaintext.ts';
import { learnedDecryption, adaptedImages } from '../../attacks/learned.ts';
import { loadErModel } from '../../er/model-file.ts';
import { registerStatisticalAttack } from './cipher-statistical.ts';
import { minMaxScale, writeImageGrid } from '../../er/pictures.ts';

export function intArg(value: string, name: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function numberArg(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got '${value}'`);
  return n;
}

async function readSecret(o: { secret?: string; secretFile?: string }): Promise<Uint8Array> {
  if (o.secret && o.secretFile) throw new Error('give --secret or --secret-file, not both');
  if (o.secret) return parseSecretHex(o.secret);
  if (o.secretFile) {
    let text: string;
    try {
      text = await readFile(o.secretFile, 'utf8');
    } catch {
      throw new Error(`--secret-file ${o.secretFile}: cannot read it`);
    }
    return parseSecretHex(text);
  }
  return randomSecret();
}

const isBin = (p: string) => extname(p).toLowerCase() === '.bin';
const isSt = (p: string) => extname(p).toLowerCase() === '.safetensors';

function checkInputs(inputs: string[]): void {
  if (inputs.length === 0) throw new Error('no input files given');
  for (const p of inputs) if (!existsSync(p)) throw new Error(`${p}: no such file`);
}

async function isDatasetFile(path: string): Promise<boolean> {
  if (isBin(path)) return true;
  return isSt(path) && (await safetensorsFormat(path)) === ENCRYPTED_DATASET_FORMAT;
}

/** Output path for one of several inputs: out is a folder. */
function intoFolder(out: string, input: string, ext: string): string {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new Error(`with several inputs, --out must be a folder; ${out} is a file`);
  mkdirSync(out, { recursive: true });
  return join(out, basename(input, extname(input)) + ext);
}

function writeJsonAndMarkdown(prefix: string, json: unknown, md: string): Promise<[void, void]> {
  return Promise.all([writeFileAtomic(`${prefix}.json`, `${JSON.stringify(json, null, 2)}\n`), writeFileAtomic(`${prefix}.md`, md)]);
}

export function registerCipher(program: Command): void {
  const cipher = program
    .command('cipher')
    .description('block-wise Hill-cipher image encryption: keys, encryption, decryption and attacks');

  cipher
    .command('keygen')
    .description('derive a key from a 256-bit secret (random unless given) and write it as a key file (mode 0600)')
    .requiredOption('--kind <kind>', `key kind: ${CIPHER_KINDS.join(' | ')}`)
    .option('-k, --block <k>', 'block size (4 for 32×32 images, 8 for 224×224)', '4')
    .option('--channels <n>', 'image channels (one matrix each)', '3')
    .option('--shuffle', 'also permute block positions (key-driven)')
    .option('--secret-file <file>', 'read the 256-bit secret (64 hex digits) from a file')
    .option('--secret <hex>', 'the secret as 64 hex digits (visible to other users in the process list: prefer --secret-file)')
    .option('--max-condition <x>', 'reject real keys whose condition number exceeds this', String(DEFAULT_MAX_CONDITION))
    .option('--form <form>', 'key file form: secret (compact; matrices re-derived on load) | matrices', 'secret')
    .requiredOption('-o, --out <file>', 'key file to write (JSON)')
    .option('--force', 'overwrite an existing key file')
    .addHelpText('after', '\nExamples:\n  nnlock cipher keygen --kind orthogonal -k 4 -o key.json\n  nnlock cipher keygen --kind hill256 -k 8 --shuffle --secret-file secret.hex -o key224.json')
    .action(async (o: { kind: string; block: string; channels: string; shuffle?: boolean; secret?: string; secretFile?: string; maxCondition: string; form: string; out: string; force?: boolean }) => {
      const kind = assertKind(o.kind);
      if (o.form !== 'secret' && o.form !== 'matrices') throw new Error(`--form must be secret or matrices, got '${o.form}'`);
      if (existsSync(o.out) && !o.force) throw new Error(`${o.out} exists; pass --force to overwrite it`);
      const secret = await readSecret(o);
      const key = deriveKey(secret, {
        kind, k: intArg(o.block, '--block'), channels: intArg(o.channels, '--channels'), shuffle: !!o.shuffle,
        maxCondition: numberArg(o.maxCondition, '--max-condition'),
      });
      await saveKey(key, o.out, o.form);
      console.log(`wrote ${o.out} (mode 0600): ${describeKey(key)}`);
    });

  cipher
    .command('encrypt')
    .description('encrypt images (PNG/JPEG) or CIFAR-10 .bin files with a key')
    .argument('<inputs...>', 'image files, or CIFAR-10 .bin files (encrypted together into one dataset)')
    .requiredOption('-K, --key <file>', 'key file')
    .requiredOption('-o, --out <path>', 'output file (a folder for several images)')
    .addHelpText('after', [
      '',
      'Outputs: hill256 keeps the format (PNG → PNG, CIFAR-10 .bin → CIFAR-10 .bin, bytes 0..255);',
      'uniform/orthogonal ciphertexts are real-valued: a .safetensors file (float32 "image" [C,H,W], or',
      '"images" [N,C,H,W] + "labels" [N] for a dataset) recording the key id.',
      '',
      'Examples:',
      '  nnlock cipher encrypt -K key.json photo.png -o photo.enc.png',
      '  nnlock cipher encrypt -K key.json data_batch_1.bin data_batch_2.bin -o train.enc.safetensors',
    ].join('\n'))
    .action(async (inputs: string[], o: { key: string; out: string }) => {
      checkInputs(inputs);
      const key = await loadKey(o.key);
      const hill = key.kind === 'hill256';
      if (inputs.every(isBin)) {
        const t0 = performance.now();
        const { count } = await encryptCifarFiles(inputs, o.out, key);
        const s = (performance.now() - t0) / 1000;
        console.log(`encrypted ${count} images into ${o.out} (${describeKey(key)}; ${s.toFixed(1)} s, ${(count / s).toFixed(0)} images/s)`);
        return;
      }
      if (inputs.some(isBin)) throw new Error('mix of CIFAR-10 .bin files and images: encrypt them separately');
      const ext = hill ? '.png' : '.safetensors';
      for (const input of inputs) {
        const out = inputs.length === 1 ? o.out : intoFolder(o.out, input, ext);
        const { height, width } = await encryptImageFile(input, out, key);
        console.log(`${input} (${height}×${width}) → ${out}`);
      }
    });

  cipher
    .command('decrypt')
    .description('decrypt what `nnlock cipher encrypt` wrote')
    .argument('<inputs...>', 'encrypted images (.png for hill256, .safetensors otherwise) or an encrypted dataset (.bin / .safetensors)')
    .requiredOption('-K, --key <file>', 'key file')
    .requiredOption('-o, --out <path>', 'output: .png (or .safetensors for exact floats) for images, CIFAR-10 .bin for datasets; a folder for several images')
    .action(async (inputs: string[], o: { key: string; out: string }) => {
      checkInputs(inputs);
      const key = await loadKey(o.key);
      const datasets = await Promise.all(inputs.map(isDatasetFile));
      if (datasets.every(Boolean)) {
        const { count, maxPixelError } = await decryptDatasetFiles(inputs, o.out, key);
        console.log(`decrypted ${count} images into ${o.out}${key.kind === 'hill256' ? ' (exact)' : ` (largest pixel error before rounding: ${maxPixelError.toExponential(2)} of 255)`}`);
        return;
      }
      if (datasets.some(Boolean)) throw new Error('mix of datasets and images: decrypt them separately');
      for (const input of inputs) {
        const out = inputs.length === 1 ? o.out : intoFolder(o.out, input, '.png');
        await decryptImageFile(input, out, key);
        console.log(`${input} → ${out}`);
      }
    });

  const attack = cipher
    .command('attack')
    .description('attacks on the cipher: assess (a key\'s security report), known-plaintext (recover a key from files), statistical (ciphertext-only, from image statistics), learned (decryption by a trained model)');
  registerStatisticalAttack(attack);

  attack
    .command('assess')
    .description('security assessment of a key: measured known-plaintext attack (also against shuffling) and leakage; JSON + Markdown')
    .requiredOption('-K, --key <file>', 'key file')
    .option('--plain <file>', 'known plaintext to attack with (CIFAR-10 .bin or an image); default synthetic random images')
    .option('--images <n>', 'images of --plain to use', '200')
    .option('--seed <n>', 'seed of the synthetic data', '0')
    .option('--no-shuffled', 'skip the shuffled-position attack')
    .option('-o, --out <prefix>', 'write <prefix>.json and <prefix>.md')
    .action(async (o: { key: string; plain?: string; images: string; seed: string; shuffled: boolean; out?: string }) => {
      const key = await loadKey(o.key);
      let plain: Tensor | undefined;
      if (o.plain) {
        const { x } = await readImagesTensor(o.plain, { limit: intArg(o.images, '--images'), channels: key.channels === 1 ? 1 : 3 });
        plain = noGrad(() => scope(() => div(toDtype(x, 'float32'), 255)));
        x.dispose();
      }
      try {
        const report = assessKey(key, { plain, seed: intArg(o.seed, '--seed', 0), shuffledAttack: o.shuffled });
        const md = assessmentMarkdown(report);
        if (o.out) {
          await writeJsonAndMarkdown(o.out, report, md);
          console.log(`wrote ${o.out}.json and ${o.out}.md`);
        }
        console.log(md);
      } finally {
        plain?.dispose();
      }
    });

  attack
    .command('known-plaintext')
    .description('recover a key from known plaintext and its ciphertext (files), without the key')
    .requiredOption('--plain <file>', 'plaintext: CIFAR-10 .bin or an image')
    .requiredOption('--cipher <file>', 'its ciphertext as `nnlock cipher encrypt` wrote it (same images, same order)')
    .requiredOption('--kind <kind>', `the cipher's kind: ${CIPHER_KINDS.join(' | ')}`)
    .option('-k, --block <k>', 'block size', '4')
    .option('--images <n>', 'use the first n images', '1')
    .option('--blocks <n>', 'use only the first n blocks per channel (default: all of those images)')
    .option('--true-key <file>', 'score the result against this key file')
    .option('--out-key <file>', 'write the recovered key (matrices form, mode 0600)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { plain: string; cipher: string; kind: string; block: string; images: string; blocks?: string; trueKey?: string; outKey?: string; json?: boolean }) => {
      const kind = assertKind(o.kind);
      const k = intArg(o.block, '--block');
      const limit = intArg(o.images, '--images');
      const trueKey = o.trueKey ? await loadKey(o.trueKey) : undefined;
      const p = await readImagesTensor(o.plain, { limit });
      const c = await readImagesTensor(o.cipher, { limit });
      try {
        if (p.x.shape.join() !== c.x.shape.join()) throw new Error(`plaintext [${p.x.shape}] and ciphertext [${c.x.shape}] differ in shape`);
        const result = noGrad(() => scope(() => {
          const plain = kind === 'hill256' ? p.x : div(toDtype(p.x, 'float32'), 255);
          if (kind === 'hill256' && c.x.dtype !== 'uint8') throw new CipherKeyError(`${o.cipher} holds real values, not a hill256 ciphertext`);
          if (kind !== 'hill256' && c.x.dtype === 'uint8') throw new CipherKeyError(`${o.cipher} holds bytes: a ${kind} ciphertext is real-valued (did you mean --kind hill256?)`);
          return knownPlaintextAttack(plain, c.x, kind, k, { blocks: o.blocks ? intArg(o.blocks, '--blocks') : undefined, trueKey });
        }));
        if (o.outKey && result.key) await saveKey(result.key, o.outKey, 'matrices');
        const summary = {
          kind, k, blocksPerChannel: result.blocks, determined: result.determined, recovered: result.recovered,
          recoveredKeyId: result.key ? keyId(result.key) : null,
          channels: result.channels.map((ch) => ({ channel: ch.channel, rank: ch.rank, determined: ch.determined, relativeResidual: ch.relativeResidual, maxAbsError: ch.maxAbsError, recovered: ch.recovered })),
        };
        if (o.json) console.log(JSON.stringify(summary, null, 2));
        else {
          console.log(`known-plaintext attack on ${kind}, k=${k}: ${result.blocks} known blocks per channel`);
          for (const ch of summary.channels) {
            console.log(`  channel ${ch.channel}: rank ${ch.rank}/${k * k}, ${ch.determined ? 'key matrix determined' : 'NOT determined (need more or more varied blocks)'}` +
              `, residual ${ch.relativeResidual.toExponential(2)}${ch.maxAbsError !== undefined ? `, max |K̂−K| ${ch.maxAbsError.toExponential(2)}` : ''}`);
          }
          if (trueKey) console.log(result.recovered ? 'the true key was recovered' : 'the true key was NOT recovered');
          if (o.outKey) console.log(result.key ? `wrote the recovered key to ${o.outKey} (id ${keyId(result.key)})` : 'no key written: not every channel was determined');
        }
      } finally {
        p.x.dispose();
        c.x.dispose();
      }
    });

  attack
    .command('learned')
    .description('learned decryption: PSNR/SSIM of a trained model\'s adaptation output against the plaintext (raw and after oracle affine fits)')
    .requiredOption('-m, --model <file>', 'Encryption-Robust model file from `nnlock er train`')
    .requiredOption('-K, --key <file>', 'the key the model was trained for')
    .requiredOption('-d, --data <file>', 'plaintext test images: CIFAR-10 .bin')
    .option('--images <n>', 'images to score', '1000')
    .option('-o, --out <prefix>', 'write <prefix>.json and <prefix>.md')
    .option('--grid <file>', 'also write a PNG grid: ciphertext, adaptation output (raw and fitted), plaintext')
    .action(async (o: { model: string; key: string; data: string; images: string; out?: string; grid?: string }) => {
      const key = await loadKey(o.key);
      const { model, spec } = await loadErModel(o.model, key);
      const bc = new BlockCipher(key);
      const { x } = await readImagesTensor(o.data, { limit: intArg(o.images, '--images') });
      try {
        const report = noGrad(() => scope(() => {
          if (!model.adaptation) throw new Error(`${o.model} has no adaptation network (trained with --adaptation none)`);
          const plain = div(toDtype(x, 'float32'), 255);
          const input = encryptPixels(plain, bc);
          return learnedDecryption(model, input, plain);
        }));
        const md = learnedMarkdown(o.model, spec.adaptation, key, report);
        if (o.out) {
          await writeJsonAndMarkdown(o.out, { model: o.model, keyId: keyId(key), adaptation: spec.adaptation, ...report }, md);
          console.log(`wrote ${o.out}.json and ${o.out}.md`);
        }
        if (o.grid) {
          await writeCipherGrid(o.grid, model, bc, x, 8);
          console.log(`wrote ${o.grid}`);
        }
        console.log(md);
      } finally {
        x.dispose();
        bc.dispose();
        model.dispose();
      }
    });
}

type LearnedReport = ReturnType<typeof learnedDecryption>;

export function learnedMarkdown(modelPath: string, adaptation: string, key: CipherKey, r: LearnedReport): string {
  const row = (name: string, q: { psnr: number; ssim: number }) => `| ${name} | ${q.psnr.toFixed(2)} | ${q.ssim.toFixed(4)} |`;
  return [
    `# Learned decryption by ${basename(modelPath)}`,
    '',
    `- key: ${describeKey(key)}`,
    `- adaptation network: ${adaptation}; ${r.images} test images`,
    '',
    '| output compared with the plaintext | PSNR (dB) | SSIM |',
    '|---|---:|---:|',
    row('adaptation output, raw (clamped to [0, 1])', r.raw),
    row('adaptation output, per-channel affine fit (oracle)', r.perChannelAffine),
    row('adaptation output, colour affine fit (oracle)', r.colourAffine),
    row('ciphertext, per-channel affine fit (oracle) — baseline', r.ciphertextPerChannelAffine),
    '',
    `Per-channel fit: scale ${r.perChannelAffine.scale.map((v) => v.toPrecision(3)).join(', ')}; offset ${r.perChannelAffine.offset.map((v) => v.toPrecision(3)).join(', ')}.`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/**
 * The picture grid for the first `count` images of plaintext bytes x [N, C, H, W]; the affine fit of
 * the "adapted (fit)" column uses all of x.
 */
export async function writeCipherGrid(path: string, model: Awaited<ReturnType<typeof loadErModel>>['model'], bc: BlockCipher, x: Tensor, count: number): Promise<void> {
  const n = Math.min(count, x.shape[0]);
  const cols = noGrad(() => scope(() => {
    const plain = div(toDtype(x, 'float32'), 255);
    const input = encryptPixels(plain, bc);
    const shown = bc.key.kind === 'hill256' ? input : minMaxScale(input);
    if (!model.adaptation) return [{ title: 'ciphertext', images: narrowFirst(shown, n) }, { title: 'plaintext', images: narrowFirst(plain, n) }];
    const { raw, fitted } = adaptedImages(model, input, plain);
    return [
      { title: 'ciphertext', images: narrowFirst(shown, n) }, { title: 'adapted (raw)', images: narrowFirst(raw, n) },
      { title: 'adapted (fit)', images: narrowFirst(fitted, n) }, { title: 'plaintext', images: narrowFirst(plain, n) },
    ];
  }));
  try {
    await writeImageGrid(path, cols, { count: n });
  } finally {
    for (const c of cols) c.images.dispose();
  }
}

function narrowFirst(x: Tensor, n: number): Tensor {
  return narrow(x, 0, 0, n);
}
