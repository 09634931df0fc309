// The CLI's flag vocabulary and its validated parsers. One flag means one thing in every command:
// commands declare their options through `option(FLAG.x, ...)` so the spelling, the short form
// and the value check come from here. Parsers run where the option is declared (commander's
// argParser): a bad value is a usage error before the command starts.
import { InvalidArgumentError, Option } from 'commander';
import { DeviceError, parseDevice } from '../tensor/device.ts';
import { parseClassList } from '../data/class-subset.ts';

/** Every flag that appears in more than one command, with its one meaning. */
export const FLAG = {
  /** The file or folder a command writes. */
  out: '-o, --out <path>',
  /** Model weights (safetensors with PyTorch names), plain or protected. */
  weights: '-w, --weights <file>',
  /** Architecture name (resnet20, vgg16-bn, dncnn-17, ...). */
  arch: '-a, --arch <name>',
  /** A user's own model as a TorchScript file (torch.jit.script(model).save): runs instead of an architecture. */
  module: '--module <file>',
  /** Training (or input) data: a CIFAR-10 folder or .bin files, or an image folder. */
  data: '-d, --data <path>',
  /** Held-out data evaluated after every epoch. */
  test: '--test <path>',
  /** Files or images a command transforms (encrypt, decrypt, denoise). */
  input: '-i, --input <path>',
  /** A block cipher key file (nnlock cipher keygen). */
  key: '-K, --key <file>',
  /** A protected model's key file (one token per tier). */
  keys: '--keys <file>',
  /** One tier token (nnlock-key-v1:...). */
  token: '--token <token>',
  /** A tier number (0 = the published model). */
  tier: '--tier <m>',
  /** The owner's signer a protected model must carry (ed25519:<64 hex>, as `protect info` shows it). */
  signer: '--signer <ed25519:hex>',
  /** How many tiers a protected model has. */
  tiers: '--tiers <M>',
  /** Cipher block size k (k×k pixels). */
  block: '--block <k>',
  seed: '--seed <n>',
  batch: '--batch <n>',
  epochs: '--epochs <n>',
  lr: '--lr <x>',
  /** Use only the first n images of the data. */
  limit: '--limit <n>',
  /** Keep only these classes of the data, relabelled 0..n-1 in the order given ("0-4", "5,7,9"). */
  classes: '--classes <list>',
  /** Noise σ on the 0..255 scale (denoisers). */
  sigma: '--sigma <s>',
  /** Overwrite files that exist. */
  force: '--force',
  /** Where a command computes: cpu, cuda or cuda:<index> (see deviceOption). */
  device: '--device <device>',
} as const;

export type FlagName = keyof typeof FLAG;

function fail(message: string): never {
  throw new InvalidArgumentError(message);
}

/** Value parsers for commander's argParser; each throws a usage error that names the problem. */
export const parse = {
  int(min = Number.MIN_SAFE_INTEGER): (v: string) => number {
    return (v) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isSafeInteger(n)) fail(`must be an integer, got '${v}'`);
      if (n < min) fail(`must be an integer ≥ ${min}, got '${v}'`);
      return n;
    };
  },
  positiveInt: (v: string): number => parse.int(1)(v),
  nonNegativeInt: (v: string): number => parse.int(0)(v),
  number: (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) fail(`must be a number, got '${v}'`);
    return n;
  },
  positiveNumber: (v: string): number => {
    const n = parse.number(v);
    if (n <= 0) fail(`must be a positive number, got '${v}'`);
    return n;
  },
  nonNegativeNumber: (v: string): number => {
    const n = parse.number(v);
    if (n < 0) fail(`must be a number ≥ 0, got '${v}'`);
    return n;
  },
  /** A fraction in (0, 1]. */
  fraction: (v: string): number => {
    const n = parse.number(v);
    if (!(n > 0 && n <= 1)) fail(`must be a fraction in (0, 1], got '${v}'`);
    return n;
  },
  /** Comma-separated numbers. */
  numbers: (v: string): number[] => v.split(',').map((x) => parse.number(x.trim())),
  /** Exactly three comma-separated numbers (per-channel mean or std). */
  triple: (v: string): number[] => {
    const n = parse.numbers(v);
    if (n.length !== 3) fail(`must be three comma-separated numbers, got '${v}'`);
    return n;
  },
  /** Comma-separated names, empty ones dropped. */
  names: (v: string): string[] =>
    v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  /** cpu, cuda or cuda:<index>, checked against the GPUs this libtorch sees (cpu loads no libtorch). */
  device: (v: string): string => {
    try {
      return parseDevice(v);
    } catch (e) {
      if (e instanceof DeviceError) fail(e.message);
      throw e;
    }
  },
  /** A class list: comma-separated labels and ranges ("0-4", "5,7,9"), in the order given. */
  classList: (v: string): number[] => {
    try {
      return parseClassList(v);
    } catch (e) {
      fail((e as Error).message);
    }
  },
  /** One of a fixed set. */
  oneOf<T extends string>(choices: readonly T[]): (v: string) => T {
    return (v) => {
      if (!(choices as readonly string[]).includes(v)) fail(`must be one of ${choices.join(', ')}, got '${v}'`);
      return v as T;
    };
  },
};

/**
 * An option with the vocabulary's flags (or a command's own flags string), its description, a
 * value parser and a default. The default is given as the parsed value.
 */
export function option<T>(flags: string, description: string, parser?: (v: string) => T, defaultValue?: T): Option {
  const o = new Option(flags, description);
  if (parser) o.argParser((v: string) => parser(v));
  if (defaultValue !== undefined) o.default(defaultValue);
  return o;
}

/**
 * `--device <device>` of every command that computes: cpu (the default), cuda or cuda:<index>.
 * NNLOCK_DEVICE in the command's environment changes the default; the library checks that one
 * (parseDevice) before its work starts, as the flag's parser checks a given value.
 */
export function deviceOption(env: Record<string, string | undefined>): Option {
  // Under a launcher (torchrun, `nnlock launch`, Slurm) every process gets the same command line;
  // as in PyTorch's convention, a plain 'cuda' then means this process's own GPU, cuda:$LOCAL_RANK.
  const localRank = env.LOCAL_RANK !== undefined && /^\d{1,4}$/.test(env.LOCAL_RANK) ? env.LOCAL_RANK : null;
  const ownGpu = (v: string) => (localRank !== null && v.trim() === 'cuda' ? `cuda:${localRank}` : v);
  return option(
    FLAG.device,
    'where to compute: cpu, cuda or cuda:<index>; under a launcher (LOCAL_RANK set) plain cuda is cuda:$LOCAL_RANK (default: $NNLOCK_DEVICE, else cpu)',
    (v) => parse.device(ownGpu(v)),
    ownGpu(env.NNLOCK_DEVICE || 'cpu'),
  );
}
