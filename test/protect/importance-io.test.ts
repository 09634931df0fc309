import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { IMPORTANCE_METADATA_KEY, checkImportanceCovers, convLayers, layerScores, loadImportance, saveImportance } from '../../src/protect/internals.ts';
import { fileOf, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();

test('importance files: one float32 [A, B] tensor per layer, strategy and settings in metadata', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-imp-'));
  try {
    const file = path.join(dir, 'imp.safetensors');
    const scores = new Map([
      [
        'conv1.weight',
        layerScores(
          [8, 3],
          Float32Array.from({ length: 24 }, (_, i) => i / 7),
        ),
      ],
      [
        'conv2.weight',
        layerScores(
          [16, 8],
          Float32Array.from({ length: 128 }, (_, i) => -i),
        ),
      ],
    ]);
    await saveImportance(file, scores, { strategy: 'pss', settings: { epochs: 2, images: 1024 }, source: 'ab'.repeat(32), architecture: 'tiny' });
    const raw = await readSafetensors(file);
    assert.deepEqual(raw.tensors.get('conv1.weight')!.shape, [8, 3]);
    assert.equal(raw.tensors.get('conv1.weight')!.dtype, 'F32');
    assert.equal(raw.metadata[IMPORTANCE_METADATA_KEY], '1');
    assert.equal(raw.metadata.strategy, 'pss');
    assert.deepEqual(JSON.parse(raw.metadata.settings), { epochs: 2, images: 1024 });
    const back = await loadImportance(file);
    assert.equal(back.strategy, 'pss');
    assert.deepEqual(back.settings, { epochs: 2, images: 1024 });
    assert.equal(back.source, 'ab'.repeat(32));
    for (const [name, s] of scores) assert.deepEqual(Array.from(back.scores.get(name)!.scores), Array.from(s.scores));
    // It covers the tiny model's conv layers; a different model's layers are refused.
    const model = tinyNet();
    const layers = convLayers(fileOf(model).tensors);
    model.dispose();
    checkImportanceCovers(back.scores, layers);
    assert.throws(() => checkImportanceCovers(new Map([['conv1.weight', scores.get('conv1.weight')!]]), layers), /nothing for layer conv2.weight/);
    assert.throws(
      () =>
        checkImportanceCovers(
          new Map([
            ['conv1.weight', layerScores([3, 8], new Float32Array(24))],
            ['conv2.weight', scores.get('conv2.weight')!],
          ]),
          layers,
        ),
      /wrong model/,
    );
    // Plain safetensors files are not importance files.
    const plain = path.join(dir, 'plain.safetensors');
    await writeSafetensors(plain, new Map([['x', { dtype: 'F32', shape: [1], data: new Uint8Array(4) }]]));
    await assert.rejects(loadImportance(plain), /not an nnlock importance file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('leaks no tensors', checkLeaks);
