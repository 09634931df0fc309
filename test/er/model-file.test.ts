// ER model files keep the class names of the data they were trained on: saveErModel writes them
// (class_names, as nnlock's weights files do), loadErModel reads them back into the spec, a file
// written before names were saved still opens (no names), and data of other classes is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ErModelSpec, buildErModel, checkErClasses, loadErModel, saveErModel } from '../../src/er/model-file.ts';
import { readTensorFile, writeTensorFile } from '../../src/io/tensor-file.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-file-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const classes = ['cat', 'dog', 'hen'];
const spec: ErModelSpec = { architecture: 'smallcnn', adaptation: 'aligned', k: 4, channels: 1, numClasses: 3, classes };

test('class names round-trip through an ER model file', async () => {
  const model = buildErModel(spec);
  try {
    await saveErModel(p('named.safetensors'), model, spec, null);
  } finally {
    model.dispose();
  }
  const { metadata } = await readTensorFile(p('named.safetensors')).then((f) => {
    for (const t of f.tensors.values()) t.dispose();
    return f;
  });
  assert.equal(metadata.class_names, JSON.stringify(classes), 'stored as weights files store them');
  const loaded = await loadErModel(p('named.safetensors'));
  loaded.model.dispose();
  assert.deepEqual(loaded.spec.classes, classes);
  assert.equal(loaded.spec.numClasses, 3);
});

test('a file written before class names were saved still opens, without names', async () => {
  const model = buildErModel(spec);
  const { classes: _names, ...unnamed } = spec;
  try {
    await saveErModel(p('old.safetensors'), model, unnamed, null);
  } finally {
    model.dispose();
  }
  const loaded = await loadErModel(p('old.safetensors'));
  loaded.model.dispose();
  assert.equal(loaded.spec.classes, undefined);
  assert.doesNotThrow(() => checkErClasses(loaded.spec, ['x', 'y', 'z'], 'data', 'old.safetensors'), 'nothing to check against');
});

test('names that do not fit the head are refused, on writing and on reading', async () => {
  const model = buildErModel(spec);
  try {
    await assert.rejects(saveErModel(p('bad.safetensors'), model, { ...spec, classes: ['a', 'b'] }, null), /2 class names for a model of 3 classes/);
    await saveErModel(p('ok.safetensors'), model, spec, null);
  } finally {
    model.dispose();
  }
  const f = await readTensorFile(p('ok.safetensors'));
  try {
    await writeTensorFile(p('tampered.safetensors'), f.tensors, { ...f.metadata, class_names: JSON.stringify(['a', 'b']) });
  } finally {
    for (const t of f.tensors.values()) t.dispose();
  }
  await assert.rejects(loadErModel(p('tampered.safetensors')), /2 class names for a model of 3 classes/);
});

test('checkErClasses refuses data of other classes or in another order', () => {
  assert.doesNotThrow(() => checkErClasses(spec, classes, 'data', 'm'));
  assert.doesNotThrow(() => checkErClasses(spec, undefined, 'data', 'm'), 'data without names');
  assert.throws(() => checkErClasses(spec, ['dog', 'cat', 'hen'], 'pics', 'm.safetensors'), /pics: its classes \(dog, cat, hen\) are not those m\.safetensors was trained on \(cat, dog, hen\)/);
  assert.throws(() => checkErClasses(spec, ['cat', 'dog'], 'pics', 'm'), /are not those/);
});

test('leaks no tensors', checkLeaks);
