// Devices: the one parser of 'cpu' | 'cuda' | 'cuda:i', checked against what the linked libtorch
// sees, so a missing GPU is one clear sentence before any work instead of libtorch's own error in
// the middle of a run.
import { readFileSync } from 'node:fs';
import { cuda } from './runtime.ts';

/** A device in canonical form: 'cpu' or 'cuda:<index>' ('cuda' alone means 'cuda:0'). */
export type Device = 'cpu' | `cuda:${number}`;

/** A device name that is not one nnlock runs on, or one this libtorch cannot reach. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

const SYNTAX = /^(cpu|cuda)(?::(\d{1,4}))?$/;

/**
 * Why this libtorch sees no CUDA device: a CPU-only build (no libtorch_cuda in the process), or a
 * CUDA build that finds no GPU (driver, CUDA_VISIBLE_DEVICES).
 */
function whyNoCuda(): string {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return 'built without CUDA, or no GPU is visible';
  }
  return /libtorch_cuda|libc10_cuda/.test(maps) ? 'a CUDA build, but no GPU is visible: check the driver and CUDA_VISIBLE_DEVICES' : 'built without CUDA';
}

/** 'cpu' | 'cuda' | 'cuda:i' in canonical form, or a DeviceError saying what is wrong with the name. */
export function deviceSyntax(spec: string): Device {
  const m = SYNTAX.exec(spec.trim());
  if (!m || (m[1] === 'cpu' && m[2] !== undefined)) throw new DeviceError(`'${spec}' is not a device: use cpu, cuda or cuda:<index>`);
  if (m[1] === 'cpu') return 'cpu';
  return `cuda:${Number(m[2] ?? 0)}`;
}

/**
 * A device name checked against this process's libtorch: 'cpu' always passes (and loads no
 * libtorch); 'cuda[:i]' needs a CUDA build that sees more than i GPUs. The DeviceError reads
 * "cuda:1: this libtorch sees 0 CUDA devices (built without CUDA)".
 */
export function parseDevice(spec: string): Device {
  const device = deviceSyntax(spec);
  if (device === 'cpu') return device;
  const index = Number(device.slice('cuda:'.length));
  const count = cuda.deviceCount();
  if (count === 0) throw new DeviceError(`${spec}: this libtorch sees 0 CUDA devices (${whyNoCuda()})`);
  if (index >= count) throw new DeviceError(`${spec}: this libtorch sees ${count} CUDA device${count === 1 ? '' : 's'} (cuda:0${count > 1 ? `..cuda:${count - 1}` : ''})`);
  return device;
}

/** Whether two device names (as tensors report them or as given) are the same device. */
export function sameDevice(a: string, b: string): boolean {
  const canonical = (d: string) => (d === 'cuda' ? 'cuda:0' : d);
  return canonical(a) === canonical(b);
}
