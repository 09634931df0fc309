import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DType } from '../../src/tensor/dtype.ts';
import {
  parseSafetensors,
  serializeSafetensors,
  readSafetensors,
  writeSafetensors,
  toDType,
  fromDType,
  dtypeSize,
  SafetensorsError,
  MAX_HEADER_SIZE,
  type SafetensorsDtype,
  type TensorEntry,
} from '../../src/io/safetensors.ts';

// ---------------------------------------------------------------------------
// Helpers

/** A file built by hand: u64 LE header length, header text as given (no
 *  automatic padding), then the data bytes. */
function file(header: string, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(Array.from(data), 8 + h.length);
  return out;
}

function f32le(...xs: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(xs).buffer);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function assertSafetensorsError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${String(err)}`);
    assert.ok(err.message.startsWith('safetensors: '), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

function assertSameTensors(a: Map<string, TensorEntry>, b: Map<string, TensorEntry>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, t] of a) {
    const u = b.get(name)!;
    assert.equal(u.dtype, t.dtype, name);
    assert.deepEqual(u.shape, t.shape, name);
    assert.deepEqual([...u.data], [...t.data], name);
  }
}

const ALL_DTYPES: SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'];

// ---------------------------------------------------------------------------
// Byte-exact compatibility with the reference implementation. These vectors
// are the outputs its own test-suite pins down.

describe('byte-exact reference files', () => {
  test('single F32 tensor, header needs no padding', () => {
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    assert.equal(header.length, 64);
    const expected = file(header, f32le(0, 1, 2, 3, 4, 5));
    assert.deepEqual([...expected.subarray(0, 8)], [64, 0, 0, 0, 0, 0, 0, 0]);

    const { tensors, metadata } = parseSafetensors(expected);
    assert.deepEqual(metadata, {});
    assert.deepEqual([...tensors.keys()], ['attn.0']);
    const t = tensors.get('attn.0')!;
    assert.equal(t.dtype, 'F32');
    assert.deepEqual(t.shape, [1, 2, 3]);
    assert.deepEqual([...new Float32Array(t.data.slice().buffer)], [0, 1, 2, 3, 4, 5]);

    const out = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: f32le(0, 1, 2, 3, 4, 5) } });
    assert.deepEqual(out, expected);
  });

  test('header padded with spaces to 8-byte alignment', () => {
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + ' '.repeat(7);
    assert.equal(header.length, 72);
    const expected = file(header, f32le(0, 1, 2, 3, 4, 5));
    const out = serializeSafetensors(new Map([['attn0', { dtype: 'F32' as const, shape: [1, 1, 2, 3], data: f32le(0, 1, 2, 3, 4, 5) }]]));
    assert.deepEqual(out, expected);
    const t = parseSafetensors(expected).tensors.get('attn0')!;
    assert.deepEqual(t.shape, [1, 1, 2, 3]);
    assert.equal(t.data.byteLength, 24);
  });

  test('no tensors, with and without metadata', () => {
    const empty = file('{}      ');
    assert.deepEqual([...empty], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    assert.deepEqual(serializeSafetensors({}), empty);
    assert.equal(parseSafetensors(empty).tensors.size, 0);

    const withMeta = file('{"__metadata__":{"framework":"pt"}}     ');
    assert.equal(withMeta[0], 40);
    assert.deepEqual(serializeSafetensors(new Map(), { framework: 'pt' }), withMeta);
    assert.deepEqual(parseSafetensors(withMeta).metadata, { framework: 'pt' });
  });

  test('several dtypes: ordered by alignment descending, then name; __metadata__ first', () => {
    const header =
      '{"__metadata__":{"a":"1","b":"x"},' +
      '"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
      '"d":{"dtype":"F32","shape":[],"data_offsets":[16,20]},' +
      '"e":{"dtype":"BF16","shape":[0,3],"data_offsets":[20,20]},' +
      '"b":{"dtype":"U8","shape":[3],"data_offsets":[20,23]}}';
    const padded = header + ' '.repeat((8 - (header.length % 8)) % 8);
    const data = [
      7,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // c = 7n
      ...f32le(1.5, -2), // a
      ...f32le(3), // d
      9,
      8,
      7, // b
    ];
    const expected = file(padded, data);
    const out = serializeSafetensors(
      {
        b: { dtype: 'U8', shape: [3], data: new Uint8Array([9, 8, 7]) },
        e: { dtype: 'BF16', shape: [0, 3], data: new Uint8Array(0) },
        d: { dtype: 'F32', shape: [], data: f32le(3) },
        a: { dtype: 'F32', shape: [2], data: f32le(1.5, -2) },
        c: { dtype: 'I64', shape: [1], data: new Uint8Array(new BigInt64Array([7n]).buffer) },
      },
      { b: 'x', a: '1' },
    );
    assert.deepEqual(out, expected);
    const parsed = parseSafetensors(expected);
    assert.deepEqual(parsed.metadata, { a: '1', b: 'x' });
    assert.deepEqual([...parsed.tensors.keys()], ['c', 'a', 'd', 'e', 'b']);
    assert.deepEqual([...parsed.tensors.get('b')!.data], [9, 8, 7]);
    assert.equal(new BigInt64Array(parsed.tensors.get('c')!.data.slice().buffer)[0], 7n);
  });

  test('reads files whose entries are not in data order and whose padding is any whitespace', () => {
    const header = '{"z":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"y":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}\n \t';
    const { tensors } = parseSafetensors(file(header, [10, 20]));
    assert.deepEqual([...tensors.get('y')!.data], [10]);
    assert.deepEqual([...tensors.get('z')!.data], [20]);
  });
});

// ---------------------------------------------------------------------------
// Round trips

describe('round trips', () => {
  test('every dtype, several shapes', () => {
    const shapes = [[2, 3], [5], [], [0], [2, 0, 4], [1, 1, 1, 7]];
    const tensors = new Map<string, TensorEntry>();
    let seed = 1;
    for (const dtype of ALL_DTYPES) {
      for (const shape of shapes) {
        const n = shape.reduce((p, d) => p * d, 1) * dtypeSize(dtype);
        tensors.set(`${dtype.toLowerCase()}.${shape.join('x') || 'scalar'}`, { dtype, shape, data: randomBytes(n, seed++) });
      }
    }
    const meta = { format: 'pt', 'ünïcode ✓': 'value with "quotes", \\ and \n newline', empty: '' };
    const bytes = serializeSafetensors(tensors, meta);
    const parsed = parseSafetensors(bytes);
    assertSameTensors(parsed.tensors, tensors);
    assert.deepEqual(parsed.metadata, meta);

    // Header padding keeps every tensor aligned to its element size.
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(dataStart % 8, 0);
    for (const t of parsed.tensors.values()) {
      assert.equal((t.data.byteOffset - dataStart) % dtypeSize(t.dtype), 0);
    }
    // Serializing again is deterministic and byte-identical.
    assert.deepEqual(serializeSafetensors(parsed.tensors, parsed.metadata), bytes);
  });

  test('scalar and empty tensors', () => {
    const tensors = {
      scalar: { dtype: 'F64' as const, shape: [], data: new Uint8Array(new Float64Array([Math.PI]).buffer) },
      empty: { dtype: 'F32' as const, shape: [0], data: new Uint8Array(0) },
      empty2d: { dtype: 'I32' as const, shape: [3, 0], data: new Uint8Array(0) },
    };
    const parsed = parseSafetensors(serializeSafetensors(tensors));
    assert.deepEqual(parsed.tensors.get('scalar')!.shape, []);
    assert.equal(new Float64Array(parsed.tensors.get('scalar')!.data.slice().buffer)[0], Math.PI);
    assert.deepEqual(parsed.tensors.get('empty')!.shape, [0]);
    assert.deepEqual(parsed.tensors.get('empty2d')!.shape, [3, 0]);
    assert.equal(parsed.tensors.get('empty2d')!.data.byteLength, 0);
  });

  test('parsed data are views into the input buffer, which may itself be a view', () => {
    const inner = serializeSafetensors({ a: { dtype: 'U8', shape: [2], data: new Uint8Array([5, 6]) } });
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    const bytes = outer.subarray(3);
    const t = parseSafetensors(bytes).tensors.get('a')!;
    assert.equal(t.data.buffer, outer.buffer);
    assert.deepEqual([...t.data], [5, 6]);
  });

  test('names that need JSON escaping or sort differently in UTF-8 and UTF-16', () => {
    const names = ['a"b', 'back\\slash', 'tab\there', '\u0001ctl', '日本', '\u{1F600}', '\uFF61', '__proto__', 'constructor'];
    const tensors = new Map(names.map((n, i) => [n, { dtype: 'U8' as const, shape: [1], data: new Uint8Array([i]) }]));
    const bytes = serializeSafetensors(tensors, { __proto__x: 'p', ['__proto__']: 'q' } as Record<string, string>);
    const parsed = parseSafetensors(bytes);
    assertSameTensors(parsed.tensors, tensors);
    // Data order follows UTF-8 byte order of the names (as the reference does):
    // U+FF61 (EF BD A1) comes before U+1F600 (F0 ...), unlike UTF-16 order.
    const order = [...parsed.tensors.keys()];
    assert.ok(order.indexOf('\uFF61') < order.indexOf('\u{1F600}'));
  });

  test('metadata may have a "__proto__" key without touching the prototype', () => {
    const meta = JSON.parse('{"__proto__":"x","k":"v"}') as Record<string, string>;
    const parsed = parseSafetensors(serializeSafetensors({}, meta));
    assert.equal(Object.getPrototypeOf(parsed.metadata), Object.prototype);
    assert.deepEqual(Object.entries(parsed.metadata), [
      ['__proto__', 'x'],
      ['k', 'v'],
    ]);
  });

  test('writeSafetensors / readSafetensors through a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-st-'));
    try {
      const p = path.join(dir, 'w.safetensors');
      const tensors = { w: { dtype: 'F16' as const, shape: [2, 2], data: randomBytes(8, 42) } };
      await writeSafetensors(p, tensors, { note: 'hi' });
      const { tensors: got, metadata } = await readSafetensors(p);
      assertSameTensors(got, new Map(Object.entries(tensors)));
      assert.deepEqual(metadata, { note: 'hi' });
      assert.deepEqual(fs.readdirSync(dir), ['w.safetensors']);
      assert.deepEqual(new Uint8Array(fs.readFileSync(p)), serializeSafetensors(tensors, { note: 'hi' }));

      // Invalid input: nothing is written.
      await assert.rejects(writeSafetensors(path.join(dir, 'bad.safetensors'), { w: { dtype: 'F32', shape: [3], data: new Uint8Array(4) } }), SafetensorsError);
      assert.deepEqual(fs.readdirSync(dir), ['w.safetensors']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// Malformed files

describe('malformed files throw SafetensorsError', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const okData = f32le(1, 2);

  test('sanity: the base file parses', () => {
    assert.equal(parseSafetensors(file(ok, okData)).tensors.size, 1);
  });

  test('shorter than 8 bytes', () => {
    for (let n = 0; n < 8; n++) assertSafetensorsError(() => parseSafetensors(new Uint8Array(n)), /shorter than/);
  });

  test('huge header lengths are rejected before any allocation', () => {
    for (const n of [2n ** 60n, 2n ** 64n - 1n, 2n ** 53n + 1n, BigInt(MAX_HEADER_SIZE) + 1n]) {
      assertSafetensorsError(() => parseSafetensors(file(ok, okData, n)), /exceeds/);
    }
  });

  test('header length past the end of the file', () => {
    const bytes = file(ok, okData);
    assertSafetensorsError(() => parseSafetensors(file(ok, okData, BigInt(bytes.length))), /past the end/);
    assertSafetensorsError(() => parseSafetensors(file('', [], 1n)), /past the end/);
    // Truncated anywhere in the header.
    assertSafetensorsError(() => parseSafetensors(bytes.subarray(0, 20)), /past the end/);
  });

  test('header length too short cuts the JSON', () => {
    assertSafetensorsError(() => parseSafetensors(file(ok, okData, BigInt(ok.length - 1))), /not valid JSON/);
  });

  test('header is not UTF-8', () => {
    const bytes = file('{"a":1}', []);
    bytes[9] = 0xff;
    assertSafetensorsError(() => parseSafetensors(bytes), /UTF-8/);
  });

  test('header is not JSON, or not a JSON object', () => {
    assertSafetensorsError(() => parseSafetensors(file('{"a":')), /not valid JSON/);
    assertSafetensorsError(() => parseSafetensors(file('{} x')), /not valid JSON/);
    assertSafetensorsError(() => parseSafetensors(file('')), /start/);
    assertSafetensorsError(() => parseSafetensors(file('[]')), /start/);
    assertSafetensorsError(() => parseSafetensors(file('null')), /start/);
    assertSafetensorsError(() => parseSafetensors(file(' {}')), /start/);
    assertSafetensorsError(() => parseSafetensors(file('\uFEFF{}')), /start/);
  });

  test('bad __metadata__', () => {
    for (const m of ['"x"', '1', 'null', '["a"]', '{"k":1}', '{"k":null}', '{"k":{"n":"v"}}']) {
      assertSafetensorsError(() => parseSafetensors(file(`{"__metadata__":${m}}`)), /__metadata__/);
    }
  });

  test('entry is not an object with exactly dtype/shape/data_offsets', () => {
    for (const e of ['1', '"F32"', 'null', '[]', '{"dtype":"F32","shape":[2]}', '{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}', '{"dtype":"F32","shape":[2],"offsets":[0,8]}']) {
      assertSafetensorsError(() => parseSafetensors(file(`{"a":${e}}`, okData)), /"a"/);
    }
  });

  test('empty tensor name', () => {
    assertSafetensorsError(() => parseSafetensors(file('{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1])), /non-empty/);
  });

  test('unknown dtype', () => {
    for (const d of ['"f32"', '"F8_E4M3"', '"float32"', '""', '4', 'null', '"__proto__"', '"toString"']) {
      assertSafetensorsError(() => parseSafetensors(file(`{"a":{"dtype":${d},"shape":[2],"data_offsets":[0,8]}}`, okData)), /unknown dtype/);
    }
  });

  test('bad shape', () => {
    for (const s of ['2', '"2"', 'null', '{}', '[-1]', '[1.5]', '["2"]', '[null]', '[9007199254740992]', '[[2]]']) {
      assertSafetensorsError(() => parseSafetensors(file(`{"a":{"dtype":"F32","shape":${s},"data_offsets":[0,8]}}`, okData)), /shape/);
    }
  });

  test('bad data_offsets', () => {
    for (const o of ['[0]', '[0,8,8]', '[]', '"0,8"', 'null', '[-1,7]', '[0.5,8]', '["0","8"]', '{"0":0,"1":8}']) {
      assertSafetensorsError(() => parseSafetensors(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":${o}}}`, okData)), /data_offsets/);
    }
    assertSafetensorsError(() => parseSafetensors(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', okData)), /begin 8 > end 0/);
  });

  test('offsets beyond the data section', () => {
    assertSafetensorsError(() => parseSafetensors(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', okData)), /beyond the data section/);
    assertSafetensorsError(() => parseSafetensors(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [1, 2, 3])), /beyond the data section/);
  });

  test('byte length does not match shape × dtype size', () => {
    assertSafetensorsError(() => parseSafetensors(file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', okData)), /8 bytes of data but dtype F32 and shape \[3\] need 12/);
    assertSafetensorsError(() => parseSafetensors(file('{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}', okData)), /need 16/);
    // A shape whose element count overflows 2^53 cannot sneak through.
    assertSafetensorsError(() => parseSafetensors(file('{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}')), /need 18446744073709551616/);
  });

  test('overlapping entries', () => {
    const h = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    assertSafetensorsError(() => parseSafetensors(file(h, f32le(1, 2, 3))), /overlaps/);
    const same = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    assertSafetensorsError(() => parseSafetensors(file(same, okData)), /overlaps/);
    // An empty tensor strictly inside another one also violates the layout.
    const inside = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}';
    assertSafetensorsError(() => parseSafetensors(file(inside, okData)), /overlaps/);
  });

  test('holes in the data section', () => {
    const gap = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    assertSafetensorsError(() => parseSafetensors(file(gap, f32le(1, 2, 3))), /hole.*\[4, 8\)/);
    const atStart = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    assertSafetensorsError(() => parseSafetensors(file(atStart, okData)), /hole.*\[0, 4\)/);
    const trailing = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    assertSafetensorsError(() => parseSafetensors(file(trailing, okData)), /cover only 4/);
    assertSafetensorsError(() => parseSafetensors(file('{}', [0])), /cover only 0/);
  });

  test('readSafetensors names the path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-st-'));
    try {
      const missing = path.join(dir, 'nope.safetensors');
      await assert.rejects(readSafetensors(missing), (err: unknown) => {
        assert.ok(err instanceof SafetensorsError);
        assert.ok(err.message.includes(missing), err.message);
        assert.match(err.message, /no such file/);
        return true;
      });
      const bad = path.join(dir, 'bad.safetensors');
      fs.writeFileSync(bad, file(ok, [1, 2, 3]));
      await assert.rejects(readSafetensors(bad), (err: unknown) => {
        assert.ok(err instanceof SafetensorsError);
        assert.ok(err.message.startsWith(`safetensors: ${bad}: `), err.message);
        assert.match(err.message, /beyond the data section/);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------
// Writer input validation

describe('serializeSafetensors validates its input', () => {
  const u8 = (n: number) => new Uint8Array(n);

  test('byte length must match shape × dtype size', () => {
    assertSafetensorsError(() => serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: u8(7) } }), /7 bytes of data/);
    assertSafetensorsError(() => serializeSafetensors({ a: { dtype: 'I16', shape: [], data: u8(0) } }), /need 2/);
  });

  test('dtype, shape, data and name are checked', () => {
    assertSafetensorsError(() => serializeSafetensors({ a: { dtype: 'F8' as SafetensorsDtype, shape: [1], data: u8(1) } }), /unknown dtype/);
    assertSafetensorsError(() => serializeSafetensors({ a: { dtype: 'U8', shape: [-1], data: u8(0) } }), /shape/);
    assertSafetensorsError(() => serializeSafetensors({ a: { dtype: 'U8', shape: [1.5], data: u8(0) } }), /shape/);
    assertSafetensorsError(() => serializeSafetensors({ a: { dtype: 'U8', shape: [2], data: [1, 2] as unknown as Uint8Array } }), /Uint8Array/);
    assertSafetensorsError(() => serializeSafetensors({ '': { dtype: 'U8', shape: [1], data: u8(1) } }), /non-empty/);
    assertSafetensorsError(() => serializeSafetensors(new Map([['__metadata__', { dtype: 'U8' as const, shape: [1], data: u8(1) }]])), /reserved/);
    assertSafetensorsError(() => serializeSafetensors({ a: null as unknown as TensorEntry }), /not a/);
  });

  test('metadata values must be strings', () => {
    assertSafetensorsError(() => serializeSafetensors({}, { n: 1 as unknown as string }), /value must be a string/);
    assertSafetensorsError(() => serializeSafetensors({}, ['x'] as unknown as Record<string, string>), /metadata/);
  });
});

// ---------------------------------------------------------------------------
// Dtype names

test('dtype mapping to nnlock names', () => {
  const pairs: [SafetensorsDtype, DType][] = [
    ['F32', 'float32'],
    ['F64', 'float64'],
    ['F16', 'float16'],
    ['BF16', 'bfloat16'],
    ['I64', 'int64'],
    ['I32', 'int32'],
    ['I16', 'int16'],
    ['I8', 'int8'],
    ['U8', 'uint8'],
    ['BOOL', 'bool'],
  ];
  for (const [st, nn] of pairs) {
    assert.equal(toDType(st), nn);
    assert.equal(fromDType(nn), st);
  }
  for (const st of ['U16', 'U32', 'U64'] as SafetensorsDtype[]) {
    assertSafetensorsError(() => toDType(st), new RegExp(`${st} has no nnlock equivalent`));
  }
  assertSafetensorsError(() => toDType('X' as SafetensorsDtype), /unknown dtype/);
  assertSafetensorsError(() => fromDType('uint16' as DType), /no safetensors equivalent/);
  assertSafetensorsError(() => fromDType('complex64' as DType), /no safetensors equivalent/);
});
