// Conversions and copies: dtype, device, clone, detach, copy into an existing tensor.
import { native } from '../native/index.ts';
import type { DType, Tensor } from '../tensor/index.ts';
import { callInPlace, callTensor, op } from './dispatch.ts';

const toDtypeOp = op('aten::to', 'dtype');
const toOptionsOp = op('aten::to', 'dtype_layout');
const cloneOp = op('aten::clone');
const detachOp = op('aten::detach');
const copyOp = op('aten::copy_');
const setDataOp = op('aten::set_data');

/**
 * x as another dtype. Like torch.Tensor.to, the result shares storage with x when the dtype is
 * already right, unless copy is set.
 */
export function toDtype(x: Tensor, dtype: DType, copy = false): Tensor {
  return callTensor(toDtypeOp, [x, dtype, false, copy]);
}

/** x on another device ('cpu', 'cuda', 'cuda:1'); shares storage when already there unless copy. */
export function toDevice(x: Tensor, device: string, copy = false): Tensor {
  // to.dtype_layout: (self, dtype, layout, device, pin_memory, non_blocking, copy, memory_format)
  return callTensor(toOptionsOp, [x, null, null, device, null, false, copy]);
}

/**
 * Makes self hold data's storage and metadata (device, dtype, shape) while staying the same tensor:
 * libtorch's Variable::set_data, what Module::to uses. self's Tensor object, its requires_grad
 * and its autograd identity are kept, so whatever holds self (an optimizer) sees the new data.
 */
export function setData(self: Tensor, data: Tensor): Tensor {
  return callInPlace(setDataOp, self, [data]);
}

/** A copy with its own storage; autograd sees it as a function of x. */
export function clone(x: Tensor): Tensor {
  return callTensor(cloneOp, [x]);
}

/** Same storage, cut from the autograd graph. */
export function detach(x: Tensor): Tensor {
  return callTensor(detachOp, [x]);
}

/** Copies src's values into dst (broadcasting, converting dtype and device); returns dst. */
export function copyInto(dst: Tensor, src: Tensor): Tensor {
  return callInPlace(copyOp, dst, [src]);
}

/** Whether two Tensor objects hold the very same native tensor (not merely shared storage). */
export function isSameTensor(a: Tensor, b: Tensor): boolean {
  return a === b || native.sameTensor(a.handle, b.handle);
}
