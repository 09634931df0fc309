// Block-wise Hill cipher on image tensors [N, C, H, W], vectorised with libtorch ops:
//
//   x [N, C, H, W] → view [N, C, H/k, k, W/k, k] → permute to [C, N, H/k, W/k, k, k]
//     → [C, N·B, k²] (B = H/k · W/k blocks, each a row-major row vector; one copy)
//     → bmm with K [C, k², k²] (one batched matrix product per channel)
//     → (shuffle: permute block positions) → back to [N, C, H, W] (one copy).
//
// Real kinds work on floating tensors (float32 or float64; the key is cast to the tensor's dtype).
// hill256 works on bytes: a uint8 tensor (or a floating tensor holding integers 0..255) in, the
// same dtype out, y = x·K mod 256. The product is computed in float32, which is exact here: every
// partial sum is an integer below k²·255² ≤ 2^24 (k ≤ 16), where float32 represents integers exactly;
// on CUDA float64 is used, so no reduced-precision (TF32) matmul can creep in.
import { type DType, type Tensor, isFloating, keep, noGrad, scope, tensor } from '../tensor/index.ts';
import { permute, reshape, indexSelect } from '../ops/shape.ts';
import { toDevice, toDtype } from '../ops/convert.ts';
import { equal } from '../ops/compare.ts';
import { max, min } from '../ops/reduction.ts';
import { round } from '../ops/arithmetic.ts';
import { bmm, remainder } from '../ops/linalg.ts';
import { type CipherKey, CipherKeyError, assertFits, blockPermutation, invertPermutation } from './key.ts';

type Direction = 'encrypt' | 'decrypt';

/**
 * A key bound to tensors, ready to encrypt and decrypt batches. Holds the key matrices as native
 * tensors (per dtype and device, made on first use) and the block permutations per grid size;
 * dispose() frees them.
 */
export class BlockCipher {
  private readonly mats = new Map<string, Tensor>();
  private readonly perms = new Map<string, Tensor>();

  constructor(readonly key: CipherKey) {}

  /** [C, k², k²]: K (encrypt) or K⁻¹ (decrypt) as `dtype` on `device`. */
  matrices(direction: Direction, dtype: DType, device: string): Tensor {
    const id = `${direction}/${dtype}/${device}`;
    let t = this.mats.get(id);
    if (!t) {
      const n = this.key.k * this.key.k;
      const src = direction === 'encrypt' ? this.key.matrices : this.key.inverses;
      const flat = new Float64Array(this.key.channels * n * n);
      src.forEach((m, c) => flat.set(m, c * n * n));
      t = keep(noGrad(() => scope(() => {
        const cpu = tensor(flat, [this.key.channels, n, n], 'float64');
        const typed = dtype === 'float64' ? cpu : toDtype(cpu, dtype);
        return device === 'cpu' ? typed : toDevice(typed, device);
      })));
      this.mats.set(id, t);
    }
    return t;
  }

  /** int64 [B] block-position index for a gh×gw grid, or null when the key does not shuffle. */
  private permutation(direction: Direction, gh: number, gw: number, device: string): Tensor | null {
    if (!this.key.shuffle) return null;
    const id = `${direction}/${gh}x${gw}/${device}`;
    let t = this.perms.get(id);
    if (!t) {
      const perm = blockPermutation(this.key, gh, gw)!;
      const p = direction === 'encrypt' ? perm : invertPermutation(perm);
      t = keep(scope(() => {
        const cpu = tensor(BigInt64Array.from(p, (v) => BigInt(v)), [p.length]);
        return device === 'cpu' ? cpu : toDevice(cpu, device);
      }));
      this.perms.set(id, t);
    }
    return t;
  }

  encrypt(x: Tensor): Tensor {
    return this.apply(x, 'encrypt');
  }

  decrypt(y: Tensor): Tensor {
    return this.apply(y, 'decrypt');
  }

  private apply(x: Tensor, direction: Direction): Tensor {
    const { key } = this;
    if (x.ndim !== 4) throw new CipherKeyError(`${direction}: expected images [N, C, H, W], got shape [${x.shape.join(', ')}]`);
    const [n, c, h, w] = x.shape;
    assertFits(key, c, h, w, 'image');
    const k = key.k;
    const gh = h / k;
    const gw = w / k;
    const blocks = gh * gw;
    const hill = key.kind === 'hill256';
    const inDtype = x.dtype;
    if (hill) checkBytes(x, direction);
    else if (inDtype !== 'float32' && inDtype !== 'float64') {
      throw new CipherKeyError(`${direction}: a ${key.kind} key works on float32 or float64 images, got ${inDtype}` +
        (inDtype === 'uint8' ? ' (convert bytes to floats in [0, 1] first, or use a hill256 key for 8-bit images)' : ''));
    }
    const device = x.device;
    const work: DType = hill ? (device === 'cpu' ? 'float32' : 'float64') : inDtype;
    const mats = this.matrices(direction, work, device);
    const perm = this.permutation(direction, gh, gw, device);
    return scope(() => {
      const xf = x.dtype === work ? x : toDtype(x, work);
      // [N, C, gh, k, gw, k] → [C, N, gh, gw, k, k] → [C, N·B, k²]
      const rows = reshape(permute(reshape(xf, [n, c, gh, k, gw, k]), [1, 0, 2, 4, 3, 5]), [c, n * blocks, k * k]);
      let out = direction === 'decrypt' && perm ? reshape(indexSelect(reshape(rows, [c, n, blocks, k * k]), 2, perm), [c, n * blocks, k * k]) : rows;
      out = bmm(out, mats);
      if (direction === 'encrypt' && perm) out = indexSelect(reshape(out, [c, n, blocks, k * k]), 2, perm);
      if (hill) out = remainder(out, 256);
      const img = reshape(permute(reshape(out, [c, n, gh, gw, k, k]), [1, 0, 2, 4, 3, 5]), [n, c, h, w]);
      return img.dtype === inDtype ? img : toDtype(img, inDtype);
    });
  }

  dispose(): void {
    for (const t of this.mats.values()) t.dispose();
    for (const t of this.perms.values()) t.dispose();
    this.mats.clear();
    this.perms.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** hill256 input must be bytes: uint8, or a floating/integer tensor holding integers 0..255. */
function checkBytes(x: Tensor, direction: Direction): void {
  if (x.dtype === 'uint8') return;
  if (x.dtype === 'bool') throw new CipherKeyError(`${direction}: a hill256 key works on 8-bit images; got a bool tensor`);
  const bad = noGrad(() => scope(() => {
    if (x.numel === 0) return null;
    const lo = min(x).item();
    const hi = max(x).item();
    if (lo < 0 || hi > 255) return `values span ${lo}..${hi}`;
    if (isFloating(x.dtype) && !equal(round(x), x)) return 'values are not whole numbers';
    return null;
  }));
  if (bad) {
    throw new CipherKeyError(`${direction}: a hill256 key works on byte values 0..255 (a uint8 tensor, or integers 0..255); ${bad}` +
      ' (pixels in [0, 1]? multiply by 255 and round first)');
  }
}

/** Encrypts [N, C, H, W] with a key (a one-off BlockCipher; keep one for many batches). */
export function encryptTensor(x: Tensor, key: CipherKey): Tensor {
  const cipher = new BlockCipher(key);
  try {
    return cipher.encrypt(x);
  } finally {
    cipher.dispose();
  }
}

export function decryptTensor(y: Tensor, key: CipherKey): Tensor {
  const cipher = new BlockCipher(key);
  try {
    return cipher.decrypt(y);
  } finally {
    cipher.dispose();
  }
}

/** Plaintext and ciphertext blocks of one channel as rows: [N·B, k²] each, in block order. */
export function channelBlocks(x: Tensor, k: number, channel: number): Tensor {
  const [n, c, h, w] = x.shape;
  if (channel < 0 || channel >= c) throw new RangeError(`channelBlocks: channel ${channel} out of range 0..${c - 1}`);
  if (h % k || w % k) throw new CipherKeyError(`image size ${h}×${w} is not a multiple of the block size k=${k}`);
  return scope(() => {
    const gh = h / k;
    const gw = w / k;
    const rows = reshape(permute(reshape(x, [n, c, gh, k, gw, k]), [1, 0, 2, 4, 3, 5]), [c, n * gh * gw, k * k]);
    return reshape(indexSelect(rows, 0, tensor(new BigInt64Array([BigInt(channel)]), [1])), [n * gh * gw, k * k]);
  });
}
