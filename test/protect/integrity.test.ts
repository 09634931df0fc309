// Integrity of a protected model against its own key holders (format versions 3 and 2): the owner
// signs the header, every metadata entry and the sections, the tokens pin the owner's signer, and a
// file that a tier-m key holder (or anyone else) changed is refused by every tier's user. Every
// case runs on a version 3 file (the sections as tensors, what protect writes) and on the same
// model as version 2 (the sections as base64 metadata). Version 1 files (unsigned) still unlock,
// reported as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { trackLeaks } from '../helpers/leaks.ts';
import { KeyError, decodeKeyToken, encodeKeyToken, open, ownerSigningKey, seal, sectionAad, sectionKey, signMessage, signedSectionAad, tierKey } from '../../src/crypto/index.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { ProtectError, convLayers, deriveKeys, unlockModel, verifyModel, weightsDigest } from '../../src/protect/index.ts';
import {
  FORMAT_VERSION,
  METADATA_SECTIONS_FORMAT_VERSION,
  PROTECT_METADATA_KEY,
  SIGNATURE_METADATA_KEY,
  bodyDigest,
  decodePayload,
  encodePayload,
  parseHeader,
  readSection,
  removeSections,
  sectionDigest,
  serializeHeader,
  serializeSignature,
  signatureMessage,
  writeSection,
} from '../../src/protect/format.ts';
import { type UnlockResult, unlock, verifyProtected } from '../../src/protect/unlock.ts';
import { protect, tierTokens } from '../../src/protect/protect.ts';
import { weightImportance } from '../../src/protect/importance/baselines.ts';
import { fileOf, sameBytes, testKey, tinyNet, refusal } from './fixtures.ts';

const checkLeaks = trackLeaks();

const M = 3;
const net = tinyNet(2);
// Everything a user relies on besides the weights lives in the metadata: architecture, classes, normalisation.
const original = fileOf(net, {
  architecture: 'tiny',
  class_names: JSON.stringify(['cat', 'dog', 'ship', 'frog']),
  input_mean: JSON.stringify([0.49, 0.48, 0.45]),
  input_std: JSON.stringify([0.25, 0.24, 0.26]),
});
net.dispose();
const importance = weightImportance('l1', original.tensors, convLayers(original.tensors));
const modelId = new Uint8Array(16).fill(9);
const r = await protect(original, { importance, ratio: 0.25, tiers: M, masterKey: testKey(3), modelId });
/** The owner's tokens (tiers 1..M): each carries the owner's signer. */
const tokens = tierTokens(r.masterKey, r.modelId, M);
/** The same keys as bare tokens, as nnlock 0.2 wrote them (no signer). */
const bareTokens = tokens.map((t) => {
  const d = decodeKeyToken(t);
  return encodeKeyToken({ tier: d.tier, key: d.key });
});
const userTokens = { pinned: tokens, bare: bareTokens };

const copyFile = (f: SafetensorsFile): SafetensorsFile => ({
  tensors: new Map([...f.tensors].map(([n, e]) => [n, { ...e, data: e.data.slice() }])),
  metadata: { ...f.metadata },
});

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/**
 * What a tier-m key holder can make: the file with its weights edited (a published weight and
 * a kernel that tiers ≤ m restore), the weights digest recomputed, sections 1..m re-sealed under
 * the keys they hold, sections above m left as they were, and, as `signer`:
 *   'own'    re-signed with a key pair of their own (the header names their public key),
 *   'owner'  the owner's signer kept (they cannot sign for it),
 *   'none'   written as an unsigned version 1 file (the downgrade).
 */
function forge(published: SafetensorsFile, m: number, signer: 'own' | 'owner' | 'none'): SafetensorsFile {
  const key = decodeKeyToken(tokens[m - 1]).key;
  const f = copyFile(published);
  const header = parseHeader(f.metadata);
  const sealed = Array.from({ length: M }, (_, i) => readSection(f, header.version, i + 1));
  const bias = f.tensors.get('head.bias')!;
  bias.data[0] ^= 0x40;
  const oldBody = bodyDigest(f.metadata);
  const own = generateKeyPairSync('ed25519');
  const ownRaw = own.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const forged = {
    ...header,
    weightsDigest: Buffer.from(weightsDigest(f.tensors)).toString('hex'),
    ...(signer === 'none' ? { version: 1, signer: undefined } : {}),
    ...(signer === 'own' ? { signer: `ed25519:${ownRaw.toString('hex')}` } : {}),
  };
  f.metadata[PROTECT_METADATA_KEY] = serializeHeader(forged);
  const newBody = bodyDigest(f.metadata);
  // The sections above m are carried over as they were (in the downgrade: as version 1 metadata).
  removeSections(f);
  for (let tier = m + 1; tier <= M; tier++) writeSection(f, forged.version, tier, sealed[tier - 1]);
  const kernelBytes = new Map(convLayers(f.tensors).map((l) => [l.name, l.kernelBytes]));
  for (let tier = 1; tier <= m; tier++) {
    const sk = sectionKey(tierKey(key, m, tier, modelId), modelId, tier);
    const payload = open(sk, sealed[tier - 1], signedSectionAad({ modelId, tier, bodyDigest: oldBody }));
    const layers = decodePayload(payload, (n) => kernelBytes.get(n), tier).map((l) => ({ ...l, values: l.values.slice() }));
    layers[0].values[0] ^= 0x40; // a trojan kernel for every user of tier ≥ 1
    const aad = signer === 'none' ? sectionAad({ modelId, tier, weightsDigest: hex(forged.weightsDigest) }) : signedSectionAad({ modelId, tier, bodyDigest: newBody });
    writeSection(f, forged.version, tier, seal(sk, encodePayload(layers), aad));
  }
  if (signer === 'none') delete f.metadata[SIGNATURE_METADATA_KEY];
  else {
    const digests = Array.from({ length: M }, (_, i) => sectionDigest(readSection(f, forged.version, i + 1)));
    const signature = sign(null, signatureMessage(newBody, digests), own.privateKey);
    f.metadata[SIGNATURE_METADATA_KEY] = serializeSignature({
      alg: 'Ed25519',
      sections: digests.map((d) => Buffer.from(d).toString('hex')),
      signature: signature.toString('base64'),
    });
  }
  return f;
}

/** Re-signs a file with a fresh key pair of someone who holds no tier key (its sections untouched). */
function resignByOutsider(f: SafetensorsFile): SafetensorsFile {
  const g = copyFile(f);
  const own = generateKeyPairSync('ed25519');
  const header = parseHeader(g.metadata);
  g.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...header, signer: `ed25519:${own.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')}` });
  const digests = Array.from({ length: header.tiers }, (_, i) => sectionDigest(readSection(g, header.version, i + 1)));
  g.metadata[SIGNATURE_METADATA_KEY] = serializeSignature({
    alg: 'Ed25519',
    sections: digests.map((d) => Buffer.from(d).toString('hex')),
    signature: sign(null, signatureMessage(bodyDigest(g.metadata), digests), own.privateKey).toString('base64'),
  });
  return g;
}

/** The same model in format version 1 (nnlock 0.2): what the owner's key would have written. */
function asVersion1(f: SafetensorsFile): SafetensorsFile {
  const g = copyFile(f);
  const key = decodeKeyToken(tokens[M - 1]).key;
  const body = bodyDigest(g.metadata);
  const header = parseHeader(g.metadata);
  const sealed = Array.from({ length: M }, (_, i) => readSection(f, header.version, i + 1));
  removeSections(g);
  for (let tier = 1; tier <= M; tier++) {
    const sk = sectionKey(tierKey(key, M, tier, modelId), modelId, tier);
    const payload = open(sk, sealed[tier - 1], signedSectionAad({ modelId, tier, bodyDigest: body }));
    writeSection(g, 1, tier, seal(sk, payload, sectionAad({ modelId, tier, weightsDigest: hex(header.weightsDigest) })));
  }
  delete g.metadata[SIGNATURE_METADATA_KEY];
  g.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...header, version: 1, signer: undefined });
  return g;
}

/** The same model in format version 2 (nnlock 0.3: signed, the sections as base64 metadata), as the owner would have written it. */
function asVersion2(f: SafetensorsFile): SafetensorsFile {
  const g = copyFile(f);
  const key = decodeKeyToken(tokens[M - 1]).key;
  const oldBody = bodyDigest(g.metadata);
  const header = parseHeader(g.metadata);
  const sealed = Array.from({ length: M }, (_, i) => readSection(f, header.version, i + 1));
  removeSections(g);
  g.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...header, version: METADATA_SECTIONS_FORMAT_VERSION });
  const body = bodyDigest(g.metadata);
  const digests = sealed.map((s, i) => {
    const tier = i + 1;
    const sk = sectionKey(tierKey(key, M, tier, modelId), modelId, tier);
    const again = seal(sk, open(sk, s, signedSectionAad({ modelId, tier, bodyDigest: oldBody })), signedSectionAad({ modelId, tier, bodyDigest: body }));
    writeSection(g, METADATA_SECTIONS_FORMAT_VERSION, tier, again);
    return sectionDigest(again);
  });
  g.metadata[SIGNATURE_METADATA_KEY] = serializeSignature({
    alg: 'Ed25519',
    sections: digests.map((d) => Buffer.from(d).toString('hex')),
    signature: Buffer.from(signMessage(ownerSigningKey(key, modelId, M), signatureMessage(body, digests))).toString('base64'),
  });
  return g;
}

test('protect writes version 3: the sections are U8 tensors, the header holds no section', () => {
  assert.equal(r.header.version, FORMAT_VERSION);
  for (let tier = 1; tier <= M; tier++) {
    const e = r.file.tensors.get(`__nnlock__/tier-${tier}`);
    assert.ok(e && e.dtype === 'U8' && e.shape.length === 1, `tier ${tier}`);
    assert.equal(r.file.metadata[`nnlock.tier.${tier}`], undefined);
  }
  assert.ok(
    Object.values(r.file.metadata).every((v) => v.length < 4096),
    'only small metadata',
  );
});

const formats: [number, SafetensorsFile][] = [
  [FORMAT_VERSION, r.file],
  [METADATA_SECTIONS_FORMAT_VERSION, asVersion2(r.file)],
];
for (const [version, published] of formats) {
  test(`v${version}: the full key restores the original bit-exactly, and the result says it is signed and pinned`, () => {
    for (const options of [{}, { verifyWeights: false }, { inPlace: true }]) {
      const u = unlock(copyFile(published), tokens[M - 1], options);
      for (const [name, e] of original.tensors) assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
      assert.deepEqual(u.file.metadata, original.metadata);
      assert.equal(u.version, version);
      assert.equal(u.signed, true);
      assert.equal(u.signerPinned, true);
      assert.equal(u.signer, r.header.signer);
      assert.equal(u.weightsVerified, options.verifyWeights !== false);
    }
  });

  test(`v${version}: a model modified by a tier-m key holder is refused by every tier, whatever they do about the signature`, () => {
    for (let m = 1; m < M; m++) {
      for (const signer of ['own', 'owner', 'none'] as const) {
        const f = forge(published, m, signer);
        for (let tier = 1; tier <= M; tier++) {
          const got = refusal(() => unlock(f, tokens[tier - 1]));
          const want = { own: 'WRONG_SIGNER', owner: 'BAD_SIGNATURE', none: 'UNSIGNED' }[signer];
          assert.equal(got, want, `tier-${m} forgery (${signer} signature), tier-${tier} user`);
        }
        // Without a key and without a pin, only the kept owner's signer gives it away; pinned, all are refused.
        assert.equal(
          refusal(() => verifyProtected(f)),
          { own: 'ACCEPTED', owner: 'BAD_SIGNATURE', none: 'ACCEPTED' }[signer],
        );
        assert.equal(
          refusal(() => verifyProtected(f, { expectedSigner: r.header.signer })),
          { own: 'WRONG_SIGNER', owner: 'BAD_SIGNATURE', none: 'UNSIGNED' }[signer],
        );
      }
    }
  });

  test(`v${version}: with bare tokens (no signer), a pinned signer refuses the forgery; unpinned, users above m still refuse it`, async () => {
    for (let m = 1; m < M; m++) {
      const f = forge(published, m, 'own');
      for (let tier = 1; tier <= M; tier++) {
        assert.equal(
          refusal(() => unlock(f, bareTokens[tier - 1], { expectedSigner: r.header.signer })),
          'WRONG_SIGNER',
        );
        // Unpinned: tiers above m cannot be re-sealed by the forger (their AAD binds the header).
        const unpinned = refusal(() => unlock(f, bareTokens[tier - 1]));
        if (tier > m) assert.equal(unpinned, 'TAMPERED_OR_WRONG_KEY', `tier ${tier}`);
        else {
          // The documented limit: a bare token pins nothing, so tiers ≤ m get the forger's signer, reported.
          assert.equal(unpinned, 'ACCEPTED');
          const u = unlock(f, bareTokens[tier - 1]);
          assert.equal(u.signerPinned, false);
          assert.notEqual(u.signer, r.header.signer);
        }
      }
      await assert.rejects(verifyModel(f, { expectedSigner: r.header.signer }), (e: unknown) => e instanceof ProtectError && e.code === 'WRONG_SIGNER');
      // What nnlock 0.2 allowed: the same forgery as an unsigned file, and a bare token, is accepted at tiers ≤ m.
      for (let tier = 1; tier <= m; tier++)
        assert.equal(
          refusal(() => unlock(forge(published, m, 'none'), bareTokens[tier - 1])),
          'ACCEPTED',
        );
    }
  });

  test(`v${version}: edited metadata or header (tier count, normalisation, architecture, class names) is refused by every tier and without a key`, async () => {
    const edits: [string, (f: SafetensorsFile) => void][] = [
      [
        'tier count',
        (f) => {
          const h = parseHeader(f.metadata);
          f.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...h, tiers: 2, keyChecks: h.keyChecks.slice(0, 2) });
        },
      ],
      [
        "a lower tier's keyCheck",
        (f) => {
          const h = parseHeader(f.metadata);
          f.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...h, keyChecks: ['0'.repeat(16), ...h.keyChecks.slice(1)] });
        },
      ],
      ['normalisation', (f) => void (f.metadata.input_mean = JSON.stringify([0.5, 0.5, 0.5]))],
      ['normalisation std', (f) => void (f.metadata.input_std = JSON.stringify([0.2, 0.2, 0.2]))],
      ['architecture (metadata)', (f) => void (f.metadata.architecture = 'resnet20')],
      ['architecture (header)', (f) => void (f.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...parseHeader(f.metadata), architecture: 'resnet20' }))],
      ['class names', (f) => void (f.metadata.class_names = JSON.stringify(['dog', 'cat', 'ship', 'frog']))],
      ['an added entry', (f) => void (f.metadata.note = 'added')],
      ['a removed entry', (f) => void delete f.metadata.input_std],
      ['layer list', (f) => void (f.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...parseHeader(f.metadata), layers: parseHeader(f.metadata).layers.slice(1) }))],
    ];
    for (const [what, edit] of edits) {
      const f = copyFile(published);
      edit(f);
      for (const set of [userTokens.pinned, userTokens.bare]) {
        for (let tier = 1; tier <= (what === 'tier count' ? 2 : M); tier++) {
          assert.equal(
            refusal(() => unlock(f, set[tier - 1])),
            'BAD_SIGNATURE',
            `${what}, tier ${tier}`,
          );
        }
      }
      await assert.rejects(verifyModel(f), (e: unknown) => e instanceof ProtectError && e.code === 'BAD_SIGNATURE', what);
      // Re-signed by someone without keys, every section's AAD (bound to the signed body) fails.
      const g = resignByOutsider(f);
      for (let tier = 1; tier <= (what === 'tier count' ? 2 : M); tier++) {
        // (A replaced fingerprint makes that tier's own key look wrong, before anything else.)
        const fingerprint = what === "a lower tier's keyCheck" && tier === 1;
        assert.equal(
          refusal(() => unlock(g, bareTokens[tier - 1])),
          fingerprint ? 'WRONG_KEY' : 'TAMPERED_OR_WRONG_KEY',
          `${what} re-signed, tier ${tier}`,
        );
        assert.equal(
          refusal(() => unlock(g, tokens[tier - 1])),
          fingerprint ? 'WRONG_KEY' : 'WRONG_SIGNER',
          `${what} re-signed, pinned tier ${tier}`,
        );
      }
    }
  });

  test(`v${version}: a pinned signer that does not match is refused; a matching one is reported pinned`, async () => {
    const other = await protect(original, { importance, ratio: 0.25, tiers: M, masterKey: testKey(4), modelId });
    const wrong = other.header.signer!;
    assert.notEqual(wrong, r.header.signer);
    for (let tier = 1; tier <= M; tier++) {
      assert.equal(
        refusal(() => unlock(published, bareTokens[tier - 1], { expectedSigner: wrong })),
        'WRONG_SIGNER',
      );
      assert.equal(
        refusal(() => unlock(published, tokens[tier - 1], { expectedSigner: wrong })),
        'WRONG_SIGNER',
      );
      const u = unlock(published, bareTokens[tier - 1], { expectedSigner: r.header.signer!.toUpperCase().replace('ED25519:', '') });
      assert.equal(u.signerPinned, true);
    }
    await assert.rejects(verifyModel(published, { expectedSigner: wrong }), (e: unknown) => e instanceof ProtectError && e.code === 'WRONG_SIGNER');
    await assert.rejects(unlockModel(published, bareTokens[0], { expectedSigner: 'ed25519:12' }), (e: unknown) => e instanceof KeyError && e.code === 'MALFORMED_SIGNER');
    other.masterKey.fill(0);
  });

  test(`v${version}: deriveKeys: lower tokens carry the signer; a master key refuses a file it did not sign`, async () => {
    const derived = await deriveKeys(published, bareTokens[M - 1]);
    for (const d of derived) assert.equal(`ed25519:${Buffer.from(decodeKeyToken(d.token).signer!).toString('hex')}`, r.header.signer);
    const resigned = resignByOutsider(published);
    await assert.rejects(deriveKeys(resigned, bareTokens[M - 1]), /not your file/);
    await assert.rejects(deriveKeys(resigned, tokens[0]), (e: unknown) => e instanceof ProtectError && e.code === 'WRONG_SIGNER');
  });

  test(`v${version}: version 1 files (unsigned) still unlock bit-exactly, reported unsigned; a pin refuses them`, async () => {
    const v1 = asVersion1(published);
    const u: UnlockResult = unlock(v1, bareTokens[M - 1], { verifyWeights: false });
    for (const [name, e] of original.tensors) assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
    assert.equal(u.version, 1);
    assert.equal(u.signed, false);
    assert.equal(u.signer, undefined);
    assert.equal(u.weightsVerified, true, 'version 1 is always checked against its digest');
    const v = await verifyModel(v1);
    assert.equal(v.signed, false);
    assert.equal(
      refusal(() => unlock(v1, tokens[0])),
      'UNSIGNED',
      'a signer-carrying token refuses an unsigned copy',
    );
    assert.equal(
      refusal(() => unlock(v1, bareTokens[0], { expectedSigner: r.header.signer })),
      'UNSIGNED',
    );
    // A changed weight of a version 1 file is still caught by its digest.
    const changed = copyFile(v1);
    changed.tensors.get('head.bias')!.data[1] ^= 1;
    assert.equal(
      refusal(() => unlock(changed, bareTokens[0])),
      'WEIGHTS_MODIFIED',
    );
  });

  test(`v${version}: verifyWeights: false skips only the digest of the published weights; verifyModel catches what it skips`, async () => {
    const f = copyFile(published);
    f.tensors.get('head.bias')!.data[0] ^= 1;
    assert.equal(
      refusal(() => unlock(f, tokens[M - 1])),
      'WEIGHTS_MODIFIED',
    );
    assert.equal(unlock(f, tokens[M - 1], { verifyWeights: false }).weightsVerified, false);
    await assert.rejects(verifyModel(f), (e: unknown) => e instanceof ProtectError && e.code === 'WEIGHTS_MODIFIED');
    const ok = await verifyModel(published);
    assert.equal(ok.signed && ok.weightsVerified, true);
  });
}

test('leaks no tensors', () => {
  r.masterKey.fill(0);
  checkLeaks();
});
