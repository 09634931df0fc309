// The adaptation network of the Encryption-Robust CNN: Conv2d(C → C·k², kernel k, stride k) then
// ConvTranspose2d(C·k² → C, kernel k, stride k), placed in front of a backbone and trained end to
// end on block-encrypted images.
//
// Two variants:
//   aligned  no padding: each conv window is exactly one k×k cipher block, so conv + deconv can
//            represent any affine map of a block onto itself, the exact inverse of the Hill cipher
//            included (setBlockInverse sets it analytically).
//   padded   padding 1, as in the project report's code: windows sit one pixel up-left of the
//            block grid, so an output block never sees the last row and column of its ciphertext
//            block and the inverse cannot be represented exactly (needs k ≥ 3 to keep the size).
//
// Names: conv.weight [C·k², C, k, k], conv.bias [C·k²], deconv.weight [C·k², C, k, k],
// deconv.bias [C], as torch.nn.Conv2d / ConvTranspose2d fields `conv` and `deconv` would be named.
import { type Tensor, noGrad, tensor } from '../tensor/index.ts';
import { Conv2d, ConvTranspose2d, Module } from '../nn/index.ts';
import { copyInPlace } from '../ops/inplace.ts';

export type AdaptationVariant = 'aligned' | 'padded';

/**
 * 'default': PyTorch's initialisation (kaiming-uniform); 'identity': the network starts as the
 * identity map (space-to-depth then depth-to-space; for the padded variant a one-pixel shift, the
 * closest it can get), so a pretrained backbone sees its usual inputs at the start; 'whiten': the
 * convolution starts as the ZCA whitening of the ciphertext windows it sees, estimated from the
 * training ciphertexts (src/er/whitening.ts sets it; the constructor starts it as identity);
 * 'statistical': the decryption recovered from ciphertext statistics and a plaintext prior of
 * other images (src/attacks/statistical.ts sets it; identity until then).
 */
export type AdaptationInit = 'default' | 'identity' | 'whiten' | 'statistical';
export const ADAPTATION_INITS: readonly AdaptationInit[] = ['default', 'identity', 'whiten', 'statistical'];

export interface AdaptationConfig {
  /** Block size of the cipher. */
  k: number;
  channels?: number;
  variant?: AdaptationVariant;
  init?: AdaptationInit;
}

export class AdaptationNetwork extends Module {
  readonly conv: Conv2d;
  readonly deconv: ConvTranspose2d;
  readonly k: number;
  readonly channels: number;
  readonly variant: AdaptationVariant;

  constructor(config: AdaptationConfig) {
    super();
    const { k } = config;
    this.k = k;
    this.channels = config.channels ?? 3;
    this.variant = config.variant ?? 'aligned';
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`AdaptationNetwork: k must be a positive integer, got ${k}`);
    if (!Number.isInteger(this.channels) || this.channels < 1) throw new RangeError(`AdaptationNetwork: channels must be a positive integer, got ${this.channels}`);
    if (this.variant !== 'aligned' && this.variant !== 'padded') throw new RangeError(`AdaptationNetwork: variant must be 'aligned' or 'padded', got '${this.variant}'`);
    if (this.variant === 'padded' && k < 3) throw new RangeError(`AdaptationNetwork: the padded variant needs k ≥ 3 to keep the image size, got k=${k}`);
    const init = config.init ?? 'default';
    if (!ADAPTATION_INITS.includes(init)) throw new RangeError(`AdaptationNetwork: init must be one of ${ADAPTATION_INITS.join(', ')}, got '${init}'`);
    const hidden = this.channels * k * k;
    this.conv = this.registerModule('conv', new Conv2d(this.channels, hidden, k, { stride: k, padding: this.variant === 'padded' ? 1 : 0 }));
    this.deconv = this.registerModule('deconv', new ConvTranspose2d(hidden, this.channels, k, { stride: k }));
    if (init !== 'default') this.setIdentity();
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new RangeError(`AdaptationNetwork: expected input [N, ${this.channels}, H, W], got [${x.shape.join(', ')}]`);
    }
    if (x.shape[2] % this.k || x.shape[3] % this.k) {
      throw new RangeError(`AdaptationNetwork: image size ${x.shape[2]}×${x.shape[3]} is not a multiple of k=${this.k}`);
    }
    const h = this.conv.forward(x);
    const out = this.deconv.forward(h);
    h.dispose();
    return out;
  }

  /** Space-to-depth conv weights: hidden channel c·k² + i·k + j reads pixel (i, j) of channel c. */
  private spaceToDepth(): Float32Array {
    const { k, channels } = this;
    const n = k * k;
    const w = new Float32Array(channels * n * channels * n);
    // weight [C·k², C, k, k]: index ((o·C + c)·k + i)·k + j
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < n; p++) w[((c * n + p) * channels + c) * n + p] = 1;
    }
    return w;
  }

  /** Makes the network the identity (aligned) or a one-pixel shift (padded); biases 0. */
  setIdentity(): void {
    const { k, channels } = this;
    const n = k * k;
    const inv = Array.from({ length: channels }, () => {
      const m = new Float64Array(n * n);
      for (let i = 0; i < n; i++) m[i * n + i] = 1;
      return m;
    });
    this.setWeights(this.spaceToDepth(), inv, new Float32Array(channels), new Float32Array(channels).fill(1));
  }

  /**
   * Sets the weights analytically so that each k×k block b (row-major row vector) of channel c
   * becomes ((b · inverses[c]) − mean[c]) / std[c]: with inverses = K⁻¹ of a Hill key this is exact
   * decryption (followed by the backbone's input normalisation when mean and std are given).
   * Exact only for the aligned variant.
   */
  setBlockInverse(inverses: readonly ArrayLike<number>[], o: { mean?: readonly number[]; std?: readonly number[] } = {}): void {
    const { channels } = this;
    const n = this.k * this.k;
    if (inverses.length !== channels) throw new RangeError(`setBlockInverse: ${inverses.length} matrices for ${channels} channels`);
    inverses.forEach((m, c) => {
      if (m.length !== n * n) throw new RangeError(`setBlockInverse: channel ${c}: expected ${n}×${n} entries, got ${m.length}`);
    });
    const mean = Float32Array.from({ length: channels }, (_, c) => o.mean?.[c] ?? 0);
    const std = Float32Array.from({ length: channels }, (_, c) => o.std?.[c] ?? 1);
    this.setWeights(this.spaceToDepth(), inverses, mean, std);
  }

  /**
   * Sets the convolution to an arbitrary affine map of each window, h = M·w + b, where w is the
   * window flattened channel-major (index c·k² + i·k + j, the conv weight's own layout) and M is
   * [C·k², C·k²] row-major, and the transposed convolution to depth-to-space (hidden channel
   * c·k² + i·k + j back to pixel (i, j) of channel c). Used for the whitening initialisation.
   */
  setWindowAffine(matrix: ArrayLike<number>, offset: ArrayLike<number>): void {
    const { channels } = this;
    const n = this.k * this.k;
    const hidden = channels * n;
    if (matrix.length !== hidden * hidden) throw new RangeError(`setWindowAffine: expected a ${hidden}×${hidden} matrix, got ${matrix.length} entries`);
    if (offset.length !== hidden) throw new RangeError(`setWindowAffine: expected ${hidden} offsets, got ${offset.length}`);
    const identity = Array.from({ length: channels }, () => {
      const m = new Float64Array(n * n);
      for (let i = 0; i < n; i++) m[i * n + i] = 1;
      return m;
    });
    this.setWeights(Float32Array.from(matrix), identity, new Float32Array(channels), new Float32Array(channels).fill(1), Float32Array.from(offset));
  }

  private setWeights(convWeight: Float32Array, inverses: readonly ArrayLike<number>[], mean: Float32Array, std: Float32Array, convBias?: Float32Array): void {
    const { k, channels } = this;
    const n = k * k;
    // deconv weight [C·k², C, k, k]: hidden channel c·k² + m feeds pixel (i, j) of output channel c
    // with weight inv_c[m, i·k + j] / std_c. Output = Σ_m b_m·inv[m, p] / std − mean / std.
    const dw = new Float32Array(channels * n * channels * n);
    for (let c = 0; c < channels; c++) {
      const inv = inverses[c];
      for (let m = 0; m < n; m++) {
        for (let p = 0; p < n; p++) dw[((c * n + m) * channels + c) * n + p] = inv[m * n + p] / std[c];
      }
    }
    const db = Float32Array.from({ length: channels }, (_, c) => -mean[c] / std[c]);
    noGrad(() => {
      const values: [Tensor | null, Float32Array][] = [
        [this.conv.weight, convWeight],
        [this.conv.bias, convBias ?? new Float32Array(channels * n)],
        [this.deconv.weight, dw],
        [this.deconv.bias, db],
      ];
      for (const [param, data] of values) {
        if (!param) continue;
        const t = tensor(data, param.shape);
        copyInPlace(param, t);
        t.dispose();
      }
    });
  }
}

export function adaptationNetwork(config: AdaptationConfig): AdaptationNetwork {
  return new AdaptationNetwork(config);
}
