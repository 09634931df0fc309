// Old command lines are rewritten to the new grammar, with a note; new ones pass unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type MovedCommand, rewriteLegacy } from '../../src/cli/legacy.ts';

const moved: MovedCommand[] = [
  { from: ['train'], to: ['model', 'train'] },
  { from: ['protect'], to: ['protect', 'lock'], unlessNext: ['lock', 'unlock', 'info'], flags: { '-k': '--keys', '--key-file': '--keys' } },
];

test('an old command moves to its noun and verb, with a note', () => {
  const r = rewriteLegacy(['train', '-a', 'resnet20'], moved);
  assert.deepEqual(r.args, ['model', 'train', '-a', 'resnet20']);
  assert.equal(r.notes.length, 1);
  assert.match(r.notes[0], /`nnlock train` is now `nnlock model train`/);
});

test('renamed flags are rewritten, in both spellings, and each is noted', () => {
  const r = rewriteLegacy(['protect', 'm.safetensors', '-k', 'k.keys', '--key-file=x.keys', '-o', 'p'], moved);
  assert.deepEqual(r.args, ['protect', 'lock', 'm.safetensors', '--keys', 'k.keys', '--keys=x.keys', '-o', 'p']);
  assert.equal(r.notes.length, 3);
});

test('the new grammar passes unchanged and silently', () => {
  for (const args of [['protect', 'lock', 'm'], ['protect', 'unlock', 'x'], ['protect', '--help'], ['model', 'train'], []]) {
    assert.deepEqual(rewriteLegacy(args, moved), { args, notes: [] });
  }
});
