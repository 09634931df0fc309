// Atomic writes that never clobber when asked not to (two racing writers: exactly one wins), leave
// no temporary file behind when they fail, and name their temporaries so leftovers of killed
// writers are recognisable and removed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileExistsError, removeStaleTemporaries, setWriteFaultForTesting, tempPathFor, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-atomic-safety-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('exclusive: of writers racing for a new file exactly one succeeds, the others get EEXIST', async () => {
  const target = path.join(dir, 'race.json');
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => writeFileAtomic(target, `writer ${i}`, { exclusive: true })));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof FileExistsError && /race\.json exists; pass --force/.test(r.reason.message));
  assert.match(fs.readFileSync(target, 'utf8'), /^writer \d$/);
  assert.throws(() => writeFileAtomicSync(target, 'again', { exclusive: true }), FileExistsError);
  await writeFileAtomic(target, 'replaced'); // not exclusive: replaces
  assert.equal(fs.readFileSync(target, 'utf8'), 'replaced');
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.includes('nnlock-tmp')),
    [],
  );
});

test('a failing write (ENOSPC) removes its temporary file and leaves the old content', async () => {
  const target = path.join(dir, 'full.bin');
  fs.writeFileSync(target, 'old');
  setWriteFaultForTesting((step) => {
    if (step === 'write') throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  });
  try {
    await assert.rejects(writeFileAtomic(target, [new Uint8Array(10), new Uint8Array(10)]), /ENOSPC/);
    assert.throws(() => writeFileAtomicSync(target, 'new'), /ENOSPC/);
  } finally {
    setWriteFaultForTesting(null);
  }
  assert.equal(fs.readFileSync(target, 'utf8'), 'old');
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.startsWith('.full.bin')),
    [],
  );
});

test("temporaries are recognisable, and those of killed writers are removed (live writers' are kept)", async () => {
  const target = path.join(dir, 'model.safetensors');
  const mine = tempPathFor(target);
  assert.match(path.basename(mine), new RegExp(`^\\.model\\.safetensors\\.nnlock-tmp-${process.pid}-[0-9a-f]{12}$`));
  // A pid that cannot be running (above the kernel's pid_max), and this process's own.
  const dead = path.join(dir, '.model.safetensors.nnlock-tmp-99999999-0123456789ab');
  fs.writeFileSync(dead, 'left by a killed writer');
  fs.writeFileSync(mine, 'in progress');
  const unrelated = path.join(dir, '.model.safetensors.other');
  fs.writeFileSync(unrelated, 'not ours');
  assert.deepEqual(removeStaleTemporaries(target), [dead]);
  assert.ok(!fs.existsSync(dead) && fs.existsSync(mine) && fs.existsSync(unrelated));
  // Writing weights cleans up after a killed writer of the same file.
  fs.writeFileSync(dead, 'left again');
  await writeSafetensors(target, { w: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } });
  assert.ok(!fs.existsSync(dead));
});

test('leaks no tensors', checkLeaks);
