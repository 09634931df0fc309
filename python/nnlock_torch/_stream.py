"""The keyed stream of docs/FORMAT.md §3.1: ChaCha20 keystream draws, bit-identical to nnlock's."""
import hashlib
import math
import struct

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
        w = self.uint32s(2 * n)
        return [((w[2 * i] >> 5) * 67108864 + (w[2 * i + 1] >> 6)) / 9007199254740992.0 for i in range(n)]

    def normal(self, n):
        u = self.uniform(n + (n & 1))
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
