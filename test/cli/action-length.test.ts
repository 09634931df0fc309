// The CLI only parses, calls and prints: no command's action grows into a workflow. Each
// `.action(...)` in src/cli is measured from its opening parenthesis to the matching close; a long
// one means a workflow that belongs in the library (the feature's folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_LINES = 45;
const cli = fileURLToPath(new URL('../../src/cli', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Line counts of every `.action(` call in a source text (strings and comments are not parsed: none of ours holds an unbalanced parenthesis). */
export function actionLengths(source: string): { line: number; lines: number }[] {
  const out: { line: number; lines: number }[] = [];
  for (const m of source.matchAll(/\.action\(/g)) {
    let depth = 1;
    let j = m.index + m[0].length;
    for (; depth > 0 && j < source.length; j++) {
      if (source[j] === '(') depth++;
      else if (source[j] === ')') depth--;
    }
    const text = source.slice(m.index, j);
    out.push({ line: source.slice(0, m.index).split('\n').length, lines: text.split('\n').length });
  }
  return out;
}

test('the measure counts an action from its opening to its matching close', () => {
  assert.deepEqual(actionLengths('x.action((a) => {\n  f(g(a));\n});\n'), [{ line: 1, lines: 3 }]);
});

test(`no CLI action is longer than ${MAX_LINES} lines`, () => {
  const long: string[] = [];
  let actions = 0;
  for (const f of tsFiles(cli)) {
    for (const a of actionLengths(readFileSync(f, 'utf8'))) {
      actions++;
      if (a.lines > MAX_LINES) long.push(`${relative(cli, f)}:${a.line} (${a.lines} lines)`);
    }
  }
  assert.ok(actions >= 20, `found only ${actions} actions: the measure is broken`);
  assert.deepEqual(long, [], 'move the workflow into the library');
});
