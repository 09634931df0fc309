#!/usr/bin/env bash
# The main demo: installs what is missing (libtorch, the addon, and Debian's Fashion-MNIST), then
# runs `nnlock demo`: the engine, then both capabilities on real data. With the shared fixtures
# beside the project, a pretrained ResNet-20 and CIFAR-10; without them (any machine), a small CNN
# trained on Fashion-MNIST (a few minutes the first time, then cached in ~/.cache/nnlock). Safe to
# run twice. Arguments go to `nnlock demo` (--data, --fashion-mnist, --cache, --limit, -o, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node bin/nnlock.js demo "$@"
