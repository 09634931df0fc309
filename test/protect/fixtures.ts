// Small synthetic models and files for the protection tests.
import { type Tensor, manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { Conv2d, Linear, Module } from '../../src/nn/index.ts';
import { relu } from '../../src/ops/activation.ts';
import { adaptiveAvgPool2d } from '../../src/ops/pool.ts';
import { flatten } from '../../src/ops/shape.ts';
import { entriesFromTensors } from '../../src/io/tensor-file.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';

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
