"""The block cipher of nnlock (docs/FORMAT.md §3): key files, key derivation, image encryption.

``read_cipher_key`` rebuilds a key from an nnlock key file and checks its fingerprint, so the
matrices are bit-identical to nnlock's (for every kind: the orthogonal kind's normal draws use
fdlibm's log/sin/cos, as nnlock does). ``encrypt_images`` / ``decrypt_images`` work on numpy arrays
or torch tensors ``[N, C, H, W]``: hill256 is exact integer arithmetic (bit-identical to nnlock);
the real kinds agree with nnlock within float rounding.
"""
import hashlib
import json
import math
import os
import re
import stat

import numpy as np

from ._stream import KeyedStream
from .errors import CipherKeyError, UnsupportedVersionError
from .keys import hkdf

KINDS = ("uniform", "orthogonal", "hill256")
FORMAT_NAME = "nnlock-cipher-key"
SUPPORTED_VERSIONS = (1,)
MAX_BLOCK_SIZE = 16
MAX_CHANNELS = 16
MAX_MAX_CONDITION = 1e15
ORTHOGONAL_MIN_CONDITION = 1 + 1e-6
ORTHOGONAL_TOLERANCE = 1e-9
MAX_KEY_FILE_BYTES = 64 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class CipherKey:
    """A block-cipher key: per channel an n×n matrix K (n = k²) and its inverse, and the shuffle key.

    Never printed: ``repr`` shows only public facts (kind, sizes, key id).
    """

    def __init__(self, kind, k, channels, shuffle, max_condition, matrices, inverses, shuffle_key, fingerprint):
        self.kind, self.k, self.channels, self.shuffle = kind, k, channels, shuffle
        self.max_condition = max_condition
        self.matrices = matrices  # float64 [C, n, n]
        self.inverses = inverses  # float64 [C, n, n] (hill256: integers 0..255, the inverse mod 256)
        self._shuffle_key = shuffle_key
        self.fingerprint = fingerprint

    @property
    def key_id(self):
        return self.fingerprint[:16]

    def __repr__(self):
        return f"CipherKey({self.kind}, k={self.k}, channels={self.channels}, shuffle={self.shuffle}, id {self.key_id})"

    def permutation(self, gh, gw):
        """perm of a gh×gw grid: ciphertext block position p holds plaintext block perm[p]; None unshuffled."""
        if not self.shuffle:
            return None
        return np.array(KeyedStream(self._shuffle_key, f"hill-cipher/shuffle/grid={gh}x{gw}").permutation(gh * gw), dtype=np.int64)


def fingerprint(kind, k, channels, shuffle, matrices, shuffle_key):
    h = hashlib.sha256(f"nnlock-cipher-key v1\0{kind}\0{k}\0{channels}\0{1 if shuffle else 0}\0".encode())
    for m in matrices:
        h.update(np.ascontiguousarray(m, dtype="<f8").tobytes())
    if shuffle:
        h.update(shuffle_key)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Candidate matrices and their checks (FORMAT.md §3.3)

def _householder_orthogonal(a, n):
    """Q·diag(sign(R_kk)) of the Householder QR of a (row-major), in FORMAT.md's exact order.

    Vectorised across columns only: every sum still runs over i in order, one rounding per
    multiplication and per addition (numpy's elementwise ops, no fused multiply-add), so the
    result has the same bits as the scalar loops of the specification.
    """
    r = np.array(a, dtype=np.float64).reshape(n, n)
    vs, signs = [], np.empty(n)
    for k in range(n):
        norm2 = 0.0
        for i in range(k, n):
            norm2 += float(r[i, k]) * float(r[i, k])
        norm = math.sqrt(norm2)
        if norm == 0:
            return None
        x0 = float(r[k, k])
        alpha = -norm if x0 >= 0 else norm
        v = np.zeros(n)
        v[k] = x0 - alpha
        v[k + 1:] = r[k + 1:, k]
        vv = 0.0
        for i in range(k, n):
            vv += float(v[i]) * float(v[i])
        if vv > 0:
            d = np.zeros(n - k)
            for i in range(k, n):
                d += v[i] * r[i, k:]
            f = (2 * d) / vv
            r[k:, k:] -= v[k:, None] * f[None, :]
        vs.append((v, vv))
        signs[k] = 1.0 if r[k, k] >= 0 else -1.0
    q = np.eye(n)
    for k in range(n - 1, -1, -1):
        v, vv = vs[k]
        if vv == 0:
            continue
        d = np.zeros(n)
        for i in range(k, n):
            d += v[i] * q[i, :]
        f = (2 * d) / vv
        q[k:, :] -= v[k:, None] * f[None, :]
    return (q * signs[None, :]).reshape(-1).tolist()


def _odd_determinant(m):
    """Whether det(m) is odd: Gaussian elimination over GF(2), rows as Python ints."""
    n = m.shape[0]
    rows = [int("".join("1" if v & 1 else "0" for v in reversed(row.tolist())), 2) for row in m.astype(np.int64)]
    for col in range(n):
        bit = 1 << col
        piv = next((r for r in range(col, n) if rows[r] & bit), -1)
        if piv < 0:
            return False
        rows[col], rows[piv] = rows[piv], rows[col]
        for r in range(col + 1, n):
            if rows[r] & bit:
                rows[r] ^= rows[col]
    return True


def _inverse_mod256(m):
    """K⁻¹ mod 256 by Gauss–Jordan elimination with odd pivots (m must have an odd determinant)."""
    n = m.shape[0]
    w = m.astype(np.int64) % 256
    inv = np.eye(n, dtype=np.int64)
    for col in range(n):
        piv = next(r for r in range(col, n) if w[r, col] & 1)
        w[[col, piv]] = w[[piv, col]]
        inv[[col, piv]] = inv[[piv, col]]
        p = pow(int(w[col, col]), -1, 256)
        w[col] = (w[col] * p) % 256
        inv[col] = (inv[col] * p) % 256
        f = w[:, col].copy()
        f[col] = 0
        w = (w - np.outer(f, w[col])) % 256
        inv = (inv - np.outer(f, inv[col])) % 256
    return inv.astype(np.float64)


def _condition(m):
    s = np.linalg.svd(m, compute_uv=False)
    return math.inf if s[-1] == 0 else float(s[0] / s[-1])


def _check(kind, m, max_condition):
    """(inverse, None) for a usable matrix, else (None, why)."""
    if not np.all(np.isfinite(m)):
        return None, "an entry is not finite"
    if kind == "hill256":
        if not np.all((m == np.round(m)) & (m >= 0) & (m <= 255)):
            return None, "a hill256 matrix holds integers 0..255"
        if not _odd_determinant(m):
            return None, "singular mod 256: the determinant is even"
        return _inverse_mod256(m), None
    cond = _condition(m)
    if not cond <= max_condition:
        return None, f"ill-conditioned: condition number {cond:.4g} exceeds the limit {max_condition}"
    if kind == "orthogonal":
        err = float(np.max(np.abs(m.T @ m - np.eye(m.shape[0]))))
        if err > ORTHOGONAL_TOLERANCE:
            return None, f"not orthogonal: max |KᵀK − I| = {err:.2e}"
    return np.linalg.inv(m), None


def max_attempts(kind, k):
    n = k * k
    if kind == "hill256":
        return 64
    if kind == "orthogonal":
        return 8
    return 1000 if n <= 16 else 250 if n <= 64 else 64


def _candidate(kind, stream, n):
    if kind == "uniform":
        return 2 * stream.uniform(n * n) - 1
    if kind == "orthogonal":
        return _householder_orthogonal(stream.normal(n * n), n)
    return stream.randint(n * n, 256).astype(np.float64)


def derive_cipher_key(secret, kind, k, channels=3, shuffle=False, max_condition=500):
    """The key nnlock derives from a 32-byte secret (FORMAT.md §3.3)."""
    _check_sizes(kind, k, channels, max_condition, derive=True)
    secret = bytes(secret)
    if len(secret) != 32:
        raise CipherKeyError("the secret must be 32 bytes (256 bits)")
    matrix_key = hkdf(secret, b"nnlock-cipher", b"hill-cipher matrices v1")
    shuffle_key = hkdf(secret, b"nnlock-cipher", b"hill-cipher shuffle v1") if shuffle else None
    n = k * k
    matrices, inverses = [], []
    for c in range(channels):
        why = ""
        for attempt in range(max_attempts(kind, k)):
            stream = KeyedStream(matrix_key, f"hill-cipher/{kind}/k={k}/channel={c}/attempt={attempt}")
            cand = _candidate(kind, stream, n)
            if cand is None:
                continue
            m = np.array(cand, dtype=np.float64).reshape(n, n)
            inv, why = _check(kind, m, max_condition)
            if inv is not None:
                matrices.append(m)
                inverses.append(inv)
                break
        else:
            raise CipherKeyError(f"no usable {kind} matrix for channel {c} (last: {why})")
    fp = fingerprint(kind, k, channels, shuffle, matrices, shuffle_key)
    return CipherKey(kind, k, channels, shuffle, max_condition, np.stack(matrices), np.stack(inverses), shuffle_key, fp)


def _check_sizes(kind, k, channels, max_condition, derive):
    if kind not in KINDS:
        raise CipherKeyError(f"unknown key kind {kind!r} (expected {', '.join(KINDS)})")
    for name, v, hi in (("k", k, MAX_BLOCK_SIZE), ("channels", channels, MAX_CHANNELS)):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= hi:
            raise CipherKeyError(f'"{name}" must be an integer in 1..{hi}, got {v!r}')
    if isinstance(max_condition, bool) or not isinstance(max_condition, (int, float)) or not max_condition >= 1:
        raise CipherKeyError(f'"maxCondition" must be a number >= 1, got {max_condition!r}')
    if derive:
        floor = max(1, k * k / 2) if kind == "uniform" else ORTHOGONAL_MIN_CONDITION if kind == "orthogonal" else 1
        if not floor <= max_condition <= MAX_MAX_CONDITION:
            raise CipherKeyError(f'"maxCondition" {max_condition} cannot be met by a {kind} key with k={k} (it must lie in {floor}..{MAX_MAX_CONDITION:g})')


def parse_cipher_key(text, where="(key)"):
    """A CipherKey from the JSON text of an nnlock cipher key file (FORMAT.md §3.2)."""
    def corrupt(why):
        return CipherKeyError(f"corrupt key file {where}: {why}")

    try:
        o = json.loads(text)
    except ValueError as e:
        raise corrupt(f"not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(o, dict):
        raise corrupt("expected a JSON object")
    if o.get("format") != FORMAT_NAME:
        raise corrupt(f'not an nnlock cipher key (format is {json.dumps(o.get("format"))}, expected "{FORMAT_NAME}")')
    if o.get("version") not in SUPPORTED_VERSIONS or isinstance(o.get("version"), bool):
        raise UnsupportedVersionError(f"{where}: cipher key file version {json.dumps(o.get('version'))} is not supported: this nnlock_torch reads version 1")
    kind, k, channels, shuffle, max_condition = o.get("kind"), o.get("k"), o.get("channels"), o.get("shuffle"), o.get("maxCondition")
    if not isinstance(shuffle, bool):
        raise corrupt(f'"shuffle" must be true or false, got {json.dumps(shuffle)}')
    has_secret, has_matrices = "secret" in o, "matrices" in o
    if has_secret == has_matrices:
        raise corrupt('give exactly one of "secret" and "matrices"')
    try:
        _check_sizes(kind, k, channels, max_condition, derive=has_secret)
    except CipherKeyError as e:
        raise corrupt(str(e)) from None
    fp = o.get("fingerprint")
    if not isinstance(fp, str) or not re.match(r"^[0-9a-f]{64}$", fp):
        raise corrupt('"fingerprint" must be 64 hex digits')
    if has_secret:
        secret = o["secret"]
        if not isinstance(secret, str) or not _HEX64.match(secret.strip()):
            raise corrupt('"secret" must be 64 hex digits')
        key = derive_cipher_key(bytes.fromhex(secret.strip()), kind, k, channels, shuffle, max_condition)
    else:
        ms = o["matrices"]
        n = k * k
        if not isinstance(ms, list) or len(ms) != channels:
            raise corrupt(f'"matrices" must list {channels} matrices')
        for c, m in enumerate(ms):
            if not isinstance(m, list) or len(m) != n * n or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in m):
                raise corrupt(f'"matrices"[{c}] must be {n * n} numbers (k²×k² for k={k})')
        sk = o.get("shuffleKey")
        if shuffle and (not isinstance(sk, str) or not _HEX64.match(sk.strip())):
            raise corrupt('"shuffle" is true but "shuffleKey" is not 64 hex digits')
        if not shuffle and sk is not None:
            raise corrupt('"shuffleKey" is given but "shuffle" is false')
        shuffle_key = bytes.fromhex(sk.strip()) if shuffle else None
        matrices, inverses = [], []
        for c, m in enumerate(ms):
            mm = np.array(m, dtype=np.float64).reshape(n, n)
            inv, why = _check(kind, mm, max_condition)
            if inv is None:
                raise corrupt(f"channel {c}: bad {kind} key matrix: {why}")
            matrices.append(mm)
            inverses.append(inv)
        key = CipherKey(kind, k, channels, shuffle, max_condition, np.stack(matrices), np.stack(inverses), shuffle_key,
                        fingerprint(kind, k, channels, shuffle, matrices, shuffle_key))
    if key.fingerprint != fp:
        raise corrupt("fingerprint mismatch: the key material does not match the stored fingerprint (the file was edited or damaged)")
    return key


def read_cipher_key(path):
    """A CipherKey from an nnlock cipher key file (a regular file of at most 64 MB)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise CipherKeyError(f"{path}: a key file must be a regular file")
    if st.st_size > MAX_KEY_FILE_BYTES:
        raise CipherKeyError(f"{path}: a key file has at most {MAX_KEY_FILE_BYTES} bytes")
    with open(path, "rb") as f:
        text = f.read(MAX_KEY_FILE_BYTES + 1).decode("utf-8")
    return parse_cipher_key(text, os.fspath(path))


# ---------------------------------------------------------------------------------------------
# Encryption (FORMAT.md §3.4)

def _as_key(key):
    return key if isinstance(key, CipherKey) else read_cipher_key(key)


def _to_numpy(x):
    """(array, back): back(result) gives the caller's type (a torch tensor on its device, or numpy)."""
    try:
        import torch
    except ImportError:  # numpy only
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        device = x.device
        return x.detach().cpu().numpy(), lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)
    return np.asarray(x), lambda a: a


def _apply(x, key, direction):
    key = _as_key(key)
    a, back = _to_numpy(x)
    if a.ndim != 4:
        raise CipherKeyError(f"{direction}: expected images [N, C, H, W], got shape {list(a.shape)}")
    n_img, c, h, w = a.shape
    k = key.k
    if c != key.channels:
        raise CipherKeyError(f"the key has {key.channels} channel matrices but the images have {c} channels")
    if h % k or w % k:
        raise CipherKeyError(f"image size {h}×{w} is not a multiple of the block size k={k}")
    gh, gw = h // k, w // k
    hill = key.kind == "hill256"
    if hill:
        if a.dtype == np.bool_ or a.size and (a.min() < 0 or a.max() > 255 or not np.array_equal(np.round(a), a)):
            raise CipherKeyError(f"{direction}: a hill256 key works on byte values 0..255 (pixels in [0, 1]? multiply by 255 and round first)")
        work = a.astype(np.int64)
    elif a.dtype in (np.float32, np.float64):
        work = a.astype(np.float64)
    else:
        raise CipherKeyError(f"{direction}: a {key.kind} key works on float32 or float64 images, got {a.dtype}")
    # [N, C, gh, k, gw, k] -> [N, C, gh·gw, k²]: row vectors of blocks, position p = i·gw + j.
    blocks = work.reshape(n_img, c, gh, k, gw, k).transpose(0, 1, 2, 4, 3, 5).reshape(n_img, c, gh * gw, k * k)
    mats = (key.matrices if direction == "encrypt" else key.inverses).astype(np.int64 if hill else np.float64)
    z = np.einsum("ncbi,cij->ncbj", blocks, mats)
    if hill:
        z %= 256
    perm = key.permutation(gh, gw)
    if perm is not None:
        if direction == "encrypt":
            z = z[:, :, perm]
        else:
            out = np.empty_like(z)
            out[:, :, perm] = z
            z = out
    y = z.reshape(n_img, c, gh, gw, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n_img, c, h, w)
    return back(y.astype(a.dtype))


def encrypt_images(x, key):
    """Encrypts images [N, C, H, W] (numpy or torch) with a CipherKey or a key file's path."""
    return _apply(x, key, "encrypt")


def decrypt_images(y, key):
    """Decrypts what encrypt_images (or nnlock) encrypted with the same key."""
    return _apply(y, key, "decrypt")
