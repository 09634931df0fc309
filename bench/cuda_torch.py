#!/usr/bin/env python3
"""PyTorch side of bench/cuda.ts: ResNet-20 training and evaluation images per second on one GPU.

Run by bench/cuda.ts once per case and round, with the python3 that holds the GPU machine's
PyTorch (the one the addon was built against). The cases mirror bench/cuda.ts exactly:

  train  batch 128 of 3x32x32 (random, seeded), forward, cross-entropy, backward, SGD (lr 0.1,
         momentum 0.9, weight decay 5e-4), the same batch every step
  eval   batch 500 of 3x32x32, eval mode, no grad

Both sides start from a fresh seeded initialisation (throughput does not depend on the values),
run `warmup` steps, synchronise, then time `steps` steps and synchronise again. Prints one JSON
line: {"case", "imagesPerSecond", "seconds", "steps", "check", "torch", "device", "gpu"}.

  python3 bench/cuda_torch.py --case train --steps 30 --warmup 5 --device cuda:0
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "interop"))
from torch_models import ResNetCifar  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--case", choices=["train", "eval"], required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"error": "PyTorch sees no CUDA device"}))
        sys.exit(3)
    device = torch.device(a.device)
    torch.manual_seed(a.seed)
    model = ResNetCifar(n=3).to(device)
    batch = 128 if a.case == "train" else 500
    # Drawn on the CPU and copied, as bench/cuda.ts does.
    x = torch.randn(batch, 3, 32, 32).to(device)
    labels = torch.randint(0, 10, (batch,)).to(device)
    if a.case == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        last = [None]

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), labels)
            loss.backward()
            opt.step()
            last[0] = loss

        def check():
            return float(last[0].item())
    else:
        model.eval()
        last = [None]

        def step():
            with torch.no_grad():
                last[0] = model(x)

        def check():
            return float(last[0].abs().mean().item())

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "case": a.case,
        "imagesPerSecond": batch * a.steps / seconds,
        "seconds": seconds,
        "steps": a.steps,
        "check": check(),
        "torch": torch.__version__,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device),
    }))


if __name__ == "__main__":
    main()
