#!/usr/bin/python3
"""Golden values for nnlock's ops, computed by PyTorch (Debian's python3-torch).

Run from the repository root:  /usr/bin/python3 test/golden/make_golden.py
(plain `python3` may be a Python without torch). Writes test/golden/ops.json, which
test/ops/golden.test.ts checks every nnlock op against.

Each case holds its inputs (saved, so the TypeScript side needs no random generator of its own),
the op, its options (named as nnlock names them), and every output's shape, dtype and values.
Inputs come from torch.manual_seed(0) and are float32; float values are written with the
shortest decimal that reads back to the same float32, which keeps the file small.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)

DTYPES = {torch.float32: 'float32', torch.float64: 'float64', torch.int64: 'int64', torch.bool: 'bool'}


def enc(t):
    """A tensor as {shape, dtype, values} (values flat, row-major)."""
    t = t.detach().contiguous()
    dtype = DTYPES[t.dtype]
    flat = t.reshape(-1)
    if t.dtype == torch.float32:
        values = [float(repr(np.float32(v))) for v in flat.numpy()]
    elif t.dtype == torch.bool:
        values = [int(v) for v in flat.tolist()]
    else:
        values = flat.tolist()
    return {'shape': list(t.shape), 'dtype': dtype, 'values': values}


def randn(*shape):
    # Round to 4 decimals: keeps the JSON small and changes nothing about what is tested.
    return torch.round(torch.randn(*shape) * 1e4) / 1e4


cases = []


def case(name, op, inputs, outputs, **options):
    if isinstance(outputs, torch.Tensor):
        outputs = {'out': outputs}
    cases.append({
        'name': name,
        'op': op,
        'inputs': {k: enc(v) for k, v in inputs.items()},
        'options': options,
        'outputs': {k: enc(v) for k, v in outputs.items()},
    })


# --- convolutions -------------------------------------------------------------------------
x = randn(2, 4, 7, 7)
w = randn(6, 4, 3, 3) * 0.3
b = randn(6)
case('conv2d basic', 'conv2d', {'input': x, 'weight': w, 'bias': b}, F.conv2d(x, w, b))
case('conv2d stride 2 padding 1', 'conv2d', {'input': x, 'weight': w, 'bias': b},
     F.conv2d(x, w, b, stride=2, padding=1), stride=2, padding=1)
case('conv2d dilation 2 padding 2 no bias', 'conv2d', {'input': x, 'weight': w},
     F.conv2d(x, w, None, padding=2, dilation=2), padding=2, dilation=2)
wg = randn(6, 2, 3, 3) * 0.3
case('conv2d groups 2 stride (2,1) padding (1,0)', 'conv2d', {'input': x, 'weight': wg, 'bias': b},
     F.conv2d(x, wg, b, stride=(2, 1), padding=(1, 0), groups=2), stride=[2, 1], padding=[1, 0], groups=2)

xt = randn(2, 4, 4, 4)
wt = randn(4, 3, 3, 3) * 0.3
bt = randn(3)
case('conv_transpose2d stride 2 padding 1 output_padding 1', 'convTranspose2d', {'input': xt, 'weight': wt, 'bias': bt},
     F.conv_transpose2d(xt, wt, bt, stride=2, padding=1, output_padding=1), stride=2, padding=1, outputPadding=1)
wtg = randn(4, 2, 2, 2) * 0.3
case('conv_transpose2d stride 2 groups 2 no bias', 'convTranspose2d', {'input': xt, 'weight': wtg},
     F.conv_transpose2d(xt, wtg, None, stride=2, groups=2), stride=2, groups=2)

# --- batch norm ---------------------------------------------------------------------------
xb = randn(4, 3, 5, 5) * 2 + 1
gamma = randn(3)
beta = randn(3)
rm = randn(3) * 0.1
rv = torch.rand(3) + 0.5
rv = torch.round(rv * 1e4) / 1e4
rm_t, rv_t = rm.clone(), rv.clone()
out = F.batch_norm(xb, rm_t, rv_t, gamma, beta, training=True, momentum=0.1, eps=1e-5)
case('batch_norm train (output and running stats after one call)', 'batchNorm',
     {'input': xb, 'weight': gamma, 'bias': beta, 'runningMean': rm, 'runningVar': rv},
     {'out': out, 'runningMean': rm_t, 'runningVar': rv_t}, training=True, momentum=0.1, eps=1e-5)
rm_t, rv_t = rm.clone(), rv.clone()
out = F.batch_norm(xb, rm_t, rv_t, gamma, beta, training=True, momentum=0.3, eps=1e-3)
case('batch_norm train momentum 0.3 eps 1e-3', 'batchNorm',
     {'input': xb, 'weight': gamma, 'bias': beta, 'runningMean': rm, 'runningVar': rv},
     {'out': out, 'runningMean': rm_t, 'runningVar': rv_t}, training=True, momentum=0.3, eps=1e-3)
rm_t, rv_t = rm.clone(), rv.clone()
out = F.batch_norm(xb, rm_t, rv_t, gamma, beta, training=False)
case('batch_norm eval (running stats unchanged)', 'batchNorm',
     {'input': xb, 'weight': gamma, 'bias': beta, 'runningMean': rm, 'runningVar': rv},
     {'out': out, 'runningMean': rm_t, 'runningVar': rv_t}, training=False)

# --- linear algebra -----------------------------------------------------------------------
xl = randn(3, 2, 5)
wl = randn(4, 5)
bl = randn(4)
case('linear 3-D input with bias', 'linear', {'input': xl, 'weight': wl, 'bias': bl}, F.linear(xl, wl, bl))
case('linear no bias', 'linear', {'input': xl[0], 'weight': wl}, F.linear(xl[0], wl))
ma, mb = randn(3, 4), randn(4, 5)
case('matmul 2-D', 'matmul', {'a': ma, 'b': mb}, torch.matmul(ma, mb))
mba = randn(2, 3, 4)
case('matmul batched broadcast', 'matmul', {'a': mba, 'b': mb}, torch.matmul(mba, mb))

# --- activations --------------------------------------------------------------------------
xa = randn(3, 5) * 3
case('relu', 'relu', {'x': xa}, F.relu(xa))
case('leaky_relu default slope', 'leakyRelu', {'x': xa}, F.leaky_relu(xa))
case('leaky_relu slope 0.2', 'leakyRelu', {'x': xa}, F.leaky_relu(xa, 0.2), negativeSlope=0.2)
case('sigmoid', 'sigmoid', {'x': xa}, torch.sigmoid(xa))
case('tanh', 'tanh', {'x': xa}, torch.tanh(xa))
case('softmax dim 1', 'softmax', {'x': xa}, F.softmax(xa, 1), dim=1)
case('softmax dim 0', 'softmax', {'x': xa}, F.softmax(xa, 0), dim=0)
case('log_softmax dim -1', 'logSoftmax', {'x': xa}, F.log_softmax(xa, -1), dim=-1)

# --- pooling ------------------------------------------------------------------------------
xp = randn(2, 3, 7, 7)
case('max_pool2d kernel 2', 'maxPool2d', {'x': xp}, F.max_pool2d(xp, 2), kernelSize=2)
case('max_pool2d kernel 3 stride 2 padding 1', 'maxPool2d', {'x': xp}, F.max_pool2d(xp, 3, 2, 1), kernelSize=3, stride=2, padding=1)
case('max_pool2d kernel 2 ceil_mode', 'maxPool2d', {'x': xp}, F.max_pool2d(xp, 2, ceil_mode=True), kernelSize=2, ceilMode=True)
case('avg_pool2d kernel 2', 'avgPool2d', {'x': xp}, F.avg_pool2d(xp, 2), kernelSize=2)
case('avg_pool2d kernel 3 stride 2 padding 1', 'avgPool2d', {'x': xp}, F.avg_pool2d(xp, 3, 2, 1), kernelSize=3, stride=2, padding=1)
case('avg_pool2d padding 1 count_include_pad false', 'avgPool2d', {'x': xp},
     F.avg_pool2d(xp, 3, 2, 1, count_include_pad=False), kernelSize=3, stride=2, padding=1, countIncludePad=False)
case('adaptive_avg_pool2d 3 (uneven windows)', 'adaptiveAvgPool2d', {'x': xp}, F.adaptive_avg_pool2d(xp, 3), outputSize=3)
case('adaptive_avg_pool2d 1', 'adaptiveAvgPool2d', {'x': xp}, F.adaptive_avg_pool2d(xp, 1), outputSize=1)
case('adaptive_avg_pool2d (2,4)', 'adaptiveAvgPool2d', {'x': xp}, F.adaptive_avg_pool2d(xp, (2, 4)), outputSize=[2, 4])

# --- shape --------------------------------------------------------------------------------
xs = randn(1, 8, 3, 3)
case('pixel_shuffle 2', 'pixelShuffle', {'x': xs}, F.pixel_shuffle(xs, 2), factor=2)
xu = randn(1, 2, 4, 6)
case('pixel_unshuffle 2', 'pixelUnshuffle', {'x': xu}, F.pixel_unshuffle(xu, 2), factor=2)
xpad = randn(1, 2, 3, 4)
case('pad reflect [1,2,2,1]', 'pad', {'x': xpad}, F.pad(xpad, [1, 2, 2, 1], mode='reflect'), pad=[1, 2, 2, 1], mode='reflect')
case('pad replicate [2,0,1,1]', 'pad', {'x': xpad}, F.pad(xpad, [2, 0, 1, 1], mode='replicate'), pad=[2, 0, 1, 1], mode='replicate')
case('pad constant [1,1] value 0', 'pad', {'x': xpad}, F.pad(xpad, [1, 1]), pad=[1, 1])
case('pad constant [0,1,2,0,1,1] value -2.5', 'pad', {'x': xpad}, F.pad(xpad, [0, 1, 2, 0, 1, 1], value=-2.5),
     pad=[0, 1, 2, 0, 1, 1], mode='constant', value=-2.5)
c1, c2 = randn(2, 3), randn(2, 2)
case('cat dim 1', 'cat', {'a': c1, 'b': c2}, torch.cat([c1, c2], 1), dim=1)
s1, s2 = randn(2, 3), randn(2, 3)
case('stack dim 0', 'stack', {'a': s1, 'b': s2}, torch.stack([s1, s2], 0), dim=0)
case('stack dim -1', 'stack', {'a': s1, 'b': s2}, torch.stack([s1, s2], -1), dim=-1)
xperm = randn(2, 3, 4)
case('permute (2,0,1)', 'permute', {'x': xperm}, xperm.permute(2, 0, 1), dims=[2, 0, 1])
case('flip dims (0,2)', 'flip', {'x': xperm}, torch.flip(xperm, [0, 2]), dims=[0, 2])

# --- arithmetic ---------------------------------------------------------------------------
xc = randn(4, 5) * 2
case('clamp min -0.5 max 0.7', 'clamp', {'x': xc}, torch.clamp(xc, -0.5, 0.7), min=-0.5, max=0.7)
case('clamp min 0', 'clamp', {'x': xc}, torch.clamp(xc, min=0), min=0)
case('clamp max 1', 'clamp', {'x': xc}, torch.clamp(xc, max=1), max=1)
ya = randn(4, 5)
za = randn(4, 5)
case('lerp weight 0.3', 'lerp', {'a': xc, 'b': ya}, torch.lerp(xc, ya, 0.3), weight=0.3)
case('addcmul value 0.5', 'addcmul', {'x': xc, 't1': ya, 't2': za}, torch.addcmul(xc, ya, za, value=0.5), value=0.5)
case('addcdiv value -2', 'addcdiv', {'x': xc, 't1': ya, 't2': za.abs() + 0.5},
     torch.addcdiv(xc, ya, za.abs() + 0.5, value=-2), value=-2)
case('pow 3', 'pow', {'x': xc}, torch.pow(xc, 3), exponent=3)
case('rsqrt of |x|+0.1', 'rsqrt', {'x': xc.abs() + 0.1}, torch.rsqrt(xc.abs() + 0.1))

# --- reductions ---------------------------------------------------------------------------
xr = randn(3, 4, 5)
case('sum all', 'sum', {'x': xr}, xr.sum())
case('sum dims (0,2) keepdim', 'sum', {'x': xr}, xr.sum((0, 2), keepdim=True), dim=[0, 2], keepdim=True)
case('mean all', 'mean', {'x': xr}, xr.mean())
case('mean dim 1', 'mean', {'x': xr}, xr.mean(1), dim=1)
case('std all (unbiased)', 'std', {'x': xr}, xr.std())
case('std dim 2 biased keepdim', 'std', {'x': xr}, xr.std(2, unbiased=False, keepdim=True), dim=2, unbiased=False, keepdim=True)
case('var all (unbiased)', 'var', {'x': xr}, xr.var())
case('var dims (0,1)', 'var', {'x': xr}, xr.var((0, 1)), dim=[0, 1])
case('norm 2 all', 'norm', {'x': xr}, torch.linalg.vector_norm(xr))
case('norm 1 dim -1', 'norm', {'x': xr}, torch.linalg.vector_norm(xr, 1, -1), p=1, dim=-1)
case('logsumexp dim 1', 'logsumexp', {'x': xr}, torch.logsumexp(xr, 1), dim=1)
case('cumsum dim 2', 'cumsum', {'x': xr}, torch.cumsum(xr, 2), dim=2)
mx = xr.max(1)
case('max dim 1', 'max', {'x': xr}, {'values': mx.values, 'indices': mx.indices}, dim=1)
case('argmax all', 'argmax', {'x': xr}, xr.argmax())
case('argmax dim 2 keepdim', 'argmax', {'x': xr}, xr.argmax(2, keepdim=True), dim=2, keepdim=True)

# --- sorting and indexing -----------------------------------------------------------------
xk = randn(3, 6)
tk = torch.topk(xk, 3)
case('topk 3', 'topk', {'x': xk}, {'values': tk.values, 'indices': tk.indices}, k=3)
tk = torch.topk(xk, 2, dim=0, largest=False)
case('topk 2 dim 0 smallest', 'topk', {'x': xk}, {'values': tk.values, 'indices': tk.indices}, k=2, dim=0, largest=False)
st = torch.sort(xk)
case('sort', 'sort', {'x': xk}, {'values': st.values, 'indices': st.indices})
st = torch.sort(xk, 0, descending=True)
case('sort dim 0 descending', 'sort', {'x': xk}, {'values': st.values, 'indices': st.indices}, dim=0, descending=True)
gi = torch.tensor([[0, 5, 2], [1, 1, 0], [4, 3, 2]])
case('gather dim 1', 'gather', {'x': xk, 'index': gi}, torch.gather(xk, 1, gi), dim=1)

# --- losses -------------------------------------------------------------------------------
logits = randn(6, 5) * 2
target = torch.tensor([0, 4, 2, 2, 1, 3])
cw = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0])
case('cross_entropy', 'crossEntropy', {'logits': logits, 'target': target}, F.cross_entropy(logits, target))
case('cross_entropy label_smoothing 0.1', 'crossEntropy', {'logits': logits, 'target': target},
     F.cross_entropy(logits, target, label_smoothing=0.1), labelSmoothing=0.1)
case('cross_entropy weight, label_smoothing 0.2', 'crossEntropy', {'logits': logits, 'target': target, 'weight': cw},
     F.cross_entropy(logits, target, weight=cw, label_smoothing=0.2), labelSmoothing=0.2)
t_ign = torch.tensor([0, -100, 2, 2, -100, 3])
case('cross_entropy ignore_index -100 sum', 'crossEntropy', {'logits': logits, 'target': t_ign},
     F.cross_entropy(logits, t_ign, reduction='sum'), reduction='sum')
case('cross_entropy reduction none', 'crossEntropy', {'logits': logits, 'target': target},
     F.cross_entropy(logits, target, reduction='none'), reduction='none')
logits4 = randn(2, 3, 2, 2)
target4 = torch.tensor([[[0, 1], [2, 1]], [[2, 2], [0, 1]]])
case('cross_entropy spatial [N,C,H,W]', 'crossEntropy', {'logits': logits4, 'target': target4}, F.cross_entropy(logits4, target4))
case('nll_loss', 'nllLoss', {'logProbs': F.log_softmax(logits, 1), 'target': target}, F.nll_loss(F.log_softmax(logits, 1), target))
yp, yt = randn(3, 4), randn(3, 4)
case('mse_loss', 'mseLoss', {'input': yp, 'target': yt}, F.mse_loss(yp, yt))
case('mse_loss sum', 'mseLoss', {'input': yp, 'target': yt}, F.mse_loss(yp, yt, reduction='sum'), reduction='sum')
case('l1_loss', 'l1Loss', {'input': yp, 'target': yt}, F.l1_loss(yp, yt))
bt01 = (torch.rand(3, 4) > 0.5).float()
case('binary_cross_entropy_with_logits', 'binaryCrossEntropyWithLogits', {'input': yp, 'target': bt01},
     F.binary_cross_entropy_with_logits(yp, bt01))

doc = {
    'generator': 'test/golden/make_golden.py',
    'torch': torch.__version__,
    'cases': cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ops.json')
with open(path, 'w') as f:
    json.dump(doc, f, separators=(',', ':'))
    f.write('\n')
print(f'wrote {len(cases)} cases to {path} ({os.path.getsize(path)} bytes)')
