#!/usr/bin/python3
"""PyTorch side of bench/models.ts: the same model cases, driven over stdin/stdout so both sides
run in one benchmark, round by round, and share the machine's noise.

Run with Debian's python3-torch (/usr/bin/python3). The architectures are the reference ones of
test/interop/torch_models.py (akamaster's CIFAR ResNet, SaoYan's DnCNN), loaded with the same
real weights as the nnlock side. Protocol: one JSON object per line in, one per line out.

  {"cmd": "init", "threads": 2}                        -> {"torch": "1.13.0a0", "threads": 2, ...}
  {"cmd": "setup", "case": "train", "seed": 0,
   "weights": {"resnet20": PATH, "dncnn": PATH}}       -> {"ok": true}
  {"cmd": "run", "case": "train", "iters": 1}          -> {"times_ms": [...], "check": 1.23, "first": 7.2}
                                    (check: the last loss or mean |output|; first: train's first loss)
  {"cmd": "teardown", "case": "train"}                 -> {"ok": true}
  {"cmd": "quit"}

Every case mirrors the one of the same name in bench/models.ts: same shapes, same weights, the
inputs drawn from the same seed with the same libtorch generator (so they are the same numbers),
inputs created once at setup, outside the timed region.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "interop"))
from torch_models import DnCNN, ResNetCifar, read_st  # noqa: E402


def resnet20(path):
    m = ResNetCifar(n=3)
    m.load_state_dict(read_st(path), strict=True)
    return m


def dncnn(path):
    m = DnCNN(channels=1, layers=17, features=64)
    m.load_state_dict(read_st(path), strict=True)
    return m


def train_case(seed, weights):
    """ResNet-20 training step: batch 128 of 3x32x32, forward, cross-entropy, backward, SGD
    (lr 0.1, momentum 0.9, weight decay 5e-4). The same batch every step."""
    model = resnet20(weights["resnet20"]).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    torch.manual_seed(seed)
    x = torch.randn(128, 3, 32, 32)
    labels = torch.randint(0, 10, (128,))
    first, last = [None], [float("nan")]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        last[0] = loss
        if first[0] is None:
            first[0] = float(loss)

    step.first = lambda: first[0]
    return step, lambda: float(last[0])


def eval_case(seed, weights):
    """ResNet-20 evaluation: batch 500 of 3x32x32, eval mode, no grad."""
    model = resnet20(weights["resnet20"]).eval()
    torch.manual_seed(seed)
    x = torch.randn(500, 3, 32, 32)
    last = [None]

    def step():
        with torch.no_grad():
            last[0] = model(x)

    return step, lambda: float(last[0].abs().mean())


def denoise_case(shape):
    def make(seed, weights):
        """DnCNN-S-25 inference (the predicted noise residual), eval mode, no grad."""
        model = dncnn(weights["dncnn"]).eval()
        torch.manual_seed(seed)
        x = torch.rand(*shape)
        last = [None]

        def step():
            with torch.no_grad():
                last[0] = model(x)

        return step, lambda: float(last[0].abs().mean())

    return make


CASES = {
    "train": train_case,
    "eval": eval_case,
    "denoise": denoise_case((1, 1, 256, 256)),
    "denoise4": denoise_case((4, 1, 180, 180)),
}


def main():
    state = {}
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        cmd = msg.get("cmd")
        try:
            if cmd == "init":
                torch.set_num_threads(int(msg["threads"]))
                reply = {
                    "torch": torch.__version__,
                    "python": sys.version.split()[0],
                    "threads": torch.get_num_threads(),
                    "parallel_info": torch.__config__.parallel_info(),
                    "torch_file": torch.__file__,
                }
            elif cmd == "setup":
                state[msg["case"]] = CASES[msg["case"]](int(msg.get("seed", 0)), msg["weights"])
                reply = {"ok": True}
            elif cmd == "run":
                step, check = state[msg["case"]]
                times = []
                for _ in range(int(msg["iters"])):
                    t0 = time.perf_counter()
                    step()
                    times.append((time.perf_counter() - t0) * 1e3)
                reply = {"times_ms": times, "check": check()}
                if hasattr(step, "first"):
                    reply["first"] = step.first()
            elif cmd == "teardown":
                state.pop(msg["case"], None)
                reply = {"ok": True}
            elif cmd == "quit":
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            else:
                reply = {"error": "unknown command %r" % (cmd,)}
        except Exception as e:  # reported to the driver, which stops with the message
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
