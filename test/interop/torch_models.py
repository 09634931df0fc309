"""PyTorch side of the interop check (test/interop/pytorch.test.ts).

Defines the reference architectures as their original repositories do (akamaster's CIFAR
ResNet, a torchvision-style VGG for 32x32, SaoYan's DnCNN), then for each model:
  1. loads the weights nnlock wrote with strict=True and runs the input nnlock saved;
  2. writes its own freshly initialised weights and its output for nnlock to load.
safetensors is read and written here with json + struct so only python3-torch is needed.
Usage: python3 torch_models.py DIR
"""
import json, struct, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if buf else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_st(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class LambdaLayer(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4)))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stage = lambda i, p, s: nn.Sequential(*[BasicBlock(i if k == 0 else p, p, s if k == 0 else 1) for k in range(n)])
        self.layer1, self.layer2, self.layer3 = stage(16, 16, 1), stage(16, 32, 2), stage(32, 64, 2)
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.layer3(self.layer2(self.layer1(o)))
        o = F.avg_pool2d(o, o.size()[3])
        return self.linear(o.view(o.size(0), -1))


def vgg11_bn_w(width):
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            o = max(1, round(v * width))
            layers += [nn.Conv2d(c, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
            c = o
    m = nn.Module()
    m.features = nn.Sequential(*layers)
    m.classifier = nn.Sequential(nn.Linear(c, 10))
    m.forward = lambda x: m.classifier(torch.flatten(m.features(x), 1))
    return m


class DnCNN(nn.Module):
    def __init__(self, channels=1, layers=17, features=64):
        super().__init__()
        mods = [nn.Conv2d(channels, features, 3, padding=1, bias=False), nn.ReLU(inplace=True)]
        for _ in range(layers - 2):
            mods += [nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.ReLU(inplace=True)]
        mods.append(nn.Conv2d(features, channels, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*mods)

    def forward(self, x):
        return self.dncnn(x)


MODELS = {"resnet20": ResNetCifar, "vgg11-bn-w0.125": lambda: vgg11_bn_w(0.125), "dncnn-17": lambda: DnCNN(features=16)}

if __name__ == "__main__":
    d = sys.argv[1]
    torch.manual_seed(0)
    report = {}
    for name, make in MODELS.items():
        m = make().eval()
        m.load_state_dict(read_st(f"{d}/nnlock-{name}.safetensors"), strict=True)
        x = read_st(f"{d}/input-{name}.safetensors")["x"]
        with torch.no_grad():
            y = m(x)
        ours = read_st(f"{d}/nnlock-{name}.safetensors")
        expected = read_st(f"{d}/output-nnlock-{name}.safetensors")["y"]
        report[name] = {"max_abs_diff_on_nnlock_weights": float((y - expected).abs().max())}
        fresh = make()
        fresh.train()
        with torch.no_grad():
            fresh(x)  # one training-mode pass so running statistics are not at their defaults
        fresh.eval()
        with torch.no_grad():
            y2 = fresh(x)
        write_st(f"{d}/torch-{name}.safetensors", fresh.state_dict())
        write_st(f"{d}/output-torch-{name}.safetensors", {"y": y2})
    print(json.dumps(report))
