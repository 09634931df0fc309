// `nnlock attack assess`: a key's security report (measured known-plaintext attack, also against
// shuffling, and leakage), printed as Markdown and optionally written as JSON + Markdown.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { assessKeyWithFile, assessmentMarkdown } from '../../../attacks/assess.ts';
import { writeReportFiles } from '../../../attacks/report.ts';

interface AssessFlags extends OutputFlags {
  key: string;
  plain?: string;
  limit: number;
  seed: number;
  shuffled: boolean;
  out?: string;
  force?: boolean;
}

export function registerAssess(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('assess'))
    .description('security assessment of a key: measured known-plaintext attack (also against shuffling) and leakage')
    .addOption(option(FLAG.key, 'cipher key file').makeOptionMandatory())
    .option('--plain <file>', 'known plaintext to attack with (CIFAR-10 .bin or an image); default synthetic random images')
    .addOption(option(FLAG.limit, 'images of --plain to use', parse.positiveInt, 200))
    .addOption(option(FLAG.seed, 'seed of the synthetic data', parse.nonNegativeInt, 0))
    .option('--no-shuffled', 'skip the shuffled-position attack')
    .option('-o, --out <prefix>', 'also write <prefix>.json and <prefix>.md')
    .option(FLAG.force, 'overwrite those files')
    .action(async (o: AssessFlags) => {
      const out = new Output(io, o);
      const key = await loadKey(o.key);
      const report = await assessKeyWithFile(key, { plain: o.plain, limit: o.limit, seed: o.seed, shuffledAttack: o.shuffled });
      const md = assessmentMarkdown(report);
      if (o.out) out.note(`wrote ${(await writeReportFiles(o.out, report, md, { force: o.force })).join(' and ')}`);
      out.result(report, md.trimEnd());
    });
}
