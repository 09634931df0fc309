"""Tier keys of protected models: tokens, key files and the one-way chain (docs/FORMAT.md §1.4, §2).

Keys cross this module's public functions only as tokens (``nnlock1-t<m>-...`` strings). No
message ever contains a token or key bytes.
"""
import base64
import hashlib
import hmac
import os
import re
import stat
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import MalformedTokenError, TierTooHighError, WrongKeyError

KEY_BYTES = 32
MAX_TIER = 255
MAX_KEY_FILE_BYTES = 64 * 1024
_TOKEN = re.compile(r"^nnlock1-t(0|[1-9][0-9]{0,2})-([A-Za-z0-9_-]{43})(?:-s([A-Za-z0-9_-]{43}))?-([0-9a-f]{8})$")
_KEY_LINE = re.compile(r"^(?:tier (\d+)(?: \(master\))?:\s*)?(nnlock1-\S+)$")


def hkdf(ikm, salt, info, length=KEY_BYTES):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _u32be(n):
    return struct.pack(">I", n)


def _checksum(tier, key, signer=None):
    if signer is not None:  # FORMAT-v2.md: a token of a signed model may carry the owner's public key
        return hashlib.sha256(b"nnlock signed token v2\0" + _u32be(tier) + key + signer).hexdigest()[:8]
    return hashlib.sha256(b"nnlock token v1\0" + _u32be(tier) + key).hexdigest()[:8]


def _canonical32(text):
    raw = base64.urlsafe_b64decode(text + "=")
    return raw if len(raw) == KEY_BYTES and base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text else None


def decode_token_with_signer(token):
    """(tier, key bytes, signer bytes or None) of a token; MalformedTokenError (never echoing the token) otherwise."""
    if not isinstance(token, str):
        raise MalformedTokenError("malformed key token: expected a string")
    t = token.strip()
    if not t.startswith("nnlock1-"):
        raise MalformedTokenError('malformed key token: it should start with "nnlock1-" (a key file? pass read_key_file(path))')
    m = _TOKEN.match(t)
    if not m:
        raise MalformedTokenError(
            f"malformed key token: expected nnlock1-t<tier>-<43 base64url characters>[-s<43 base64url characters>]-<8 hex characters> "
            f"(got {len(t)} characters); check that it was copied completely")
    tier = int(m.group(1))
    if tier > MAX_TIER:
        raise MalformedTokenError(f"malformed key token: tier {tier} is out of range [0, {MAX_TIER}]")
    key = _canonical32(m.group(2))
    if key is None:
        raise MalformedTokenError("malformed key token: the key part is not a valid 32-byte base64url value")
    signer = None
    if m.group(3) is not None:
        signer = _canonical32(m.group(3))
        if signer is None:
            raise MalformedTokenError("malformed key token: the signer part is not a valid 32-byte base64url value")
    if not hmac.compare_digest(_checksum(tier, key, signer), m.group(4)):
        raise MalformedTokenError("malformed key token: checksum mismatch (typo in the token?)")
    return tier, key, signer


def decode_token(token):
    """(tier, key bytes) of a token; MalformedTokenError (never echoing the token) otherwise."""
    tier, key, _ = decode_token_with_signer(token)
    return tier, key


def encode_token(tier, key, signer=None):
    if not (isinstance(tier, int) and 0 <= tier <= MAX_TIER) or len(key) != KEY_BYTES or (signer is not None and len(signer) != 32):
        raise ValueError("a token holds a tier in 0..255, a 32-byte key and optionally a 32-byte signer")
    s = "" if signer is None else f"-s{base64.urlsafe_b64encode(bytes(signer)).rstrip(b'=').decode()}"
    b = None if signer is None else bytes(signer)
    return f"nnlock1-t{tier}-{base64.urlsafe_b64encode(bytes(key)).rstrip(b'=').decode()}{s}-{_checksum(tier, bytes(key), b)}"


def highest_token(text):
    """The token of the highest tier in a key file's text (FORMAT.md §2.2)."""
    best_tier, best = -1, None
    for i, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _KEY_LINE.match(line)
        if not m:
            raise MalformedTokenError(f'malformed key file: line {i} is neither a comment nor "tier <m>: nnlock1-..."')
        try:
            tier, _ = decode_token(m.group(2))
        except MalformedTokenError as e:
            raise MalformedTokenError(f"{e} (key file line {i})") from None
        if m.group(1) is not None and int(m.group(1)) != tier:
            raise MalformedTokenError(f"malformed key file: line {i} says tier {m.group(1)} but holds a tier-{tier} key")
        if tier > best_tier:
            best_tier, best = tier, m.group(2)
    if best is None:
        raise MalformedTokenError("malformed key token: no nnlock1-... token found")
    return best


def read_key_file(path):
    """The highest-tier token of an nnlock key file (it derives every tier below)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MalformedTokenError(f"{path}: a key file must be a regular file")
        if st.st_size > MAX_KEY_FILE_BYTES:
            raise MalformedTokenError(f"{path}: a key file has at most {MAX_KEY_FILE_BYTES} bytes, this one {st.st_size}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            blob = f.read(MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedTokenError(f"{path}: a key file is UTF-8 text") from None
    return highest_token(text)


def lower_key(key, model_id):
    """One step down the chain: K_m -> K_{m-1} (FORMAT.md §1.4)."""
    return hkdf(key, model_id, b"nnlock tier-chain v1")


def tier_key(key, key_tier, tier, model_id):
    if tier > key_tier:
        raise TierTooHighError(f"a tier-{key_tier} key cannot derive the key of tier {tier}: keys only grant their own tier and lower")
    for _ in range(key_tier - tier):
        key = lower_key(key, model_id)
    return key


def section_key(key, model_id, tier):
    return hkdf(key, model_id, b"nnlock section v1\0" + _u32be(tier))


def key_check(key, model_id, tier):
    return hashlib.sha256(b"nnlock key id v1\0" + _u32be(tier) + _u32be(len(model_id)) + model_id + key).hexdigest()[:16]


def check_key(key, key_tier, model_id, key_checks):
    """Raises WrongKeyError unless the key is the tier-`key_tier` key of the model."""
    tiers = len(key_checks)
    if not 1 <= key_tier <= tiers:
        raise WrongKeyError(f"wrong key: it is a tier-{key_tier} key, but this model has tiers 1..{tiers}")
    if not hmac.compare_digest(key_check(key, model_id, key_tier), key_checks[key_tier - 1]):
        raise WrongKeyError(f"wrong key: this key does not match the tier-{key_tier} key of this model")
