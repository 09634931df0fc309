// The README's examples run as written. Every ```ts block right after an HTML comment
// `<!-- example: NAME -->` is extracted, its imports of `nnlock` and `nnlock/<sub>` are pointed at
// the sources (src/index.ts, src/<sub>/index.ts), and it runs with tsx in a fresh folder: it must
// exit 0 and print nothing on stderr. Unmarked blocks are illustrations and are not run.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const repo = fileURLToPath(new URL('../..', import.meta.url));
const tsx = import.meta.resolve('tsx');
const folders: string[] = [];

after(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

interface Example {
  name: string;
  code: string;
  line: number;
}

/** The marked examples of a markdown text; a marker not followed by a ```ts block is an error. */
function extractExamples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*example:\s*([\w.-]+)\s*-->\s*$/.exec(lines[i]);
    if (!marker) continue;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') j++;
    if (!/^```(ts|typescript)\s*$/.test(lines[j] ?? '')) throw new Error(`README line ${i + 1}: example '${marker[1]}' is not followed by a \`\`\`ts block`);
    const end = lines.findIndex((l, k) => k > j && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README line ${j + 1}: the block of example '${marker[1]}' never closes`);
    out.push({ name: marker[1], code: lines.slice(j + 1, end).join('\n'), line: j + 1 });
    i = end;
  }
  return out;
}

/** The example with `nnlock` and `nnlock/<sub>` imports pointed at the sources. */
function toSources(code: string): string {
  return code.replace(/(from\s+|import\s*\(\s*|import\s+)(['"])nnlock(\/[\w-]+)?\2/g, (_m, lead: string, quote: string, sub?: string) => {
    const file = join(repo, 'src', sub ? `${sub.slice(1)}/index.ts` : 'index.ts');
    return `${lead}${quote}${pathToFileURL(file).href}${quote}`;
  });
}

function runExample(example: Example) {
  const folder = mkdtempSync(join(tmpdir(), `nnlock-example-${example.name}-`));
  folders.push(folder);
  const file = join(folder, `${example.name}.ts`);
  // A user's project of ES modules, as nnlock's own (top-level await needs it).
  writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(file, `${toSources(example.code)}\n`);
  const r = spawnSync(process.execPath, ['--import', tsx, file], { cwd: folder, encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const examples = extractExamples(readFileSync(join(repo, 'README.md'), 'utf8'));

test('the README has marked examples, each with a unique name', () => {
  assert.ok(examples.length >= 1, 'no <!-- example: NAME --> marker in README.md');
  const names = examples.map((e) => e.name);
  assert.deepEqual(names, [...new Set(names)]);
});

for (const example of examples) {
  test(`README example '${example.name}' (line ${example.line}) runs and writes nothing on stderr`, () => {
    const r = runExample(example);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.err}`);
    assert.equal(r.err, '', 'the example wrote on stderr');
  });
}

test('the harness catches a failing example, stderr output, and a marker without a block', () => {
  const [fails, noisy, fine] = extractExamples(
    [
      '<!-- example: fails -->',
      '```ts',
      "import { zeros } from 'nnlock';",
      "if (zeros([2]).shape[0] === 2) throw new Error('boom');",
      '```',
      '<!-- example: noisy -->',
      '',
      '```ts',
      "console.error('leaked');",
      '```',
      '<!-- example: fine -->',
      '```ts',
      "import type { Tensor } from 'nnlock';",
      "import { deriveKeys } from 'nnlock/protect';",
      'const t: Tensor | null = null;',
      "if (typeof deriveKeys !== 'function' || t !== null) process.exit(3);",
      '```',
    ].join('\n'),
  );
  assert.notEqual(runExample(fails).code, 0);
  assert.equal(runExample(noisy).err.trim(), 'leaked');
  const ok = runExample(fine);
  assert.equal(ok.code, 0, ok.err);
  assert.throws(() => extractExamples('<!-- example: lonely -->\nsome text\n```ts\n```\n'), /example 'lonely' is not followed by a ```ts block/);
});

test('leaks no tensors', checkLeaks);
