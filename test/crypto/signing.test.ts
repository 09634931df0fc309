// The owner's signing key (derived from the master key), Ed25519 signatures, and key tokens that
// carry the owner's signer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { formatSigner, ownerSigningKey, parseSigner, sameSigner, signMessage, verifySignature } from '../../src/crypto/signing.ts';
import { KeyError, decodeKeyToken, encodeKeyToken, hkdfSha256 } from '../../src/crypto/tier-keys.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const master = () => new Uint8Array(32).map((_, i) => i * 11 + 3);
const MODEL = new Uint8Array(16).fill(1);

test('Ed25519 known answer (RFC 8032 §7.1, test 1): the raw-key wrapping is right', () => {
  const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const key = createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });
  const signature = new Uint8Array(sign(null, new Uint8Array(0), key));
  const pub = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  assert.equal(Buffer.from(signature).toString('hex'), 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
  assert.ok(verifySignature(pub, new Uint8Array(0), signature));
  assert.ok(!verifySignature(pub, new Uint8Array([0]), signature));
  signature[0] ^= 1;
  assert.ok(!verifySignature(pub, new Uint8Array(0), signature));
  assert.ok(!verifySignature(pub.subarray(1), new Uint8Array(0), signature), 'a short key is false, not an exception');
});

test('ownerSigningKey: the seed is HKDF(master, modelId, "nnlock owner signing v2" 0 M); one signer per model, master and tier count', () => {
  const a = ownerSigningKey(master(), MODEL, 3);
  const seed = hkdfSha256(master(), MODEL, new Uint8Array([...Buffer.from('nnlock owner signing v2'), 0, 0, 0, 0, 3]), 32);
  // The key pair made from that seed directly is the same: same public key, same signatures.
  const direct = createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });
  const probe = new TextEncoder().encode('probe');
  assert.deepEqual(new Uint8Array(sign(null, probe, direct)), a.sign(probe));
  assert.ok(sameSigner(ownerSigningKey(master(), MODEL, 3).publicKey, a.publicKey), 'deterministic');
  const others = [ownerSigningKey(master(), new Uint8Array(16).fill(2), 3), ownerSigningKey(master().reverse(), MODEL, 3), ownerSigningKey(master(), MODEL, 2)];
  for (const o of others) assert.ok(!sameSigner(o.publicKey, a.publicKey));
  const message = new TextEncoder().encode('header and sections');
  assert.ok(verifySignature(a.publicKey, message, signMessage(a, message)));
  assert.ok(!verifySignature(others[0].publicKey, message, signMessage(a, message)));
});

test('signers are written ed25519:<64 hex>, parsed with or without the prefix, refused otherwise', () => {
  const { publicKey } = ownerSigningKey(master(), MODEL, 3);
  const text = formatSigner(publicKey);
  assert.match(text, /^ed25519:[0-9a-f]{64}$/);
  assert.deepEqual(parseSigner(text), publicKey);
  assert.deepEqual(parseSigner(text.slice(8).toUpperCase()), publicKey);
  for (const bad of ['ed25519:', `ed25519:${'a'.repeat(63)}`, `rsa:${text.slice(8)}`, `${text}00`]) {
    assert.throws(
      () => parseSigner(bad),
      (e: unknown) => e instanceof KeyError && e.code === 'MALFORMED_SIGNER',
    );
  }
});

test('key tokens with a signer: round trip, every changed character malformed, the signer cannot be stripped', () => {
  const key = master();
  const signer = ownerSigningKey(master(), MODEL, 3).publicKey;
  const tok = encodeKeyToken({ tier: 2, key, signer });
  assert.match(tok, /^nnlock1-t2-[A-Za-z0-9_-]{43}-s[A-Za-z0-9_-]{43}-[0-9a-f]{8}$/);
  const d = decodeKeyToken(tok);
  assert.equal(d.tier, 2);
  assert.deepEqual(d.key, key);
  assert.deepEqual(d.signer, signer);
  assert.equal(decodeKeyToken(encodeKeyToken({ tier: 2, key })).signer, undefined);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < tok.length; i++) {
    const ch = alphabet[(alphabet.indexOf(tok[i]!) + 1) % 64]!;
    assert.throws(() => decodeKeyToken(tok.slice(0, i) + ch + tok.slice(i + 1)), /malformed key token/, `character ${i}`);
  }
  // Removing the signer part keeps the key's text but not a valid checksum.
  const stripped = tok.slice(0, 11 + 43) + tok.slice(11 + 43 + 45);
  assert.throws(() => decodeKeyToken(stripped), /checksum mismatch/);
  assert.throws(() => encodeKeyToken({ tier: 2, key, signer: signer.subarray(1) }), /Ed25519 public key of 32 bytes/);
});
