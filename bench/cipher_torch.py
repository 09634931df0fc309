#!/usr/bin/python3
"""PyTorch side of bench/cipher.ts: block-wise Hill-cipher encryption, vectorised in PyTorch the
usual way, driven over stdin/stdout so both sides run in one benchmark, round by round.

Run with Debian's python3-torch (/usr/bin/python3). Protocol: one JSON object per line in, one per
line out.

  {"cmd": "init", "threads": 2}                                  -> {"torch": ..., "threads": 2, ...}
  {"cmd": "setup", "case": "orth32", "seed": 0, "kind": "orthogonal", "k": 4, "algorithm": "conv" | "conv-copy" | "bmm", "chunk": 170,
   "shape": [1024, 3, 32, 32], "matrices": [[...k^4 numbers...], ...], "perm": null | [...]}
                                                                 -> {"ok": true}
  {"cmd": "run", "case": "orth32", "iters": 5}                   -> {"times_ms": [...], "check": 1.23}
  {"cmd": "quit"}

The input images come from torch.rand / torch.randint after torch.manual_seed(seed): the same
libtorch generator as nnlock's, so both sides encrypt the same numbers and `check` (the sum of the
ciphertext) should agree.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def block_products(x, W, k, perm, hill):
    """The same product as one grouped convolution: W[c·k² + j, 0, a, b] = K_c[a·k + b, j], stride k,
    groups C, gives entry j of each block's row vector times K_c in channel c·k² + j, at the block's
    position. perm (block positions) is an index over the gh·gw positions, applied along the last
    dim of [N·C·k², gh·gw]. hill256 works in float32 (exact: every partial sum is an integer
    below 2^24)."""
    n, c, h, w = x.shape
    gh, gw = h // k, w // k
    z = F.conv2d(x.to(torch.float32) if hill else x, W, stride=k, groups=c)
    if perm is not None:
        z = z.reshape(n * c * k * k, gh * gw).index_select(1, perm).reshape(n, c * k * k, gh, gw)
    return z


def encrypt_conv(x, W, k, perm, hill):
    """The reference: the block products, then pixel_shuffle puts the entries back into their
    blocks (hill256: remainder and the cast back to uint8 as their own steps)."""
    z = block_products(x, W, k, perm, hill)
    if hill:
        z = torch.remainder(z, 256)
    y = F.pixel_shuffle(z, k)
    return y.to(torch.uint8) if hill else y


def encrypt_conv_copy(x, W, k, perm, hill, chunk):
    """nnlock's own op sequence (src/cipher/hill.ts), for the same-formulation control: `chunk`
    images at a time, the block products, remainder in place, then the blocks written back by one
    strided copy_ into the chunk's slice of the output (which also casts back to uint8 for hill256)
    instead of pixel_shuffle."""
    n, c, h, w = x.shape
    gh, gw = h // k, w // k
    y = torch.empty((n, c, h, w), dtype=x.dtype if hill else W.dtype)
    for i in range(0, n, chunk):
        xs = x[i:i + chunk]
        m = xs.shape[0]
        z = block_products(xs, W, k, perm, hill)
        if hill:
            z.remainder_(256)
        y[i:i + m].view(m, c, gh, k, gw, k).permute(0, 1, 3, 5, 2, 4).copy_(z.view(m, c, k, k, gh, gw))
    return y


def encrypt_bmm(x, K, k, perm, hill):
    """y = x·K per row-major k×k block and channel, the textbook way: reshape/permute into blocks,
    one batched matmul per channel (bmm over channels), optional block permutation, back to
    [N, C, H, W]."""
    n, c, h, w = x.shape
    gh, gw = h // k, w // k
    xf = x.to(torch.float32) if hill else x
    rows = xf.reshape(n, c, gh, k, gw, k).permute(1, 0, 2, 4, 3, 5).reshape(c, n * gh * gw, k * k)
    y = torch.bmm(rows, K)
    if perm is not None:
        # perm is the block permutation expanded to entries (perm[p]·k² + j): an index_select along
        # the last dim of [C·N, B·k²]. (index_select along dim 2 of [C, N, B, k²] is ~100× slower in
        # libtorch 1.13 on the CPU: about 1 s for 1024 CIFAR images.)
        y = y.reshape(c * n, gh * gw * k * k).index_select(1, perm).reshape(c, n * gh * gw, k * k)
    if hill:
        y = torch.remainder(y, 256)
    y = y.reshape(c, n, gh, gw, k, k).permute(1, 0, 2, 4, 3, 5).reshape(n, c, h, w)
    return y.to(torch.uint8) if hill else y


def make_case(msg):
    torch.manual_seed(int(msg.get("seed", 0)))
    shape = msg["shape"]
    hill = msg["kind"] == "hill256"
    k = int(msg["k"])
    x = torch.randint(0, 256, shape).to(torch.uint8) if hill else torch.rand(shape)
    c = shape[1]
    K = torch.tensor(msg["matrices"], dtype=torch.float64).reshape(c, k * k, k * k).to(torch.float32)
    algorithm = msg.get("algorithm", "conv")
    if algorithm not in ("conv", "conv-copy", "bmm"):
        raise ValueError("unknown algorithm %r" % (algorithm,))
    conv = algorithm != "bmm"
    perm = None
    if msg.get("perm") is not None:
        p = torch.tensor(msg["perm"], dtype=torch.int64)
        perm = p if conv else (p[:, None] * (k * k) + torch.arange(k * k)).reshape(-1)
    W = K.transpose(1, 2).reshape(c * k * k, 1, k, k).contiguous()
    chunk = int(msg.get("chunk") or shape[0])
    last = [None]

    def step():
        if algorithm == "conv":
            last[0] = encrypt_conv(x, W, k, perm, hill)
        elif algorithm == "conv-copy":
            last[0] = encrypt_conv_copy(x, W, k, perm, hill, chunk)
        else:
            last[0] = encrypt_bmm(x, K, k, perm, hill)

    def check():
        return float(last[0].to(torch.float64).sum())

    return step, check


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
                state[msg["case"]] = make_case(msg)
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
