#!/usr/bin/env node
// Finds libtorch for the native build, in the order DESIGN.md gives:
//   1. LIBTORCH=/path (a folder with include/ and lib/, e.g. an unpacked libtorch zip)
//   2. the system install (Debian's libtorch-dev: headers in /usr/include, libs in the multiarch dir)
//   3. LIBTORCH_USE_PYTORCH=1: ask Python's torch where its headers and libraries are
// binding.gyp calls this with one of: include | libdir | libs | defines | version | report.
// Nothing is downloaded and nothing is bundled.
//
// NCCL: when the libtorch found is a CUDA build whose headers have c10d's ProcessGroupNCCL.hpp, and
// the CUDA runtime and NCCL headers are found too (CUDA_HOME, /usr/local/cuda, or the nvidia-*
// wheels beside PyTorch's), the addon compiles c10d's NCCL process group (NNLOCK_WITH_NCCL);
// otherwise backend 'nccl' is refused with a clear error. NNLOCK_NCCL=0 leaves it out even then.
// NNLOCK_C10D=0 leaves the whole c10d binding out (its exports then throw, saying so).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

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
    'print(os.path.dirname(torch.__file__)); print(torch.__version__); print(int(torch.cuda.is_available() or torch.version.cuda is not None)); ' +
    'print(int(torch.compiled_with_cxx11_abi()))';
  let out;
  try {
    out = execFileSync(python, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n');
  } catch {
    return null;
  }
  const found = fromFolder(out[0], `python torch ${out[1]} (${out[0]})`);
  if (found) {
    found.cuda = out[2] === '1';
    // PyTorch's wheels were built with the old C++ ABI before 2.7: the addon must match, or its
    // std::string arguments do not link.
    found.cxx11Abi = out[3] === '1';
    found.sitePackages = dirname(out[0]);
  }
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

/** Folders that may hold the CUDA runtime's and NCCL's headers, for this libtorch. */
function cudaIncludeCandidates(f) {
  const dirs = [process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'include'), '/usr/local/cuda/include', '/usr/include'];
  // PyTorch's CUDA wheels bring the headers in nvidia-*-cu* packages: site-packages/nvidia/<lib>/include.
  const nvidia = f.sitePackages && join(f.sitePackages, 'nvidia');
  if (nvidia && existsSync(nvidia)) for (const lib of readdirSync(nvidia)) dirs.push(join(nvidia, lib, 'include'));
  return dirs.filter((d) => d && existsSync(d));
}

/** Whether c10d's NCCL group can be compiled against this libtorch: { ok, why, include }. */
function ncclSupport(f, cuda) {
  if (process.env.NNLOCK_NCCL === '0') return { ok: false, why: 'NNLOCK_NCCL=0', include: [] };
  if (process.env.NNLOCK_C10D === '0') return { ok: false, why: 'NNLOCK_C10D=0', include: [] };
  if (!cuda) return { ok: false, why: 'a CPU-only libtorch', include: [] };
  if (!f.include.some((d) => existsSync(join(d, 'torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp')))) return { ok: false, why: 'its headers have no c10d ProcessGroupNCCL.hpp', include: [] };
  const dirs = cudaIncludeCandidates(f);
  const having = (header) => dirs.filter((d) => existsSync(join(d, header)));
  const runtime = having('cuda_runtime_api.h');
  const nccl = having('nccl.h');
  if (runtime.length === 0) return { ok: false, why: 'no cuda_runtime_api.h found (set CUDA_HOME)', include: [] };
  if (nccl.length === 0) return { ok: false, why: 'no nccl.h found (set CUDA_HOME, or install NCCL headers)', include: [] };
  // Every header folder of the CUDA wheels (cuBLAS, cuSPARSE, ... are included by ATen's CUDA headers).
  // Every header folder of the CUDA wheels (ATen's CUDA headers include cuBLAS's, cuSPARSE's, ...);
  // /usr/include is searched by the compiler anyway, and must not come before libtorch's own.
  const include = [...new Set([...runtime, ...nccl, ...dirs.filter((d) => d.includes('/nvidia/'))])].filter((d) => d !== '/usr/include');
  return { ok: true, why: 'c10d ProcessGroupNCCL', include };
}

export function libtorchInfo() {
  const f = find();
  const libdir = f.libdir;
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  const cuda = existsSync(join(libdir, 'libtorch_cuda.so'));
  if (cuda) libs.splice(2, 0, '-ltorch_cuda', '-lc10_cuda');
  const nccl = ncclSupport(f, cuda);
  const defines = [];
  if (f.cxx11Abi !== undefined) defines.push(`_GLIBCXX_USE_CXX11_ABI=${f.cxx11Abi ? 1 : 0}`);
  if (process.env.NNLOCK_C10D === '0') defines.push('NNLOCK_NO_C10D');
  if (nccl.ok) defines.push('USE_C10D_NCCL', 'NNLOCK_WITH_NCCL');
  return { ...f, include: [...f.include, ...nccl.include], libs, defines, nccl, version: versionFromHeaders(f.include), cuda };
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
    case 'defines':
      console.log(info.defines.join(' '));
      break;
    default:
      console.log(
        `libtorch ${info.version} from ${info.source}: include ${info.include[0]}, lib ${info.libdir}, CUDA ${info.cuda ? 'yes' : 'no'}, ` +
          `NCCL ${info.nccl.ok ? 'yes' : `no (${info.nccl.why})`}${process.env.NNLOCK_C10D === '0' ? ', c10d left out (NNLOCK_C10D=0)' : ''}`,
      );
      if (!/^(1\.1[3-9]|1\.[2-9]\d|[2-9]\.)/.test(info.version)) {
        fail(`libtorch ${info.version} is too old: nnlock needs 1.13 or newer`);
      }
  }
}
