# PyTorch check of the DnCNN thief's baseline (exp-dncnn-paper.ts --attack, dncnn-dense-front.ts):
# DnCNN-S (17 layers, BN, bias-free convs) from PyTorch's default initialisation, trained from
# scratch with Adam on the same 1,000 train400 patches (40x40, stride 40, evenly spread), sigma 25
# noise per batch, 126 steps of batch 16, PSNR on the 256x256 Set12 images (seed-0 noise). Two
# recipes: 'cosine' is the harness's (two shuffled epochs, cosine learning rate), 'constant' draws
# batches at random at a constant learning rate. It tells whether nnlock's from-scratch figure is
# PyTorch's, and how much a different recipe gives the baseline.
#
#   /usr/bin/python3 experiments/protect/dncnn_scratch_torch.py cosine 0.001
#   /usr/bin/python3 experiments/protect/dncnn_scratch_torch.py constant 0.001
import glob
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

torch.set_num_threads(1)
DATA = os.environ.get('NNLOCK_DATA', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data'))
recipe, lrs = sys.argv[1], [float(x) for x in sys.argv[2:]]


def dncnn():
    layers = [nn.Conv2d(1, 64, 3, padding=1, bias=False), nn.ReLU(inplace=True)]
    for _ in range(15):
        layers += [nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.Conv2d(64, 1, 3, padding=1, bias=False))


def gray(f):
    return np.asarray(Image.open(f).convert('L'), dtype=np.float32) / 255


patches = []
for f in sorted(glob.glob(os.path.join(DATA, 'images', 'train400', '*.png'))):
    a = gray(f)
    patches += [a[y:y + 40, x:x + 40] for y in range(0, a.shape[0] - 39, 40) for x in range(0, a.shape[1] - 39, 40)]
patches = torch.tensor(np.stack(patches)[np.linspace(0, len(patches) - 1, 1000).astype(int)])[:, None]
test = [torch.tensor(gray(f))[None, None] for f in sorted(glob.glob(os.path.join(DATA, 'images', 'Set12', '*.png')))]
test = [t for t in test if t.shape[-1] == 256]

for lr in lrs:
    torch.manual_seed(1)
    model = dncnn()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    if recipe == 'cosine':
        batches = [perm[i:i + 16] for perm in (torch.randperm(1000) for _ in range(2)) for i in range(0, 1000, 16)]
    else:
        batches = [torch.randint(0, 1000, (16,)) for _ in range(126)]
    for step, idx in enumerate(batches):
        if recipe == 'cosine':
            for group in opt.param_groups:
                group['lr'] = lr * 0.5 * (1 + math.cos(math.pi * step / len(batches)))
        clean = patches[idx]
        noise = torch.randn_like(clean) * 25 / 255
        loss = ((model(clean + noise) - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    g = torch.Generator().manual_seed(0)
    psnr = []
    with torch.no_grad():
        for t in test:
            noisy = t + torch.randn(t.shape, generator=g) * 25 / 255
            out = (noisy - model(noisy)).clamp(0, 1)
            psnr.append(10 * math.log10(1 / ((out - t) ** 2).mean().item()))
    print(f'{recipe} lr {lr}: {np.mean(psnr):.2f} dB from scratch after {len(batches)} steps', flush=True)
