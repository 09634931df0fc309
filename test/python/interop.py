"""The Python side of test/python/nnlock-torch.test.ts: runs a JSON list of requests (stdin) with
nnlock_torch and answers a JSON list of results (stdout). Tokens come in on stdin, never argv.

Requests:
  {"op": "unlock", "path", "token", "tier"}  -> {"sha256": {name: hex}, "writes": [paths opened for writing]}
  {"op": "eval", "path", "token", "tier", "data", "width", "mean", "std"} -> {"accuracy", "images"}
  {"op": "error", "path", "token", "tier"}   -> {"error": class name, "message"}
  {"op": "derive", "token", "tier", "model"} -> {"token"}
  {"op": "encrypt" | "decrypt", "key", "shape", "values", "dtype"} -> {"values"}
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import nnlock_torch as nt  # noqa: E402
from torch_models import vgg11_bn_w  # noqa: E402  (the PyTorch twins of nnlock's architectures)

_writes = []
_watching = [False]


def _audit(event, args):
    # Any file opened for writing while load_protected runs (an open() mode or os.open flags).
    if not _watching[0] or event != "open":
        return
    path, mode, flags = (list(args) + [None, None])[:3]
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC))
    if writing:
        _writes.append(str(path))


sys.addaudithook(_audit)


def sha256_of(t):
    return hashlib.sha256(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest()


def unlock(r):
    _writes.clear()
    _watching[0] = True
    try:
        state = nt.load_protected(r["path"], r["token"], r.get("tier"))
    finally:
        _watching[0] = False
    return {"sha256": {n: sha256_of(t) for n, t in state.items()}, "writes": list(_writes)}


def evaluate(r):
    model = vgg11_bn_w(r["width"])
    model.load_state_dict(nt.load_protected(r["path"], r["token"], r.get("tier")), strict=True)
    model.eval()
    raw = np.fromfile(r["data"], dtype=np.uint8).reshape(-1, 3073)
    labels = torch.from_numpy(raw[:, 0].astype(np.int64))
    x = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)) / 255
    x = (x - torch.tensor(r["mean"]).view(1, 3, 1, 1)) / torch.tensor(r["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = model(x).argmax(1)
    return {"accuracy": float((predicted == labels).double().mean()), "images": len(labels)}


def error(r):
    try:
        nt.load_protected(r["path"], r["token"], r.get("tier"))
    except nt.NnlockError as e:
        return {"error": type(e).__name__, "message": str(e)}
    return {"error": None, "message": ""}


def cipher(r):
    x = np.array(r["values"], dtype=r["dtype"]).reshape(r["shape"])
    f = nt.encrypt_images if r["op"] == "encrypt" else nt.decrypt_images
    y = f(torch.from_numpy(x), r["key"])
    return {"values": y.double().reshape(-1).tolist()}


OPS = {"unlock": unlock, "eval": evaluate, "error": error, "encrypt": cipher, "decrypt": cipher,
       "derive": lambda r: {"token": nt.derive_key(r["token"], r["tier"], r["model"])}}

if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps([OPS[r["op"]](r) for r in json.load(sys.stdin)]))
