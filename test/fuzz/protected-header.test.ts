// Regression the fuzz harness found in the protected-file header (src/protect/format.ts): the
// "cipher" and "kdf" fields were never read, so a header naming another scheme, or none, unlocked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROTECT_METADATA_KEY, protectModel, unlockModel } from '../../src/protect/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';
import { fileOf, tinyNet } from '../protect/fixtures.ts';

const checkLeaks = trackLeaks();

test('a header naming another cipher or kdf, or none, is refused by name', async () => {
  const model = tinyNet(5);
  const p = await protectModel(fileOf(model), { ratio: 0.25, tiers: 2 });
  model.dispose();
  const withHeader = (edit: (h: Record<string, unknown>) => void) => {
    const h = JSON.parse(p.file.metadata[PROTECT_METADATA_KEY]);
    edit(h);
    return { tensors: p.file.tensors, metadata: { ...p.file.metadata, [PROTECT_METADATA_KEY]: JSON.stringify(h) } };
  };
  assert.equal(
    (
      await unlockModel(
        withHeader(() => {}),
        p.tokens[1],
      )
    ).tier,
    2,
  );
  await assert.rejects(
    unlockModel(
      withHeader((h) => {
        h.cipher = 'AES-128-GCM';
      }),
      p.tokens[1],
    ),
    /cipher "AES-128-GCM" is not supported/,
  );
  await assert.rejects(
    unlockModel(
      withHeader((h) => {
        delete h.kdf;
      }),
      p.tokens[1],
    ),
    /kdf undefined is not supported/,
  );
});

test('leaks no tensors', checkLeaks);
