"""PyTorch side of the TorchScript check (test/models/torchscript-pytorch.test.ts).

A user's own small CNN, NOT one of nnlock's architectures: a Conv2d stem with batch norm, a
strided Conv2d plus a learned 4-D positional embedding (a [1, 16, 16, 16] parameter that is not a
conv weight), a third Conv2d, a Conv1d over the pooled features and a Linear head.

  python3 torchscript_model.py train DIR
      makes a seeded synthetic 4-class image set (DIR/data_batch_1.bin, DIR/test_batch.bin, in
      CIFAR-10's binary format), trains the net on it briefly, and writes DIR/model.pt
      (torch.jit.script), DIR/weights.safetensors (its state_dict, with the input normalisation in
      the metadata) and prints {"test_accuracy": ...}.
  python3 torchscript_model.py denoiser DIR
      writes DIR/denoiser.pt (torch.jit.script of a small residual denoiser, seeded weights) and
      DIR/denoiser.safetensors.
  python3 torchscript_model.py check DIR FILE...
      loads each safetensors FILE into a fresh Net with strict=True, runs DIR/input.safetensors' x
      and writes the output y to FILE.torch-out.safetensors; prints {"FILE": "ok"}.

safetensors is read and written with json + struct so only python3-torch is needed.
"""
import json, struct, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}
MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
CLASSES = 4


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        # nnlock's reserved tensors (a protected model's sealed sections, format v3) are no weights:
        # a PyTorch user drops them before load_state_dict(strict=True), as docs/FORMAT-v3.md says.
        if name == "__metadata__" or name.startswith("__nnlock__/"):
            continue
        a, b = e["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if buf else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_st(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        b = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pos = nn.Parameter(torch.zeros(1, 16, 16, 16))
        self.conv3 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.mix = nn.Conv1d(1, 2, 3, padding=1)
        self.head = nn.Linear(32, CLASSES)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = F.relu(self.conv2(x) + self.pos)
        x = F.relu(self.conv3(x))
        x = x.mean(dim=(2, 3))
        x = self.mix(x.unsqueeze(1)).flatten(1)
        return self.head(x)


def synthetic(n, gen):
    """4 classes of 32x32 RGB textures: horizontal, vertical, diagonal stripes, checks; random phase, colour, noise."""
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    labels = torch.randint(0, CLASSES, (n,), generator=gen)
    period = 4 + 4 * torch.rand(n, 1, 1, generator=gen)
    phase = 6.283 * torch.rand(n, 1, 1, generator=gen)
    patterns = [torch.sin(6.283 * yy / period + phase), torch.sin(6.283 * xx / period + phase),
                torch.sin(6.283 * (xx + yy) / period + phase),
                torch.sin(6.283 * yy / period + phase) * torch.sin(6.283 * xx / period + phase)]
    stacked = torch.stack(patterns, 1)  # [n, 4, 32, 32]
    p = stacked[torch.arange(n), labels]  # [n, 32, 32]
    colour = 0.3 + 0.7 * torch.rand(n, 3, 1, 1, generator=gen)
    img = 0.5 + 0.35 * p.unsqueeze(1) * colour + 0.12 * torch.randn(n, 3, 32, 32, generator=gen)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8), labels


def write_cifar(path, images, labels):
    with open(path, "wb") as f:
        for img, y in zip(images, labels):
            f.write(bytes([int(y)]) + img.numpy().tobytes())


def normalise(images):
    x = images.float() / 255
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def train(d):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    xtr, ytr = synthetic(1024, gen)
    xte, yte = synthetic(256, gen)
    write_cifar(f"{d}/data_batch_1.bin", xtr, ytr)
    write_cifar(f"{d}/test_batch.bin", xte, yte)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xn = normalise(xtr)
    for epoch in range(6):
        perm = torch.randperm(len(xn))
        for i in range(0, len(xn), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(net(xn[idx]), ytr[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(normalise(xte)).argmax(1) == yte).float().mean().item()
    torch.jit.script(net).save(f"{d}/model.pt")
    write_st(f"{d}/weights.safetensors", net.state_dict(), {"input_mean": ",".join(map(str, MEAN)), "input_std": ",".join(map(str, STD))})
    print(json.dumps({"test_accuracy": acc}))


class Denoiser(nn.Module):
    """Predicts the noise of a grey image (a residual, as DnCNN): three Conv2d with batch norm in between."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv2d(1, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.last = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x):
        return self.last(F.relu(self.bn(self.mid(F.relu(self.first(x))))))


def denoiser(d):
    torch.manual_seed(2)
    net = Denoiser().eval()
    torch.jit.script(net).save(f"{d}/denoiser.pt")
    write_st(f"{d}/denoiser.safetensors", net.state_dict())


def check(d, files):
    x = read_st(f"{d}/input.safetensors")["x"]
    report = {}
    for path in files:
        net = Net()
        net.load_state_dict(read_st(path), strict=True)
        net.eval()
        with torch.no_grad():
            write_st(f"{path}.torch-out.safetensors", {"y": net(x)})
        report[path] = "ok"
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train(sys.argv[2])
    elif sys.argv[1] == "denoiser":
        denoiser(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3:])
