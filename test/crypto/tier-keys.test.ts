import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import {
  KEY_BYTES,
  KeyError,
  decodeKeyToken,
  decoyKey,
  deriveLowerKey,
  encodeKeyToken,
  generateMasterKey,
  hkdfSha256,
  keyCheck,
  sectionKey,
  tierKey,
  verifyKeyCheck,
} from '../../src/crypto/tier-keys.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const enc = new TextEncoder();
const MODEL = enc.encode('model-A');
const MODEL_B = enc.encode('model-B');
const fixedKey = () => new Uint8Array(32).map((_, i) => i * 7 + 1);

test('HKDF-SHA-256 known answer: RFC 5869 Appendix A.1 (test case 1)', () => {
  // Source: RFC 5869, "HMAC-based Extract-and-Expand Key Derivation Function", A.1.
  const ikm = hex('0b'.repeat(22));
  const salt = hex('000102030405060708090a0b0c');
  const info = hex('f0f1f2f3f4f5f6f7f8f9');
  const okm = '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865';
  assert.equal(toHex(hkdfSha256(ikm, salt, info, 42)), okm);
  assert.equal(Buffer.from(hkdfSync('sha256', ikm, salt, info, 42)).toString('hex'), okm);
});

test('deriveLowerKey is exactly HKDF(ikm=key, salt=modelId, info="nnlock tier-chain v1")', () => {
  const k = fixedKey();
  const want = hkdfSha256(k, MODEL, enc.encode('nnlock tier-chain v1'), 32);
  assert.deepEqual(deriveLowerKey(k, MODEL), want);
});

test('generateMasterKey: 32 random bytes, fresh each time', () => {
  const a = generateMasterKey();
  const b = generateMasterKey();
  assert.equal(a.length, KEY_BYTES);
  assert.notDeepEqual(a, b);
});

test('chain: deterministic, steps down, differs from the key above, model separated', () => {
  const top = fixedKey();
  const k2 = deriveLowerKey(top, MODEL);
  assert.deepEqual(deriveLowerKey(top, MODEL), k2);
  assert.equal(k2.length, 32);
  assert.notDeepEqual(k2, top);
  const k1 = deriveLowerKey(k2, MODEL);
  assert.notDeepEqual(k1, k2);
  assert.notDeepEqual(k1, top);
  // "One-way as far as a test can show": deriving down from the lower key never
  // comes back to the higher one.
  let k = k1;
  const seen = new Set([toHex(top), toHex(k2)]);
  for (let i = 0; i < 50; i++) {
    assert.ok(!seen.has(toHex(k)));
    seen.add(toHex(k));
    k = deriveLowerKey(k, MODEL);
  }
  assert.notDeepEqual(deriveLowerKey(top, MODEL_B), k2);
  assert.notDeepEqual(tierKey(top, 3, 0, MODEL), tierKey(top, 3, 0, MODEL_B));
});

test('tierKey(top, M, m) equals M-m applications of deriveLowerKey', () => {
  const top = fixedKey();
  const M = 4;
  let k: Uint8Array = top;
  for (let m = M; m >= 0; m--) {
    assert.deepEqual(tierKey(top, M, m, MODEL), k, `tier ${m}`);
    k = deriveLowerKey(k, MODEL);
  }
  // A middle key derives the same lower keys as the top one.
  const k2 = tierKey(top, M, 2, MODEL);
  assert.deepEqual(tierKey(k2, 2, 0, MODEL), tierKey(top, M, 0, MODEL));
  // tierKey does not alias its input.
  const same = tierKey(top, M, M, MODEL);
  same[0] ^= 1;
  assert.deepEqual(top, fixedKey());
});

test('tierKey rejects going up and bad tiers', () => {
  const top = fixedKey();
  assert.throws(
    () => tierKey(top, 1, 2, MODEL),
    (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW',
  );
  assert.throws(() => tierKey(top, 1, -1, MODEL), RangeError);
  assert.throws(() => tierKey(top, 1.5, 0, MODEL), RangeError);
  assert.throws(
    () => tierKey(top.subarray(0, 16), 1, 0, MODEL),
    (e: unknown) => e instanceof KeyError && e.code === 'INVALID_KEY',
  );
  assert.throws(() => deriveLowerKey(top, new Uint8Array(0)), TypeError);
});

test('sub-keys: domain separated from chain keys and from each other', () => {
  const top = fixedKey();
  const chain = [0, 1, 2, 3].map((t) => toHex(tierKey(top, 3, t, MODEL)));
  const subs = [
    ...[0, 1, 2, 3].map((t) => toHex(sectionKey(tierKey(top, 3, t, MODEL), MODEL, t))),
    toHex(sectionKey(top, MODEL, 2)), // same key, other tier number
    toHex(decoyKey(top, MODEL, 'conv1')),
    toHex(decoyKey(top, MODEL, 'conv2')),
    toHex(decoyKey(top, MODEL_B, 'conv1')),
  ];
  const all = new Set([...chain, ...subs]);
  assert.equal(all.size, chain.length + subs.length);
  assert.deepEqual(sectionKey(top, MODEL, 3), sectionKey(top, MODEL, 3));
  assert.deepEqual(decoyKey(top, MODEL, 'conv1'), decoyKey(top, MODEL, 'conv1'));
});

test('keyCheck: 16 hex chars, deterministic, distinguishes keys/tiers/models', () => {
  const k = fixedKey();
  const c = keyCheck(k, MODEL, 2);
  assert.match(c, /^[0-9a-f]{16}$/);
  assert.equal(keyCheck(k, MODEL, 2), c);
  assert.notEqual(keyCheck(k, MODEL, 1), c);
  assert.notEqual(keyCheck(k, MODEL_B, 2), c);
  assert.notEqual(keyCheck(deriveLowerKey(k, MODEL), MODEL, 2), c);
  assert.ok(!toHex(k).includes(c));
  verifyKeyCheck(k, MODEL, 2, c);
  assert.throws(
    () => verifyKeyCheck(deriveLowerKey(k, MODEL), MODEL, 2, c),
    (e: unknown) => e instanceof KeyError && e.code === 'WRONG_KEY',
  );
});

function expectMalformed(token: string, key?: Uint8Array): void {
  assert.throws(
    () => decodeKeyToken(token),
    (e: unknown) => {
      assert.ok(e instanceof KeyError);
      assert.equal(e.code, 'MALFORMED_TOKEN');
      assert.match(e.message, /malformed key token/);
      if (key) {
        assert.ok(!e.message.includes(Buffer.from(key).toString('base64url')));
        assert.ok(!e.message.includes(Buffer.from(key).toString('base64')));
        assert.ok(!e.message.includes(toHex(key)));
      }
      return true;
    },
  );
}

test('key tokens: round trip', () => {
  for (const tier of [0, 1, 2, 17, 255]) {
    const key = generateMasterKey();
    const tok = encodeKeyToken({ tier, key, modelId: MODEL });
    assert.match(tok, new RegExp(`^nnlock1-t${tier}-[A-Za-z0-9_-]{43}-[0-9a-f]{8}$`));
    const d = decodeKeyToken(tok);
    assert.equal(d.tier, tier);
    assert.deepEqual(d.key, key);
    assert.deepEqual(decodeKeyToken(`  ${tok}\n`).key, key); // whitespace from copy-paste
  }
});

test('key tokens: any single changed character is malformed, never a different key', () => {
  const key = fixedKey();
  const tok = encodeKeyToken({ tier: 2, key });
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < tok.length; i++) {
    for (const ch of [alphabet[(alphabet.indexOf(tok[i]!) + 1) % 64]!, 'x', '0']) {
      if (ch === tok[i]) continue;
      const bad = tok.slice(0, i) + ch + tok.slice(i + 1);
      expectMalformed(bad, key);
    }
  }
  // Last key character: non-canonical base64 with the same decoded bytes.
  const parts = tok.split('-');
  const last = parts[2]!.at(-1)!;
  const idx = alphabet.indexOf(last);
  const sibling = alphabet[idx ^ 1]!; // flips one of the unused low bits
  parts[2] = parts[2]!.slice(0, -1) + sibling;
  expectMalformed(parts.join('-'), key);
});

test('key tokens: wrong prefix, wrong tier, wrong lengths', () => {
  const key = fixedKey();
  const tok = encodeKeyToken({ tier: 2, key });
  expectMalformed(tok.replace('nnlock1', 'nnlock2'), key);
  expectMalformed(tok.replace('nnlock1-', ''), key);
  expectMalformed(tok.replace('-t2-', '-t3-'), key); // checksum covers the tier
  expectMalformed(tok.replace('-t2-', '-t02-'), key);
  expectMalformed(tok.replace('-t2-', '-t999-'), key);
  expectMalformed(tok.slice(0, -1), key);
  expectMalformed(tok + 'a', key);
  const parts = tok.split('-');
  expectMalformed([parts[0], parts[1], parts[2]!.slice(1), parts[3]].join('-'), key);
  expectMalformed([parts[0], parts[1], parts[2] + 'A', parts[3]].join('-'), key);
  // 16-byte key with a valid-looking checksum layout.
  expectMalformed(`nnlock1-t2-${Buffer.alloc(16).toString('base64url')}-00000000`);
  expectMalformed('');
  expectMalformed(tok.toUpperCase(), key);
  assert.throws(() => encodeKeyToken({ tier: 2, key: key.subarray(1) }), KeyError);
  assert.throws(() => encodeKeyToken({ tier: -1, key }), RangeError);
});
