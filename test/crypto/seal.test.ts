import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyError } from '../../src/crypto/tier-keys.ts';
import { SEAL_OVERHEAD, open, openInParts, seal, sealWithNonce, sectionAad } from '../../src/crypto/seal.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const enc = new TextEncoder();

// AES-256-GCM known answers. Source: D. McGrew and J. Viega, "The Galois/Counter
// Mode of Operation (GCM)", revised 2005, Appendix B, test cases 14-16
// (256-bit key); also used as NIST SP 800-38D validation examples.
const GCM_VECTORS = [
  {
    name: 'test case 14',
    key: '00'.repeat(32),
    iv: '00'.repeat(12),
    pt: '00'.repeat(16),
    aad: '',
    ct: 'cea7403d4d606b6e074ec5d3baf39d18',
    tag: 'd0d1c8a799996bf0265b98b5d48ab919',
  },
  {
    name: 'test case 15',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' + '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255',
    aad: '',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' + '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad',
    tag: 'b094dac5d93471bdec1a502270e3cc6c',
  },
  {
    name: 'test case 16',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' + '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' + '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

for (const v of GCM_VECTORS) {
  test(`AES-256-GCM known answer: McGrew-Viega ${v.name}`, () => {
    const sealed = sealWithNonce(hex(v.key), hex(v.iv), hex(v.pt), hex(v.aad));
    assert.equal(toHex(sealed), v.iv + v.ct + v.tag);
    assert.equal(toHex(open(hex(v.key), sealed, hex(v.aad))), v.pt);
  });
}

const KEY = new Uint8Array(32).map((_, i) => 255 - i);
const AAD = sectionAad({ modelId: enc.encode('resnet18-x'), tier: 2, weightsDigest: new Uint8Array(32).fill(9) });
const PT = enc.encode('the original conv kernels of tier 2');

function expectCode(fn: () => unknown, code: string, message?: string): void {
  assert.throws(fn, (e: unknown) => e instanceof KeyError && e.code === code, message);
}

test('seal/open round trip, layout and empty payload', () => {
  const s = seal(KEY, PT, AAD);
  assert.equal(s.length, PT.length + SEAL_OVERHEAD);
  assert.deepEqual(open(KEY, s, AAD), PT);
  const e = seal(KEY, new Uint8Array(0), AAD);
  assert.equal(e.length, SEAL_OVERHEAD);
  assert.equal(open(KEY, e, AAD).length, 0);
});

test('two seals of the same plaintext differ (fresh nonces)', () => {
  const a = seal(KEY, PT, AAD);
  const b = seal(KEY, PT, AAD);
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
});

test('open rejects wrong key, tampering, wrong AAD, truncation', () => {
  const s = seal(KEY, PT, AAD);
  const wrong = KEY.slice();
  wrong[31] ^= 1;
  expectCode(() => open(wrong, s, AAD), 'TAMPERED_OR_WRONG_KEY');
  for (const [what, pos] of [
    ['nonce', 0],
    ['nonce end', 11],
    ['ciphertext', 12],
    ['ciphertext end', s.length - 17],
    ['tag', s.length - 16],
    ['tag end', s.length - 1],
  ] as const) {
    const t = s.slice();
    t[pos] ^= 0x01;
    expectCode(() => open(KEY, t, AAD), 'TAMPERED_OR_WRONG_KEY', `tampered ${what}`);
  }
  const otherTier = sectionAad({ modelId: enc.encode('resnet18-x'), tier: 1, weightsDigest: new Uint8Array(32).fill(9) });
  expectCode(() => open(KEY, s, otherTier), 'TAMPERED_OR_WRONG_KEY');
  expectCode(() => open(KEY, s, new Uint8Array(0)), 'TAMPERED_OR_WRONG_KEY');
  expectCode(() => open(KEY, s.subarray(0, s.length - 1), AAD), 'TAMPERED_OR_WRONG_KEY');
  expectCode(() => open(KEY, s.subarray(0, SEAL_OVERHEAD - 1), AAD), 'TRUNCATED');
  expectCode(() => open(KEY, new Uint8Array(0), AAD), 'TRUNCATED');
  try {
    open(wrong, s, AAD);
  } catch (e) {
    const msg = (e as Error).message;
    assert.ok(!msg.includes(Buffer.from(KEY).toString('hex')) && !msg.includes(Buffer.from(wrong).toString('base64')));
  }
});

test('openInParts: the parts are the plaintext, each in memory of its own; a bad tag wipes them all', () => {
  const plain = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 1) & 255);
  const s = seal(KEY, plain, AAD);
  const o = openInParts(KEY, s, AAD);
  const parts = [o.take(3), o.take(0), o.take(400), o.take(-5)];
  assert.equal(o.remaining, 597);
  parts.push(o.take(10_000)); // clamped to what is left
  assert.equal(o.remaining, 0);
  assert.equal(o.finish().length, 0);
  assert.deepEqual(Buffer.concat(parts), Buffer.from(plain));
  for (const p of parts) assert.equal(p.byteOffset, 0, 'a part is not a view into a larger buffer');
  // finish() takes what the reader left.
  const rest = openInParts(KEY, s, AAD);
  rest.take(10);
  assert.deepEqual(rest.finish(), plain.subarray(10));
  for (const [what, t] of [
    ['ciphertext', Object.assign(s.slice(), { 500: s[500] ^ 1 })],
    ['tag', Object.assign(s.slice(), { [s.length - 1]: s[s.length - 1] ^ 1 })],
  ] as const) {
    const bad = openInParts(KEY, t, AAD);
    const taken = [bad.take(600), bad.take(100)];
    expectCode(() => bad.finish(), 'TAMPERED_OR_WRONG_KEY', `tampered ${what}`);
    for (const p of taken)
      assert.ok(
        p.every((b) => b === 0),
        `the unauthenticated parts are wiped (${what})`,
      );
  }
  expectCode(() => openInParts(KEY, s, new Uint8Array(0)).finish(), 'TAMPERED_OR_WRONG_KEY');
  expectCode(() => openInParts(KEY, s.subarray(0, SEAL_OVERHEAD - 1), AAD), 'TRUNCATED');
  const wiped = openInParts(KEY, s, AAD);
  const part = wiped.take(50);
  wiped.finish();
  wiped.wipe();
  assert.ok(part.every((b) => b === 0));
});

test('sectionAad is canonical and injective over its fields', () => {
  const base = { modelId: enc.encode('m1'), tier: 3, weightsDigest: new Uint8Array([1, 2, 3]) };
  const a = sectionAad(base);
  assert.deepEqual(sectionAad({ ...base }), a);
  assert.equal(toHex(a), toHex(enc.encode('nnlock section aad v1')) + '00' + '00000003' + '00000002' + toHex(enc.encode('m1')) + '00000003' + '010203');
  const variants = [
    sectionAad({ ...base, tier: 4 }),
    sectionAad({ ...base, modelId: enc.encode('m2') }),
    sectionAad({ ...base, weightsDigest: new Uint8Array([1, 2, 4]) }),
    // moving a byte between modelId and digest must change the encoding
    sectionAad({ modelId: enc.encode('m1\x01'), tier: 3, weightsDigest: new Uint8Array([2, 3]) }),
  ];
  for (const v of variants) assert.notDeepEqual(v, a);
  assert.throws(() => sectionAad({ ...base, modelId: new Uint8Array(0) }), TypeError);
  assert.throws(() => sectionAad({ ...base, tier: -1 }), RangeError);
});
