#!/usr/bin/python3
"""PyTorch side of bench/engine.ts: the same cases, driven over stdin/stdout so both sides run in
one benchmark, round by round, and share the machine's noise.

Run with Debian's python3-torch (/usr/bin/python3). Protocol: one JSON object per line in, one
per line out.

  {"cmd": "init", "threads": 2}            -> {"torch": "1.13.0a0", "threads": 2, ...}
  {"cmd": "setup", "case": "conv", "seed": 0} -> {"ok": true}
  {"cmd": "run", "case": "conv", "iters": 10} -> {"times_ms": [...], "check": 1.23}
  {"cmd": "quit"}

Every case here mirrors the one of the same name in bench/engine.ts op for op: same shapes, same
seeded initialisation (the same libtorch generator gives the same numbers on both sides), same
update rule, so the final `check` values should agree.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def conv_case(seed):
    """conv2d forward + backward: input [32, 64, 32, 32], 64 -> 64, 3x3, padding 1, float32."""
    torch.manual_seed(seed)
    x = torch.randn(32, 64, 32, 32).requires_grad_()
    w = (torch.randn(64, 64, 3, 3) * 0.05).requires_grad_()
    b = torch.zeros(64).requires_grad_()
    grad_out = torch.randn(32, 64, 32, 32)
    params = [x, w, b]

    def step():
        for p in params:
            p.grad = None
        y = F.conv2d(x, w, b, stride=1, padding=1)
        y.backward(grad_out)

    def check():
        return float(w.grad.sum())

    return step, check


def cnn_case(seed):
    """One training step of a small CNN: batch 64 of 3x32x32, (conv 3x3 pad 1, relu, maxpool 2) x2,
    linear to 10 classes, cross-entropy, backward, SGD with momentum 0.9 done with in-place ops."""
    torch.manual_seed(seed)
    x = torch.randn(64, 3, 32, 32)
    labels = torch.randint(0, 10, (64,))
    params = [
        (torch.randn(32, 3, 3, 3) * 0.1).requires_grad_(),
        torch.zeros(32).requires_grad_(),
        (torch.randn(64, 32, 3, 3) * 0.05).requires_grad_(),
        torch.zeros(64).requires_grad_(),
        (torch.randn(10, 64 * 8 * 8) * 0.01).requires_grad_(),
        torch.zeros(10).requires_grad_(),
    ]
    bufs = [None] * len(params)
    lr, momentum = 0.01, 0.9
    last = [0.0]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
        logits = F.linear(torch.flatten(h, 1), w3, b3)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        with torch.no_grad():
            for i, p in enumerate(params):
                g = p.grad
                if bufs[i] is None:
                    bufs[i] = torch.clone(g).detach()
                else:
                    bufs[i].mul_(momentum).add_(g)
                p.add_(bufs[i], alpha=-lr)
                p.grad = None
        last[0] = loss

    def check():
        return float(last[0])

    return step, check


def smallop_case(seed):
    """1,000 adds of two [4, 4] float32 tensors: the per-op overhead of the binding."""
    torch.manual_seed(seed)
    a = torch.randn(4, 4)
    b = torch.randn(4, 4)
    last = [float("nan")]

    def step():
        r = None
        for _ in range(1000):
            r = torch.add(a, b)
        last[0] = r.numel()

    def check():
        return float(last[0])

    return step, check


CASES = {"conv": conv_case, "cnn": cnn_case, "smallop": smallop_case}


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
                state[msg["case"]] = CASES[msg["case"]](int(msg.get("seed", 0)))
                reply = {"ok": True}
            elif cmd == "run":
                step, check = state[msg["case"]]
                times = []
                for _ in range(int(msg["iters"])):
                    t0 = time.perf_counter()
                    step()
                    times.append((time.perf_counter() - t0) * 1e3)
                reply = {"times_ms": times, "check": check()}
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
