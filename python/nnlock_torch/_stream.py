"""The keyed stream of docs/FORMAT.md §3.1: ChaCha20 keystream draws, bit-identical to nnlock's."""
import hashlib
import math
import struct

import numpy as np

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from . import _fdlibm

_TWO_32 = 2 ** 32
_TWO_PI = 2 * 3.141592653589793  # (2·π) as nnlock computes it: 2 * Math.PI, before the product


class KeyedStream:
    def __init__(self, key, label):
        nonce = hashlib.sha256(b"nnlock stream nonce v1\0" + label.encode("utf-8")).digest()[:12]
        # cryptography's ChaCha20 takes counter (4 bytes, little-endian) || nonce (12 bytes).
        self._enc = Cipher(algorithms.ChaCha20(bytes(key), b"\0\0\0\0" + nonce), mode=None).encryptor()
        self._buf = b""
        self._pos = 0

    def bytes(self, n):
        if self._pos + n > len(self._buf):
            rest = self._buf[self._pos:]
            self._buf = rest + self._enc.update(bytes(max(n - len(rest), 16384)))
            self._pos = 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def uint32s(self, n):
        return struct.unpack(f"<{n}I", self.bytes(4 * n))

    def uniform(self, n):
        # a·2^26 + b < 2^53 is exact in int64 and in float64, and so is the division by 2^53.
        w = np.frombuffer(self.bytes(8 * n), dtype="<u4").astype(np.int64)
        return (((w[0::2] >> 5) << 26) + (w[1::2] >> 6)).astype(np.float64) / 9007199254740992.0

    def normal(self, n):
        u = self.uniform(n + (n & 1)).tolist()
        out = []
        for i in range(0, n, 2):
            u1 = 1 - u[i]
            u2 = u[i + 1]
            r = math.sqrt(-2 * _fdlibm.log(u1))
            theta = _TWO_PI * u2
            out.append(r * _fdlibm.cos(theta))
            if i + 1 < n:
                out.append(r * _fdlibm.sin(theta))
        return out

    def randint(self, n, max_exclusive):
        """n draws of int(max_exclusive); a power of two never rejects, so it takes one word each."""
        if _TWO_32 % max_exclusive == 0:
            return (np.frombuffer(self.bytes(4 * n), dtype="<u4").astype(np.int64) % max_exclusive)
        return np.array([self.int(max_exclusive) for _ in range(n)], dtype=np.int64)

    def int(self, max_exclusive):
        if max_exclusive == _TWO_32:
            return self.uint32s(1)[0]
        limit = _TWO_32 - (_TWO_32 % max_exclusive)
        while True:
            x = self.uint32s(1)[0]
            if x < limit:
                return x % max_exclusive

    def permutation(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.int(i + 1)
            p[i], p[j] = p[j], p[i]
        return p
