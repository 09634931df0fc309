// `nnlock client classify`: image files to a model on the server; with -K (an encrypted-classifier)
// they are encrypted here and only the ciphertext is sent.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { type ClassifyResult, classifyFiles } from '../../../web/client.ts';
import { type ConnectionFlags, connectionFrom, connectionOptions, serviceFailure } from './connection.ts';

interface ClassifyFlags extends ConnectionFlags, OutputFlags {
  model: string;
  key?: string;
  top?: number;
  tier?: number;
}

export function registerClientClassify(client: Command, io: CliIO): void {
  const cmd = client
    .command('classify')
    .description('classify images on the server (one request); with -K encrypt them here and send only the ciphertext')
    .argument('<images...>', 'PNG/JPEG files (centre-cropped and resized to the model input when their size differs)')
    .addOption(option('--model <name>', 'the model (nnlock client models lists them)').makeOptionMandatory())
    .addOption(option(FLAG.key, 'cipher key file: encrypt locally for an encrypted-classifier (the key is never sent)'))
    .addOption(option('--top <k>', 'how many classes to show per image', parse.positiveInt))
    .addOption(option(FLAG.tier, 'ask for a lower tier than the credential gives', parse.nonNegativeInt));
  for (const opt of connectionOptions()) cmd.addOption(opt);
  cmd.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  nnlock client classify --server http://127.0.0.1:8080 --model resnet --token "$TOKEN" cat.png dog.jpg',
      '  nnlock client classify --server http://127.0.0.1:8080 --model er -K key.json photo.png --json',
    ].join('\n'),
  );
  withOutputFlags(cmd).action(async (images: string[], o: ClassifyFlags) => {
    const out = new Output(io, o);
    const connection = await connectionFrom(o, io.env);
    const key = o.key ? await loadKey(o.key) : undefined;
    if (key) out.note(`encrypting ${images.length} image(s) here with ${key.kind} key ${key.fingerprint.slice(0, 16)}; only the ciphertext is sent`);
    const r = await classifyFiles({ ...connection, model: o.model, images, key, top: o.top, tier: o.tier }).catch((e) => {
      throw serviceFailure(e);
    });
    out.result(r, classifyLines(r));
  });
}

function classifyLines(r: ClassifyResult): string[] {
  const how = r.encrypted ? `, from ${r.encrypted.kind} ciphertext (key ${r.encrypted.keyId})` : '';
  const lines = [`${r.model} at tier ${r.tier}${how}:`];
  for (const res of r.results) {
    const best = res.top.map((t) => `${t.class} ${(100 * t.probability).toFixed(1)}%`).join(', ');
    lines.push(`  ${res.image}: ${best}`);
  }
  return lines;
}
