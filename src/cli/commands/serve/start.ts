// `nnlock serve [flags]`: start the service and run it until SIGINT or SIGTERM (then it finishes
// the requests in flight and exits). Models come from --model NAME=FILE (each with its --keys,
// paired in order, or --keys NAME=KEYFILE) or from --config FILE; the flags given with --config
// override the file's host, port, workers and batching.
import { type Command, Option } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { UsageError } from '../../errors.ts';
import { type ServeConfig, readServeConfig, serveConfig } from '../../../serve/config.ts';
import { runService } from '../../../serve/run.ts';

interface StartFlags {
  model: string[];
  keys: string[];
  config?: string;
  host?: string;
  port?: number;
  anonymous?: 'tier0' | 'deny';
  workers?: number;
  maxBatch?: number;
  maxWait?: number;
  pipeline?: number;
  threads?: number;
  device?: string;
  tlsCert?: string;
  tlsKey?: string;
  log: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  json?: boolean;
  quiet?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function pair(flag: string, v: string): [string, string] {
  const i = v.indexOf('=');
  if (i <= 0 || i === v.length - 1) throw new UsageError(`${flag} takes NAME=FILE, got '${v}'`);
  return [v.slice(0, i), v.slice(i + 1)];
}

/** The config the flags describe (models and keys paired), checked by serveConfig. */
async function configOf(o: StartFlags): Promise<ServeConfig> {
  if (o.config && o.model.length > 0) throw new UsageError('give models with --model or with --config, not both');
  if (!o.config && o.model.length === 0) throw new UsageError('nothing to serve: give --model NAME=FILE (with --keys KEYFILE) or --config FILE');
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
  const base = o.config ? await readServeConfig(o.config) : undefined;
  const models = o.model.map((m) => pair('--model', m)).map(([name, weights]) => ({ name, weights }) as { name: string; weights: string; keys?: string });
  const named = o.keys.filter((k) => /^[A-Za-z0-9._-]+=/.test(k) && models.some((m) => k.startsWith(`${m.name}=`)));
  if (named.length > 0 && named.length !== o.keys.length) throw new UsageError('give every --keys as NAME=KEYFILE, or none');
  if (named.length > 0) {
    for (const [name, keys] of named.map((k) => pair('--keys', k))) models.find((m) => m.name === name)!.keys = keys;
  } else if (o.keys.length > models.length) throw new UsageError(`${o.keys.length} --keys for ${models.length} --model: pair them in order, or write --keys NAME=KEYFILE`);
  else o.keys.forEach((k, i) => (models[i].keys = k));
  const raw: Record<string, unknown> = base ? { ...base } : { models };
  if (o.host !== undefined) raw.host = o.host;
  if (o.port !== undefined) raw.port = o.port;
  if (o.anonymous !== undefined) raw.anonymous = o.anonymous;
  const batching = { ...(base?.batching ?? {}) } as Record<string, unknown>;
  if (o.workers !== undefined) batching.workers = o.workers;
  if (o.maxBatch !== undefined) batching.maxBatch = o.maxBatch;
  if (o.maxWait !== undefined) batching.maxWaitMs = o.maxWait;
  if (o.pipeline !== undefined) batching.pipeline = o.pipeline;
  if (o.threads !== undefined) batching.threads = o.threads;
  if (o.device !== undefined) batching.devices = [o.device];
  raw.batching = batching;
  if (o.tlsCert) raw.tls = { cert: o.tlsCert, key: o.tlsKey };
  return serveConfig(raw);
}

export function registerServeStart(program: Command, io: CliIO): Command {
  const cmd = program
    .command('serve')
    .description('serve models over HTTP: tiered protected classifiers and denoisers, encrypted classifiers (verbs: hash-key)')
    .addOption(new Option('-m, --model <name=file>', 'a model to serve (plain, protected or Encryption-Robust safetensors); repeatable').argParser(collect).default([]))
    .addOption(new Option(`${FLAG.keys.replace('<file>', '<keyfile>')}`, "a protected model's key file, paired with --model in order (or NAME=KEYFILE); repeatable").argParser(collect).default([]))
    .addOption(option('--config <file>', 'a JSON config listing models, API keys, limits and batching (see src/serve/config.ts)'))
    .addOption(option('--host <host>', 'address to listen on (default 127.0.0.1)'))
    .addOption(option('--port <n>', 'port to listen on (default 8080; 0 picks a free one)', parse.nonNegativeInt))
    .addOption(option('--anonymous <policy>', 'requests without credentials: tier0 (the published model) or deny (401)', parse.oneOf(['tier0', 'deny'] as const)))
    .addOption(option('--workers <n>', 'inference worker threads (default: one per core of --threads threads, at most 8)', parse.positiveInt))
    .addOption(option('--max-batch <n>', 'most images in one batch (default 64)', parse.positiveInt))
    .addOption(option('--max-wait <ms>', 'longest a request waits for its batch to fill (default 5)', parse.nonNegativeNumber))
    .addOption(option('--pipeline <n>', 'batches a worker holds at once, the one it runs included (default 2: the next is sent just before it finishes; 1: one at a time)', parse.positiveInt))
    .addOption(option('--threads <n>', 'libtorch intra-op threads per worker (default 1 when the workers follow the cores)', parse.positiveInt))
    .addOption(option(FLAG.device, "every worker's device: cpu, cuda or cuda:<index> (default cpu; a config's batching.devices pins workers one by one)", parse.device))
    .addOption(option('--tls-cert <file>', 'PEM certificate: serve HTTPS (with --tls-key)'))
    .addOption(option('--tls-key <file>', 'PEM private key of --tls-cert'))
    .addOption(option('--log <level>', 'request log on stderr: silent, error, warn, info, debug', parse.oneOf(['silent', 'error', 'warn', 'info', 'debug'] as const), 'info'))
    .addHelpText(
      'after',
      '\nExamples:\n  nnlock serve --model resnet=resnet20.protected.safetensors --keys resnet20.keys --port 8080\n  curl -H "Authorization: Bearer $(sed -n \'s/^tier 2: //p\' resnet20.keys)" -H "Content-Type: image/png" --data-binary @cat.png localhost:8080/v1/models/resnet/classify\n  nnlock serve --config serve.json',
    );
  withOutputFlags(cmd).action(async (o: StartFlags, command: Command) => {
    if (command.args.length > 0) throw new UsageError(`unknown verb '${command.args[0]}' (serve has: hash-key)`);
    const out = new Output(io, o);
    const config = await configOf(o);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    try {
      await runService(config, {
        signal: stop.signal,
        logger: o.log === 'silent' ? false : { level: o.log, stream: io.stderr as NodeJS.WritableStream },
        onListening: (address, models) => {
          out.result({ address, models }, [`nnlock serve: listening on ${address}`, ...models.map((m) => `  ${m.name}: ${m.kind}, tiers ${m.tiers.join(', ')}`)]);
        },
      });
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
    out.note('nnlock serve: stopped');
  });
  return cmd;
}
