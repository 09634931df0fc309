"""Protected models (docs/FORMAT.md §1; version 2: docs/FORMAT-v2.md; version 3: docs/FORMAT-v3.md): read the public header, check a tier key, unlock in memory.

``load_protected`` follows §1.7 step by step: every check (header, key, tier, digest of the
published weights, authentication of each needed section) runs before any kernel is restored, and
nothing is written anywhere: the file is read into memory once and the state dict is built there.
"""
import base64
import binascii
import hashlib
import json
import os
import re
import struct
import sys

import torch
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import _safetensors
from .errors import FormatError, TamperedError, TierTooHighError, UnsupportedVersionError
from .keys import check_key, decode_token, decode_token_with_signer, encode_token, section_key, tier_key

FORMAT_NAME = "nnlock-protect"
SUPPORTED_VERSIONS = (1, 2, 3)
SIGNED_VERSIONS = (2, 3)
# Version 3 keeps the sealed section of tier m as the U8 tensor "__nnlock__/tier-<m>" (FORMAT-v3.md);
# "__nnlock__/" names are reserved: never weights, left out of the weights digest and the state dict.
TENSOR_SECTIONS_VERSION = 3
RESERVED_PREFIX = "__nnlock__/"
SECTION_TENSOR_PREFIX = RESERVED_PREFIX + "tier-"
SIGNATURE_KEY = "nnlock.signature"
_SIGNER = re.compile(r"^ed25519:[0-9a-f]{64}$")
HEADER_KEY = "nnlock.protect"
SECTION_PREFIX = "nnlock.tier."
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
_HEX = {n: re.compile(rf"^[0-9a-f]{{{n}}}$") for n in (16, 32, 64)}
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_TORCH_DTYPE = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def _malformed(why):
    return FormatError(f"malformed protected file: {why}")


def parse_header(metadata):
    """The checked public header (a dict) of a protected file's metadata (FORMAT.md §1.1)."""
    raw = metadata.get(HEADER_KEY)
    if raw is None:
        raise FormatError(f"not a protected model: the file has no '{HEADER_KEY}' metadata")
    try:
        h = json.loads(raw)
    except ValueError:
        raise _malformed(f"'{HEADER_KEY}' is not valid JSON") from None
    if not isinstance(h, dict):
        raise _malformed("the header is not a JSON object")
    if h.get("format") != FORMAT_NAME:
        raise _malformed(f'format is {json.dumps(h.get("format"))}, expected "{FORMAT_NAME}"')
    version = h.get("version")
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        raise UnsupportedVersionError(
            f"this protected model is format version {json.dumps(version)}, which this nnlock_torch does not read: "
            f"it reads version {', '.join(map(str, SUPPORTED_VERSIONS))} (a newer nnlock wrote the file? update nnlock_torch)")
    for field, n in (("modelId", 32), ("weightsDigest", 64)):
        if not isinstance(h.get(field), str) or not _HEX[n].match(h[field]):
            raise _malformed(f"{field} must be {n} hex characters")
    tiers = h.get("tiers")
    if not isinstance(tiers, int) or isinstance(tiers, bool) or not 1 <= tiers <= 255:
        raise _malformed("tiers must be an integer in [1, 255]")
    checks = h.get("keyChecks")
    if not isinstance(checks, list) or len(checks) != tiers or not all(isinstance(c, str) and _HEX[16].match(c) for c in checks):
        raise _malformed(f"keyChecks must list {tiers} fingerprints of 16 hex characters")
    layers = h.get("layers")
    if not isinstance(layers, list) or not layers:
        raise _malformed("layers must be a non-empty list")
    for i, layer in enumerate(layers):
        ok = (isinstance(layer, dict) and isinstance(layer.get("name"), str) and layer.get("dtype") in _safetensors.DTYPE_SIZE
              and isinstance(layer.get("shape"), list) and len(layer["shape"]) == 4
              and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in layer["shape"]))
        if not ok:
            raise _malformed(f"layer {i} must be {{ name, dtype, shape: 4 positive integers }}")
    if "architecture" in h and not isinstance(h["architecture"], str):
        raise _malformed("architecture must be a string")
    if h.get("cipher") != "AES-256-GCM":
        raise _malformed(f'cipher {json.dumps(h.get("cipher"))} is not supported (this reader reads "AES-256-GCM")')
    if h.get("kdf") != "HKDF-SHA-256":
        raise _malformed(f'kdf {json.dumps(h.get("kdf"))} is not supported (this reader reads "HKDF-SHA-256")')
    if version in SIGNED_VERSIONS and not (isinstance(h.get("signer"), str) and _SIGNER.match(h["signer"])):
        raise _malformed('signer must be "ed25519:" and 64 hex characters')
    if version == 1 and "signer" in h:
        raise _malformed("a version 1 header has no signer")
    return h


def body_digest(metadata):
    """SHA-256 of every metadata entry but the sections and the signature (FORMAT-v2.md)."""
    keys = sorted((k for k in metadata if k != SIGNATURE_KEY and not k.startswith(SECTION_PREFIX)), key=lambda k: k.encode("utf-8"))
    h = hashlib.sha256(b"nnlock signed body v2\0" + struct.pack(">I", len(keys)))
    for k in keys:
        kb, vb = k.encode("utf-8"), metadata[k].encode("utf-8")
        h.update(struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb)
    return h.digest()


def _check_signature(header, metadata):
    """(body digest, [signed section digests]) of a signed (version 2 or 3) file whose owner's signature holds; TamperedError otherwise."""
    try:
        entry = json.loads(metadata[SIGNATURE_KEY])
    except KeyError:
        raise _malformed(f"a signed file must have the owner's signature ('{SIGNATURE_KEY}')") from None
    except ValueError:
        raise _malformed(f"'{SIGNATURE_KEY}' is not valid JSON") from None
    sections = entry.get("sections") if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or entry.get("alg") != "Ed25519" or not isinstance(sections, list) or not sections \
            or not all(isinstance(d, str) and _HEX[64].match(d) for d in sections) or not isinstance(entry.get("signature"), str):
        raise _malformed("the signature entry must be {alg: Ed25519, sections: [64 hex], signature: base64}")
    if len(sections) != header["tiers"]:
        raise TamperedError(f"the owner signed {len(sections)} tiers, but the header says {header['tiers']}: the header was modified")
    body = body_digest(metadata)
    message = b"nnlock signature v2\0" + body + struct.pack(">I", len(sections)) + b"".join(bytes.fromhex(d) for d in sections)
    try:
        signature = base64.b64decode(entry["signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(header["signer"][8:])).verify(signature, message)
    except (InvalidSignature, binascii.Error, ValueError):
        raise TamperedError("the owner's signature does not verify: the header, the metadata or a sealed section was modified") from None
    return body, sections


def _check_pins(header, pins):
    for pin in pins:
        want = "ed25519:" + pin.hex()
        if "signer" not in header:
            raise TamperedError(f"the model is unsigned (format version 1), but the owner's signer {want} was expected")
        if header["signer"] != want:
            raise TamperedError(f"the model is signed by {header['signer']}, not by the expected owner {want}: it is not the owner's model")


def _check_layers(header, tensors):
    for name in tensors:
        if not name.startswith(RESERVED_PREFIX):
            continue
        tier = name[len(SECTION_TENSOR_PREFIX):] if name.startswith(SECTION_TENSOR_PREFIX) else ""
        canonical = tier.isascii() and tier.isdigit() and str(int(tier)) == tier and 1 <= int(tier) <= 255
        if header["version"] != TENSOR_SECTIONS_VERSION or not canonical:
            raise _malformed(f"tensor {name!r} uses the reserved prefix {RESERVED_PREFIX} but is not a section of this version {header['version']} file")
    for layer in header["layers"]:
        if layer["name"].startswith(RESERVED_PREFIX):
            raise _malformed(f"protected layer {layer['name']} has a reserved name")
        e = tensors.get(layer["name"])
        if e is None:
            raise _malformed(f"protected layer {layer['name']} is not in the file")
        if e.dtype != layer["dtype"] or e.shape != layer["shape"] or e.dtype not in FLOAT_DTYPES:
            raise _malformed(f"protected layer {layer['name']} is {e.dtype}{e.shape} in the file but {layer['dtype']}{layer['shape']} in the header")


def weights_digest(tensors):
    """SHA-256 of every tensor of the file but the reserved ``__nnlock__/`` ones, as FORMAT.md §1.3 lays them out (32 bytes)."""
    h = hashlib.sha256(b"nnlock weights digest v1\0")
    for name in sorted((n for n in tensors if not n.startswith(RESERVED_PREFIX)), key=lambda s: s.encode("utf-8")):
        e = tensors[name]
        n, d = name.encode("utf-8"), e.dtype.encode("utf-8")
        h.update(struct.pack(">I", len(n)) + n + struct.pack(">I", len(d)) + d + struct.pack(">I", len(e.shape)))
        for dim in e.shape:
            h.update(struct.pack(">Q", dim))
        h.update(struct.pack(">Q", len(e.data)))
        h.update(e.data)
    return h.digest()


def signed_section_aad(model_id, tier, body):
    return (b"nnlock section aad v2\0" + struct.pack(">I", tier) + struct.pack(">I", len(model_id)) + model_id
            + struct.pack(">I", len(body)) + body)


def section_aad(model_id, tier, digest):
    return (b"nnlock section aad v1\0" + struct.pack(">I", tier) + struct.pack(">I", len(model_id)) + model_id
            + struct.pack(">I", len(digest)) + digest)


def _read_section(header, tensors, metadata, tier):
    if header["version"] == TENSOR_SECTIONS_VERSION:
        e = tensors.get(f"{SECTION_TENSOR_PREFIX}{tier}")
        if e is None:
            raise _malformed(f"the sealed section of tier {tier} (tensor '{SECTION_TENSOR_PREFIX}{tier}') is missing")
        if e.dtype != "U8" or len(e.shape) != 1:
            raise _malformed(f"the sealed section of tier {tier} must be a 1-D U8 tensor, not {e.dtype}{e.shape}")
        sealed = bytes(e.data)
        if len(sealed) < 12 + 16:
            raise _malformed(f"the sealed section of tier {tier} is truncated ({len(sealed)} bytes, need at least 28)")
        return sealed
    text = metadata.get(f"{SECTION_PREFIX}{tier}")
    if text is None:
        raise _malformed(f"the sealed section of tier {tier} ('{SECTION_PREFIX}{tier}') is missing")
    if len(text) % 4 != 0 or not _BASE64.match(text):
        raise _malformed(f"the sealed section of tier {tier} is not valid base64")
    try:
        sealed = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _malformed(f"the sealed section of tier {tier} is not valid base64") from None
    if len(sealed) < 12 + 16:
        raise _malformed(f"the sealed section of tier {tier} is truncated ({len(sealed)} bytes, need at least 28)")
    return sealed


def _decode_payload(payload, kernel_bytes, tier):
    """[(layer name, [kernel index], bytes of the originals)] of a section payload (FORMAT.md §1.6)."""
    def bad(why):
        return _malformed(f"the section of tier {tier} is inconsistent with the file ({why})")

    at = 0

    def take(n):
        nonlocal at
        if at + n > len(payload):
            raise bad("truncated payload")
        at += n
        return payload[at - n:at]

    if take(1)[0] != 1:
        raise bad(f"payload version {payload[0]}")
    (count,) = struct.unpack("<I", take(4))
    out = []
    for _ in range(count):
        (length,) = struct.unpack("<I", take(4))
        name = bytes(take(length)).decode("utf-8", errors="replace")
        if name not in kernel_bytes:
            raise bad(f"layer {name} is not a protected layer of this file")
        (n,) = struct.unpack("<I", take(4))
        indices = struct.unpack(f"<{n}i", take(4 * n))
        out.append((name, indices, take(n * kernel_bytes[name])))
    if at != len(payload):
        raise bad("trailing bytes")
    return out


def _tensor(entry, data):
    dtype = _TORCH_DTYPE.get(entry.dtype)
    if dtype is None:
        raise FormatError(f"a {entry.dtype} tensor has no torch dtype in this torch version")
    if len(data) == 0:
        return torch.empty(entry.shape, dtype=dtype)
    return torch.frombuffer(data, dtype=dtype).reshape(entry.shape)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def inspect_protected(path):
    """The public header of a protected model (no key needed), as a dict."""
    tensors, metadata = _safetensors.parse(_read(path), os.fspath(path))
    header = parse_header(metadata)
    _check_layers(header, tensors)
    return header


def load_protected(path, token, tier=None, expected_signer=None):
    """A state dict of the protected model at ``path`` with tier ``tier`` (default: the token's) restored.

    ``token`` is a tier token (``nnlock1-t<m>-...``; ``read_key_file`` reads one from a key file).
    Everything is checked before anything is restored, and nothing is written to disk. Raises
    WrongKeyError (the token is not this model's), TierTooHighError (the token's tier is below
    ``tier``), TamperedError (the published weights or a sealed section were modified),
    FormatError / UnsupportedVersionError (not a protected model of a version this reads),
    MalformedTokenError (the token does not parse). Version 2 and 3 files (FORMAT-v2.md, FORMAT-v3.md) must carry a valid
    owner's signature; the signer a token carries, or ``expected_signer`` ("ed25519:<64 hex>"), is
    pinned: a model signed by anyone else, or unsigned, raises TamperedError. The result loads with
    ``model.load_state_dict(state, strict=True)``; at the top tier it is bit-identical to the
    original weights, below it the kernels of the higher tiers still hold decoys.
    """
    if sys.byteorder != "little":
        raise NotImplementedError("nnlock_torch assumes a little-endian machine")
    tensors, metadata = _safetensors.parse(_read(path), os.fspath(path))
    header = parse_header(metadata)
    _check_layers(header, tensors)
    signed = _check_signature(header, metadata) if header["version"] in SIGNED_VERSIONS else None
    model_id = bytes.fromhex(header["modelId"])
    key_tier, key, token_signer = decode_token_with_signer(token)
    check_key(key, key_tier, model_id, header["keyChecks"])
    pins = [p for p in (token_signer, None if expected_signer is None else bytes.fromhex(expected_signer.strip().lower().removeprefix("ed25519:"))) if p is not None]
    _check_pins(header, pins)
    m = key_tier if tier is None else tier
    tiers = header["tiers"]
    if not isinstance(m, int) or isinstance(m, bool) or not 0 <= m <= tiers:
        raise ValueError(f"tier {m!r} does not exist: this model has tiers 0..{tiers}")
    if m > key_tier:
        raise TierTooHighError(f"a tier-{key_tier} key cannot unlock tier {m}: keys unlock their own tier and the tiers below")
    digest = weights_digest(tensors)
    if digest.hex() != header["weightsDigest"]:
        raise TamperedError("the protected weights were modified: their digest differs from the one recorded when the model was protected")

    layers = {}
    for layer in header["layers"]:
        a, b, kh, kw = layer["shape"]
        layers[layer["name"]] = (a * b, kh * kw * _safetensors.DTYPE_SIZE[layer["dtype"]])
    kernel_bytes = {name: kb for name, (_, kb) in layers.items()}
    restored, seen = {}, {}
    for j in range(1, m + 1):
        sealed = _read_section(header, tensors, metadata, j)
        if signed is not None and hashlib.sha256(sealed).hexdigest() != signed[1][j - 1]:
            raise TamperedError(f"the sealed section of tier {j} is not the one the owner signed: the file was modified")
        aad = signed_section_aad(model_id, j, signed[0]) if signed is not None else section_aad(model_id, j, digest)
        try:
            payload = AESGCM(section_key(tier_key(key, key_tier, j, model_id), model_id, j)).decrypt(
                sealed[:12], sealed[12:], aad)
        except InvalidTag:
            raise TamperedError(f"the sealed section of tier {j} failed authentication: the file was modified") from None
        for name, indices, values in _decode_payload(memoryview(payload), kernel_bytes, j):
            kernels, kb = layers[name]
            data = restored.get(name)
            if data is None:
                data = restored[name] = bytearray(tensors[name].data)
                seen[name] = set()
            done = seen[name]
            for i, kernel in enumerate(indices):
                if not 0 <= kernel < kernels or kernel in done:
                    raise _malformed(f"tier {j} restores kernel {kernel} of {name} {'twice' if kernel in done else 'out of range'}")
                done.add(kernel)
                data[kernel * kb:(kernel + 1) * kb] = values[i * kb:(i + 1) * kb]
    return {name: _tensor(e, restored[name] if name in restored else bytearray(e.data))
            for name, e in tensors.items() if not name.startswith(RESERVED_PREFIX)}


def derive_key(token, tier, model):
    """The token of ``tier`` from a token of a higher (or the same) tier, down the one-way chain.

    The chain is salted by the model's id, so ``model`` is needed: the protected file's path (the
    token is then checked against it: WrongKeyError) or its 32-hex ``modelId``. A token never gives
    a higher tier (TierTooHighError).
    """
    if isinstance(model, str) and _HEX[32].match(model):
        model_id, checks, signer = bytes.fromhex(model), None, None
    else:
        header = inspect_protected(model)
        model_id, checks = bytes.fromhex(header["modelId"]), header["keyChecks"]
        signer = bytes.fromhex(header["signer"][8:]) if "signer" in header else None
    key_tier, key, token_signer = decode_token_with_signer(token)
    signer = signer or token_signer
    if checks is not None:
        check_key(key, key_tier, model_id, checks)
    if not isinstance(tier, int) or isinstance(tier, bool) or tier < 1:
        raise ValueError(f"tier must be an integer >= 1, got {tier!r}")
    return encode_token(tier, tier_key(key, key_tier, tier, model_id), signer)


__all__ = ["load_protected", "derive_key", "inspect_protected", "weights_digest"]
