// An attack's report on disk: the figures as JSON and the same as Markdown, side by side.
import { writeFileAtomic } from '../io/atomic.ts';
import { assertWritable } from '../cipher/files.ts';

/**
 * Writes `<prefix>.json` (value) and `<prefix>.md` (markdown), atomically; refuses existing files
 * unless `force`. Returns the two paths.
 */
export async function writeReportFiles(prefix: string, value: unknown, markdown: string, o: { force?: boolean } = {}): Promise<[string, string]> {
  const paths: [string, string] = [`${prefix}.json`, `${prefix}.md`];
  assertWritable(paths, o.force);
  await Promise.all([writeFileAtomic(paths[0], `${JSON.stringify(value, null, 2)}\n`), writeFileAtomic(paths[1], markdown)]);
  return paths;
}
