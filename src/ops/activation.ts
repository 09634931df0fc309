// Activations and (log-)softmax.
import type { Tensor } from '../tensor/index.ts';
import { callInPlace, callTensor, op } from './dispatch.ts';

const reluOp = op('aten::relu');
const reluInPlaceOp = op('aten::relu_');
const leakyReluOp = op('aten::leaky_relu');
const sigmoidOp = op('aten::sigmoid');
const tanhOp = op('aten::tanh');
const softmaxOp = op('aten::softmax', 'int');
const logSoftmaxOp = op('aten::log_softmax', 'int');

export function relu(x: Tensor): Tensor {
  return callTensor(reluOp, [x]);
}

/** relu in place: saves memory in inference; not for tensors autograd still needs. */
export function reluInPlace(x: Tensor): Tensor {
  return callInPlace(reluInPlaceOp, x, []);
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return callTensor(leakyReluOp, [x, negativeSlope]);
}

export function sigmoid(x: Tensor): Tensor {
  return callTensor(sigmoidOp, [x]);
}

export function tanh(x: Tensor): Tensor {
  return callTensor(tanhOp, [x]);
}

export function softmax(x: Tensor, dim: number): Tensor {
  return callTensor(softmaxOp, [x, dim]);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  return callTensor(logSoftmaxOp, [x, dim]);
}
