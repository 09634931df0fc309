#!/usr/bin/env node
// Finds libtorch for the native build, in the order DESIGN.md gives:
//   1. LIBTORCH=/path (a folder with include/ and lib/, e.g. an unpacked libtorch zip)
//   2. the system install (Debian's libtorch-dev: headers in /usr/include, libs in the multiarch dir)
//   3. LIBTORCH_USE_PYTORCH=1: ask Python's torch where its headers and libraries are
// binding.gyp calls this with one of: include | libdir | libs | version | report.
// Nothing is downloaded and nothing is bundled.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

function versionFromHeaders(includeDirs) {
  for (const dir of includeDirs) {
    for (const rel of ['torch/csrc/api/include/torch/version.h', 'torch/version.h']) {
      const file = join(dir, rel);
      if (existsSync(file)) {
        const text = readFileSync(file, 'utf8');
        const part = () => /#define\s+TORCH_VERSION_(\w+)\s+(\d+)/g;
        const nums = {};
        for (const m of text.matchAll(part())) nums[m[1]] = m[2];
        if (nums.MAJOR !== undefined) return `${nums.MAJOR}.${nums.MINOR}.${nums.PATCH}`;
      }
    }
  }
  return 'unknown';
}

function fromFolder(root, source) {
  const include = [join(root, 'include'), join(root, 'include/torch/csrc/api/include')];
  const libdir = join(root, 'lib');
  if (!existsSync(join(include[0], 'ATen/ATen.h'))) return null;
  if (!existsSync(join(libdir, 'libtorch_cpu.so')) && !existsSync(join(libdir, 'libtorch_cpu.dylib'))) return null;
  return { source, include, libdir };
}

function fromSystem() {
  const multiarch = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  if (!existsSync('/usr/include/ATen/ATen.h')) return null;
  const libdir = multiarch.find((d) => existsSync(join(d, 'libtorch_cpu.so')));
  if (!libdir) return null;
  return { source: 'system (libtorch-dev)', include: ['/usr/include', '/usr/include/torch/csrc/api/include'], libdir };
}

function fromPython() {
  const python = process.env.PYTHON ?? 'python3';
  const code =
    'import torch, os; from torch.utils import cpp_extension as c; ' +
    'print(os.path.dirname(torch.__file__)); print(torch.__version__); print(int(torch.cuda.is_available() or torch.version.cuda is not None))';
  let out;
  try {
    out = execFileSync(python, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n');
  } catch {
    return null;
  }
  const found = fromFolder(out[0], `python torch ${out[1]} (${out[0]})`);
  if (found) found.cuda = out[2] === '1';
  return found;
}

function find() {
  if (process.env.LIBTORCH) {
    const f = fromFolder(process.env.LIBTORCH, `LIBTORCH=${process.env.LIBTORCH}`);
    if (!f) fail(`LIBTORCH=${process.env.LIBTORCH} has no include/ATen/ATen.h and lib/libtorch_cpu.so`);
    return f;
  }
  if (process.env.LIBTORCH_USE_PYTORCH === '1') {
    const f = fromPython();
    if (!f) fail("LIBTORCH_USE_PYTORCH=1 but Python's torch could not be imported (set PYTHON to the interpreter that has it)");
    return f;
  }
  const f = fromSystem();
  if (f) return f;
  fail(
    'no libtorch found. Install one of: Debian/Ubuntu `apt-get install libtorch-dev`; ' +
      'an unpacked libtorch folder with LIBTORCH=/path/to/libtorch; or PyTorch for Python with LIBTORCH_USE_PYTORCH=1.',
  );
}

function fail(message) {
  process.stderr.write(`nnlock native build: ${message}\n`);
  process.exit(1);
}

export function libtorchInfo() {
  const f = find();
  const libdir = f.libdir;
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (existsSync(join(libdir, 'libtorch_cuda.so'))) libs.splice(2, 0, '-ltorch_cuda', '-lc10_cuda');
  return { ...f, libs, version: versionFromHeaders(f.include), cuda: existsSync(join(libdir, 'libtorch_cuda.so')) };
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const info = libtorchInfo();
  switch (process.argv[2]) {
    case 'include':
      console.log(info.include.join(' '));
      break;
    case 'libdir':
      console.log(info.libdir);
      break;
    case 'libs':
      console.log(info.libs.join(' '));
      break;
    case 'version':
      console.log(info.version);
      break;
    default:
      console.log(`libtorch ${info.version} from ${info.source}: include ${info.include[0]}, lib ${info.libdir}, CUDA ${info.cuda ? 'yes' : 'no'}`);
      if (!/^(1\.1[3-9]|1\.[2-9]\d|[2-9]\.)/.test(info.version)) {
        fail(`libtorch ${info.version} is too old: nnlock needs 1.13 or newer`);
      }
  }
}
