// `nnlock cipher attack statistical`: ciphertext-only recovery of the decryption from image
// statistics (src/attacks/statistical.ts). Needs many ciphertexts and plaintext images of
// the same kind that are not the encrypted ones; no key, no known plaintext.
import type { Command } from 'commander';
import { type Tensor, noGrad, scope } from '../../tensor/index.ts';
import { clamp, div } from '../../ops/arithmetic.ts';
import { toDtype } from '../../ops/convert.ts';
import { narrow } from '../../ops/shape.ts';
import type { AdaptationNetwork } from '../../er/adaptation.ts';
import { CipherKeyError } from '../../cipher/key.ts';
import { readImagesTensor, tensorSource } from '../../cipher/data.ts';
import { blockPairStatistics, recoverFromStatistics } from '../../attacks/statistical.ts';
import { decryptorFromRecovery } from '../../er/statistical-init.ts';
import { minMaxScale, writeImageGrid } from '../../er/pictures.ts';
import { psnrPerImage, ssimPerImage } from '../../train/metrics.ts';
import { intArg } from './cipher.ts';

/** Pixels in [0, 1] from bytes; real-valued ciphertexts as they are. */
function asFloat(x: Tensor): Tensor {
  return x.dtype === 'uint8' ? div(toDtype(x, 'float32'), 255) : x;
}

export function registerStatisticalAttack(attack: Command): void {
  attack
    .command('statistical')
    .description('ciphertext-only attack: recover the decryption from the statistics of many ciphertexts and of other plaintext images of the same kind (no key, no known plaintext)')
    .requiredOption('--cipher <file>', 'ciphertexts as `nnlock cipher encrypt` wrote them (a real-valued kind: uniform or orthogonal)')
    .requiredOption('--prior <file>', 'plaintext images of the same kind that are NOT the encrypted ones (CIFAR-10 .bin, or an image)')
    .option('-k, --block <k>', 'block size', '4')
    .option('--images <n>', 'use the first n ciphertexts')
    .option('--plain <file>', 'the true plaintext of --cipher (same order), to score the recovered images')
    .option('--grid <file>', 'PNG grid of ciphertext, recovered image (and plaintext) for the first 8')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  nnlock cipher attack statistical --cipher runs/train.enc.safetensors --prior ../shared/data/cifar10/data_batch_3.bin --plain ../shared/data/cifar10/data_batch_1.bin --grid runs/recovered.png')
    .action(async (o: { cipher: string; prior: string; block: string; images?: string; plain?: string; grid?: string; json?: boolean }) => {
      const k = intArg(o.block, '--block');
      const limit = o.images ? intArg(o.images, '--images') : undefined;
      const c = await readImagesTensor(o.cipher, { limit });
      const tensors: Tensor[] = [c.x];
      let net: AdaptationNetwork | undefined;
      try {
        if (c.x.dtype === 'uint8') {
          throw new CipherKeyError(`${o.cipher} holds bytes: a hill256 ciphertext (mod 256) does not transform its statistics linearly, so this attack does not apply; it breaks the real-valued kinds`);
        }
        const p = await readImagesTensor(o.prior, { channels: c.x.shape[1] === 1 ? 1 : 3 });
        tensors.push(p.x);
        const priorImages = noGrad(() => scope(() => asFloat(p.x)));
        tensors.push(priorImages);
        const t0 = performance.now();
        const cs = await blockPairStatistics(tensorSource(c.x), { k });
        const ps = await blockPairStatistics(tensorSource(priorImages), { k });
        const recovery = recoverFromStatistics(cs, ps);
        const seconds = (performance.now() - t0) / 1000;
        const decryptor = decryptorFromRecovery(recovery);
        net = decryptor;
        const result: Record<string, unknown> = { cipherImages: cs.images, priorImages: ps.images, k, channels: cs.channels, seconds };
        let plain: Tensor | undefined;
        if (o.plain) {
          const t = await readImagesTensor(o.plain, { limit: c.x.shape[0] });
          tensors.push(t.x);
          if (t.x.shape.join() !== c.x.shape.join()) throw new Error(`--plain [${t.x.shape}] and --cipher [${c.x.shape}] differ in shape`);
          plain = noGrad(() => scope(() => asFloat(t.x)));
          tensors.push(plain);
          const scored = Math.min(1000, c.x.shape[0]);
          const q = noGrad(() => scope(() => {
            const truth = plain!.shape[0] > scored ? narrow(plain!, 0, 0, scored) : plain!;
            const rec = clamp(decryptor.forward(c.x.shape[0] > scored ? narrow(c.x, 0, 0, scored) : c.x), 0, 1);
            const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
            return { images: scored, psnr: mean(psnrPerImage(rec, truth)), ssim: mean(ssimPerImage(rec, truth)) };
          }));
          result.recovered = q;
        }
        if (o.grid) {
          const columns = noGrad(() => scope(() => {
            const y = narrow(c.x, 0, 0, Math.min(8, c.x.shape[0]));
            const cols = [{ title: 'ciphertext', images: minMaxScale(y) }, { title: 'recovered (no key)', images: clamp(decryptor.forward(y), 0, 1) }];
            if (plain) cols.push({ title: 'plaintext', images: narrow(plain, 0, 0, y.shape[0]) });
            return cols;
          }));
          try {
            await writeImageGrid(o.grid, columns, { count: 8 });
          } finally {
            for (const col of columns) col.images.dispose();
          }
          result.grid = o.grid;
        }
        if (o.json) console.log(JSON.stringify(result, null, 2));
        else {
          console.log(`statistical attack: ${cs.images} ciphertexts, ${ps.images} prior images, k=${k}, ${seconds.toFixed(1)} s`);
          const q = result.recovered as { images: number; psnr: number; ssim: number } | undefined;
          if (q) console.log(`recovered images against the true plaintext (${q.images} images): PSNR ${q.psnr.toFixed(2)} dB, SSIM ${q.ssim.toFixed(4)}`);
          if (o.grid) console.log(`wrote ${o.grid}`);
        }
      } finally {
        net?.dispose();
        for (const t of tensors) t.dispose();
      }
    });
}
