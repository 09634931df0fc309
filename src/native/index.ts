// The one file that loads the native addon, with its typed interface. Everything above talks to
// libtorch through `native`; nothing else touches the .node module.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Opaque reference to one at::Tensor, owned by the JavaScript object that holds it. */
export interface NativeHandle {
  readonly __nativeHandle: unique symbol;
}

/** Opaque reference to one TorchScript module (torch::jit::Module), owned by the object that holds it. */
export interface NativeModuleHandle {
  readonly __nativeModuleHandle: unique symbol;
}

/**
 * What an op call can return: tensors (or null for undefined ones), numbers (a bigint for an
 * integer beyond 2^53, never rounded), booleans, lists.
 */
export type NativeValue = NativeHandle | number | bigint | boolean | string | null | undefined | NativeValue[];

/**
 * The addon's exports. Each is registered through one guarded wrapper (native/src/common.h,
 * exportGuarded): any C++ exception becomes a JavaScript Error naming the export (a RangeError for
 * a value out of range, e.g. a BigInt beyond int64), never a process abort.
 */
export interface NativeBinding {
  fromBytes(bytes: ArrayBufferView, shape: readonly number[], dtype: string): NativeHandle;
  toBytes(h: NativeHandle): ArrayBuffer;
  shape(h: NativeHandle): number[];
  dtype(h: NativeHandle): string;
  device(h: NativeHandle): string;
  requiresGrad(h: NativeHandle): boolean;
  setRequiresGrad(h: NativeHandle, on: boolean): void;
  item(h: NativeHandle): number | boolean;
  dispose(h: NativeHandle): void;
  isDisposed(h: NativeHandle): boolean;
  liveTensors(): number;
  sameTensor(a: NativeHandle, b: NativeHandle): boolean;

  opHandle(name: string, overload: string): number;
  /**
   * Calls any ATen op by id, arguments converted by its schema. UNCHECKED: libtorch has crash
   * bugs (SIGFPE on integer −2⁶³ / −1, `native_channel_shuffle(t, 0)`, `searchsorted` with a bad
   * `sorter`, sparse `to_dense`) that no error barrier can turn into an Error. Only the typed
   * wrappers in src/ops, which check what libtorch does not, and tests call it; never with values
   * from files, command lines or requests.
   */
  call(op: number, args: unknown[]): NativeValue;
  opSchema(op: number): string;

  backward(h: NativeHandle, grad: NativeHandle | null, retainGraph: boolean): void;
  grad(h: NativeHandle): NativeHandle | null;
  setGrad(h: NativeHandle, grad: NativeHandle | null): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  libtorchVersion(): string;
  parallelInfo(): string;
  setMallocThresholds(mmapBytes: number, trimBytes: number): boolean;

  /**
   * TorchScript (native/src/jit.cc): a module from the bytes torch.jit.save wrote; refused with
   * libtorch's reason. libtorch checks no CRC, and a damaged archive can take it seconds and
   * gigabytes to refuse: callers go through TorchScriptModel, which checks the archive first
   * (src/models/torchscript-archive.ts).
   */
  jitLoad(bytes: Uint8Array): NativeModuleHandle;
  jitDispose(m: NativeModuleHandle): void;
  /** forward(x), which must return one tensor. */
  jitForward(m: NativeModuleHandle, x: NativeHandle): NativeHandle;
  /** The training flag of the submodule at a dotted path ('' the module itself), not of its children. */
  jitSetTraining(m: NativeModuleHandle, path: string, on: boolean): void;
  /** named_parameters(recurse=True): handles sharing the module's own tensors. */
  jitNamedParameters(m: NativeModuleHandle): [string, NativeHandle][];
  jitNamedBuffers(m: NativeModuleHandle): [string, NativeHandle][];
  /** [path, qualified type name], the module itself first (path ''). */
  jitNamedModules(m: NativeModuleHandle): [string, string][];
  /** Puts a tensor of the same shape and dtype (possibly a non-leaf) in a parameter's slot. */
  jitSetParameter(m: NativeModuleHandle, name: string, value: NativeHandle): void;
  // libtorch's c10d (native/src/c10d.cc); the typed layer is src/distributed.
  c10dTcpStore(host: string, port: number, worldSize: number, isServer: boolean, timeoutMs: number): NativeStore;
  c10dStorePort(store: NativeStore): number;
  c10dStoreSet(store: NativeStore, key: string, value: string): void;
  c10dStoreGet(store: NativeStore, key: string): string;
  c10dDestroyStore(store: NativeStore): void;
  c10dProcessGroup(store: NativeStore, rank: number, worldSize: number, backend: string, timeoutMs: number, hostname: string): NativeGroup;
  c10dGroupInfo(group: NativeGroup): { rank: number; size: number; backend: string };
  c10dAllReduce(group: NativeGroup, tensors: NativeHandle[], op: string): NativeWork;
  c10dAllReduceCoalesced(group: NativeGroup, tensors: NativeHandle[], op: string): NativeWork;
  c10dBroadcast(group: NativeGroup, tensors: NativeHandle[], root: number): NativeWork;
  c10dBroadcastCoalesced(group: NativeGroup, tensors: NativeHandle[], bufferBytes: number, root: number): void;
  c10dBarrier(group: NativeGroup): NativeWork;
  c10dDestroyGroup(group: NativeGroup): void;
  c10dWait(work: NativeWork, timeoutMs: number): void;
  c10dIsCompleted(work: NativeWork): boolean;
  c10dReducer(group: NativeGroup, params: NativeHandle[], bucketBytes: number, firstBucketBytes: number): NativeReducer;
  c10dReducerPrepare(reducer: NativeReducer): boolean;
  c10dReducerBuckets(reducer: NativeReducer): number;
  c10dDestroyReducer(reducer: NativeReducer): void;
}

/** Opaque c10d objects (a TCPStore, a process group, a pending collective, a Reducer). */
export interface NativeStore {
  readonly __c10dStore: unique symbol;
}
export interface NativeGroup {
  readonly __c10dGroup: unique symbol;
}
export interface NativeWork {
  readonly __c10dWork: unique symbol;
}
export interface NativeReducer {
  readonly __c10dReducer: unique symbol;
}

// The package root: two folders up from src/native/index.ts in a checkout and from
// dist/native/index.js in an installed package, so the addon is found the same way in both.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const addonPath = process.env.NNLOCK_ADDON ?? join(root, 'native', 'build', 'Release', 'nnlock.node');

/** What builds the addon here: scripts/setup.sh in a checkout, `npx nnlock setup` once installed. */
function setupCommand(): string {
  return existsSync(join(root, 'scripts', 'setup.sh')) ? 'bash scripts/setup.sh' : 'npx nnlock setup';
}

function load(): NativeBinding {
  if (!existsSync(addonPath)) {
    throw new Error(`nnlock: the native addon is not built (${addonPath} is missing). Run \`${setupCommand()}\`, which finds libtorch and builds it.`);
  }
  const require = createRequire(import.meta.url);
  try {
    return require(addonPath) as NativeBinding;
  } catch (e) {
    throw new Error(`nnlock: the native addon at ${addonPath} failed to load: ${(e as Error).message}. ` + `Rebuild it with \`${setupCommand()}\` (libtorch may have moved or changed version).`);
  }
}

let binding: NativeBinding | undefined;

/** Whether the addon (and so libtorch) has been loaded into this thread yet. */
export function nativeLoaded(): boolean {
  return binding !== undefined;
}

/**
 * The addon, loaded on first use. Importing nnlock loads no libtorch: `nnlock --help` and a
 * library user who never computes anything pay nothing, and a missing addon is reported where it
 * is first needed.
 */
export const native = {} as NativeBinding;

/** The addon's export names (a test checks them against the built module). */
export const NATIVE_EXPORTS = [
  'fromBytes',
  'toBytes',
  'shape',
  'dtype',
  'device',
  'requiresGrad',
  'setRequiresGrad',
  'item',
  'dispose',
  'isDisposed',
  'liveTensors',
  'sameTensor',
  'opHandle',
  'call',
  'opSchema',
  'backward',
  'grad',
  'setGrad',
  'setGradEnabled',
  'isGradEnabled',
  'manualSeed',
  'setNumThreads',
  'getNumThreads',
  'cudaIsAvailable',
  'cudaDeviceCount',
  'cudaSynchronize',
  'libtorchVersion',
  'parallelInfo',
  'setMallocThresholds',
  'jitLoad',
  'jitDispose',
  'jitForward',
  'jitSetTraining',
  'jitNamedParameters',
  'jitNamedBuffers',
  'jitNamedModules',
  'jitSetParameter',
  'c10dTcpStore',
  'c10dStorePort',
  'c10dStoreSet',
  'c10dStoreGet',
  'c10dDestroyStore',
  'c10dProcessGroup',
  'c10dGroupInfo',
  'c10dAllReduce',
  'c10dAllReduceCoalesced',
  'c10dBroadcast',
  'c10dBroadcastCoalesced',
  'c10dBarrier',
  'c10dDestroyGroup',
  'c10dWait',
  'c10dIsCompleted',
  'c10dReducer',
  'c10dReducerPrepare',
  'c10dReducerBuckets',
  'c10dDestroyReducer',
] as const satisfies readonly (keyof NativeBinding)[];

// Until the first use, each name is a getter that loads the addon. The first use replaces them
// all by the addon's own functions, so every later call is a plain property read: no per-call
// cost on the op path (a Proxy would pay a trap on every op).
function bindAll(): NativeBinding {
  binding ??= load();
  for (const name of NATIVE_EXPORTS) Object.defineProperty(native, name, { value: binding[name], enumerable: true, writable: false, configurable: false });
  return binding;
}
for (const name of NATIVE_EXPORTS) {
  Object.defineProperty(native, name, { enumerable: true, configurable: true, get: () => bindAll()[name] });
}
