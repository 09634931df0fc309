// Regressions the fuzz harness found in reading tier key files (src/protect/keys.ts): a damaged
// master line fell back silently to the tier-2 key, and the reader opened FIFOs and devices.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeKeyToken } from '../../src/crypto/index.ts';
import { formatKeyFile, readKeyToken } from '../../src/protect/keys.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const tokens = [1, 2, 3].map((tier) => encodeKeyToken({ tier, key: new Uint8Array(32).fill(tier * 17) }));
const text = formatKeyFile({ tokens, modelId: 'ab'.repeat(16), tiers: 3 });

async function withFile<T>(content: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-keys-'));
  try {
    const path = join(dir, 'model.keys');
    writeFileSync(path, content);
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a key file gives its master token; a bare token and CRLF lines read too', async () => {
  assert.equal(await withFile(text, readKeyToken), tokens[2]);
  assert.equal(await withFile(`${tokens[1]}\n`, readKeyToken), tokens[1]);
  assert.equal(await withFile(text.replace(/\n/g, '\r\n'), readKeyToken), tokens[2]);
});

test('a damaged master line is an error, not a silent fall back to tier 2', async () => {
  const damaged = text.replace('nnlock1-t3', 'nnlocK1-t3');
  await assert.rejects(withFile(damaged, readKeyToken), (e: Error) => /line 3 is neither a comment nor/.test(e.message) && !e.message.includes('nnlocK1'));
  await assert.rejects(withFile(text.replace('tier 3 (master):', 'tier 4 (master):'), readKeyToken), /line 3 says tier 4 but holds a tier-3 key/);
  await assert.rejects(withFile(text.replace('tier 2: ', 'tier 2: x '), readKeyToken), /line 4 is neither/);
});

test('a FIFO or a device as a key file is refused, without blocking', { timeout: 10_000 }, async () => {
  await assert.rejects(readKeyToken('/dev/zero'), /not a regular file/);
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-keys-'));
  try {
    const fifo = join(dir, 'fifo.keys');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(readKeyToken(fifo), /not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(withFile(`${'#'.repeat(70_000)}\n`, readKeyToken), /refusing to read it/);
});

test('leaks no tensors', checkLeaks);
