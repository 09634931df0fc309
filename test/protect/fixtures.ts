// Small synthetic models and files for the protection tests.
import { type Tensor, manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { Conv2d, Linear, Module } from '../../src/nn/index.ts';
import { relu } from '../../src/ops/activation.ts';
import { adaptiveAvgPool2d } from '../../src/ops/pool.ts';
import { flatten } from '../../src/ops/shape.ts';
import { entriesFromTensors } from '../../src/io/tensor-file.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';
import assert from 'node:assert/strict';
import { type DecoyMode, ProtectError } from '../../src/protect/index.ts';
import { KeyError } from '../../src/crypto/index.ts';
import { convLayerOf, decoyLayer } from '../../src/protect/internals.ts';
import { bytesToFloat64, float64ToBytes } from '../../src/protect/layers.ts';

/** conv(3→8) → relu → conv(8→16) → relu → pool → linear(16→4). */
export class TinyNet extends Module {
  readonly conv1 = this.registerModule('conv1', new Conv2d(3, 8, 3, { padding: 1 }));
  readonly conv2 = this.registerModule('conv2', new Conv2d(8, 16, 3, { padding: 1, bias: false }));
  readonly head = this.registerModule('head', new Linear(16, 4));

  forward(x: Tensor): Tensor {
    return scope(() => this.head.forward(flatten(adaptiveAvgPool2d(relu(this.conv2.forward(relu(this.conv1.forward(x)))), 1), 1)));
  }
}

export function tinyNet(seed = 1): TinyNet {
  manualSeed(seed);
  return new TinyNet();
}

/** A model's weights as an in-memory safetensors file. */
export function fileOf(model: Module, metadata: Record<string, string> = {}): SafetensorsFile {
  return { tensors: noGrad(() => entriesFromTensors(model.stateDict())), metadata };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** Flat indices of the kernels whose bytes differ between two layer byte arrays. */
export function changedKernels(a: Uint8Array, b: Uint8Array, kernelBytes: number): number[] {
  const out: number[] = [];
  for (let k = 0; k * kernelBytes < a.length; k++) {
    if (!sameBytes(a.subarray(k * kernelBytes, (k + 1) * kernelBytes), b.subarray(k * kernelBytes, (k + 1) * kernelBytes))) out.push(k);
  }
  return out;
}

/** A fixed 32-byte key for deterministic tests. */
export function testKey(fill = 7): Uint8Array {
  return new Uint8Array(32).map((_, i) => (i * 31 + fill) & 255);
}

/**
 * Decoys of `mode` for the kernels `chosen` of a 64×64 layer of 3×3 kernels (`values`): none is a
 * copy of a genuine kernel, and with the layer's rows scaled 1× and 4× the decoys of each half are
 * sized like their genuine neighbours (0.6–1.6×). Shared by the tests of every resampling mode.
 */
export function assertNoCopiesAndRowSizes(values: Float64Array, chosen: Int32Array, mode: DecoyMode, modelId: Uint8Array): void {
  const entry = { dtype: 'F32' as const, shape: [64, 64, 3, 3], data: float64ToBytes(values, 'F32') };
  const out = bytesToFloat64(decoyLayer(convLayerOf('features.0.weight', entry), entry, chosen, testKey(1), modelId, mode), 'F32');
  const isChosen = new Set(chosen);
  const original = bytesToFloat64(entry.data, 'F32');
  for (const k of chosen.slice(0, 40)) {
    let nearest = Number.POSITIVE_INFINITY;
    for (let g = 0; g < 4096; g++) {
      if (isChosen.has(g)) continue;
      let d = 0;
      for (let q = 0; q < 9; q++) d += (out[k * 9 + q] - original[g * 9 + q]) ** 2;
      nearest = Math.min(nearest, d);
    }
    assert.ok(nearest > 1e-6, `${mode}: decoy ${k} copies a genuine kernel`);
  }
  const scaled = Float64Array.from(values, (x, i) => (Math.floor(i / (64 * 9)) >= 32 ? 4 * x : x));
  const e = { dtype: 'F64' as const, shape: [64, 64, 3, 3], data: float64ToBytes(scaled, 'F64') };
  const d = bytesToFloat64(decoyLayer(convLayerOf('x.weight', e), e, chosen, testKey(1), modelId, mode), 'F64');
  const rms = (vals: Float64Array, big: boolean, decoy: boolean) => {
    let s = 0;
    let n = 0;
    for (let k = 0; k < 4096; k++) {
      if (Math.floor(k / 64) >= 32 !== big || isChosen.has(k) !== decoy) continue;
      for (let q = 0; q < 9; q++) s += vals[k * 9 + q] ** 2;
      n++;
    }
    return Math.sqrt(s / n);
  };
  for (const big of [false, true]) {
    const ratio = rms(d, big, true) / rms(scaled, big, false);
    assert.ok(ratio > 0.6 && ratio < 1.6, `${mode}, ${big ? 'big' : 'small'} rows: decoys ${ratio.toFixed(2)}× their genuine neighbours`);
  }
}

/** How a call was refused: its ProtectError or KeyError code, or 'ACCEPTED' when it returned. */
export function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ProtectError || e instanceof KeyError) return e.code;
    throw e;
  }
  return 'ACCEPTED';
}
