// Convolutions (torch.nn.functional.conv2d / conv_transpose2d), with PyTorch's defaults.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

export type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

const conv2dOp = op('aten::conv2d');
const convTranspose2dOp = op('aten::conv_transpose2d', 'input');

export function pair(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** input [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or null. */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  return callTensor(conv2dOp, [input, weight, bias, pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1]);
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/** input [N, C, H, W], weight [C, O/groups, kh, kw] (PyTorch's layout for transposed convs). */
export function convTranspose2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvTranspose2dOptions = {}): Tensor {
  return callTensor(convTranspose2dOp, [input, weight, bias, pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.outputPadding ?? 0), o.groups ?? 1, pair(o.dilation ?? 1)]);
}
