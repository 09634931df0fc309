import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic, writeFileAtomicSync, type AtomicData, type AtomicWriteOptions } from '../../src/io/atomic.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-atomic-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// Run every behavioural test against both variants.
const variants: [string, (p: string, d: AtomicData, o?: AtomicWriteOptions) => Promise<void>][] = [
  ['writeFileAtomic', writeFileAtomic],
  ['writeFileAtomicSync', async (p, d, o) => writeFileAtomicSync(p, d, o)],
];

for (const [label, write] of variants) {
  describe(label, () => {
    test('writes a new file from a string, bytes, or chunks; no temp file left', async () => {
      const target = path.join(dir, 'out.bin');
      await write(target, 'héllo');
      assert.equal(fs.readFileSync(target, 'utf8'), 'héllo');
      await write(target, new Uint8Array([1, 2, 3]));
      assert.deepEqual([...fs.readFileSync(target)], [1, 2, 3]);
      await write(target, [new Uint8Array([4]), new Uint8Array(0), new Uint8Array([5, 6])]);
      assert.deepEqual([...fs.readFileSync(target)], [4, 5, 6]);
      await write(target, []);
      assert.equal(fs.readFileSync(target).length, 0);
      assert.deepEqual(fs.readdirSync(dir), ['out.bin']);
    });

    test('replaces an existing file', async () => {
      const target = path.join(dir, 'x.txt');
      fs.writeFileSync(target, 'old content that is longer');
      await write(target, 'new');
      assert.equal(fs.readFileSync(target, 'utf8'), 'new');
      assert.deepEqual(fs.readdirSync(dir), ['x.txt']);
    });

    test('missing folder: clear error, nothing created', async () => {
      const target = path.join(dir, 'missing', 'x.txt');
      await assert.rejects(write(target, 'data'), (err: NodeJS.ErrnoException) => {
        assert.match(err.message, /does not exist/);
        assert.ok(err.message.includes(path.join(dir, 'missing')), err.message);
        assert.equal(err.code, 'ENOENT');
        return true;
      });
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    test('failure after the temp file exists (rename onto a folder): temp removed, target intact', async () => {
      const target = path.join(dir, 'occupied');
      fs.mkdirSync(target);
      fs.writeFileSync(path.join(target, 'keep'), 'k');
      await assert.rejects(write(target, 'data'));
      assert.deepEqual(fs.readdirSync(dir), ['occupied']);
      assert.equal(fs.readFileSync(path.join(target, 'keep'), 'utf8'), 'k');
    });

    test('rejects data of the wrong type', async () => {
      await assert.rejects(write(path.join(dir, 'x'), 42 as unknown as string), TypeError);
      await assert.rejects(write(path.join(dir, 'x'), ['a'] as unknown as Uint8Array[]), TypeError);
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    test('keeps the mode of the replaced file; explicit mode wins', { skip: process.platform === 'win32' }, async () => {
      const target = path.join(dir, 'key');
      fs.writeFileSync(target, 'secret');
      fs.chmodSync(target, 0o600);
      await write(target, 'new secret');
      assert.equal(fs.statSync(target).mode & 0o777, 0o600);
      await write(target, 'public', { mode: 0o666 }); // not reduced by the umask
      assert.equal(fs.statSync(target).mode & 0o777, 0o666);
    });
  });
}

test('a concurrent reader sees either the old or the new content, never a mix', async () => {
  const target = path.join(dir, 'big.bin');
  const a = new Uint8Array(1 << 20).fill(0xaa);
  const b = new Uint8Array(3 << 19).fill(0xbb); // different length, so truncation would show
  await writeFileAtomic(target, a);
  let done = false;
  const writer = (async () => {
    for (let i = 0; i < 20; i++) await writeFileAtomic(target, i % 2 ? a : b);
    done = true;
  })();
  let reads = 0;
  while (!done) {
    const got = await fs.promises.readFile(target);
    const ok = (got.length === a.length && got.every((x) => x === 0xaa)) || (got.length === b.length && got.every((x) => x === 0xbb));
    assert.ok(ok, `read ${got.length} bytes of mixed/partial content`);
    reads++;
  }
  await writer;
  assert.ok(reads > 0);
  assert.deepEqual(fs.readdirSync(dir), ['big.bin']);
});
