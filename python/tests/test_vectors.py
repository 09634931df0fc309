"""nnlock_torch against the committed vectors of test/vectors/ (made by nnlock: scripts/make-vectors.ts).

Run from the repository root: PYTHONPATH=python /usr/bin/python3 -m unittest discover -s python/tests
"""
import hashlib
import json
import os
import sys
import unittest

import numpy as np
import torch

import nnlock_torch as nt
from nnlock_torch import _stream, keys
from nnlock_torch.protected import weights_digest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(ROOT, "test", "vectors")


def load(path):
    with open(os.path.join(VECTORS, path), encoding="utf-8") as f:
        return json.load(f)


def sha256_of(t):
    return hashlib.sha256(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"").hexdigest()


class TierKeys(unittest.TestCase):
    v = load("tier-keys.json")

    def test_chain_keys_checks_and_tokens(self):
        for chain in self.v["chains"]:
            model_id = bytes.fromhex(chain["modelId"])
            top, key = keys.decode_token(chain["master"])
            self.assertEqual(top, chain["tiers"])
            for level in chain["levels"]:
                k = keys.tier_key(key, top, level["tier"], model_id)
                self.assertEqual(k.hex(), level["key"])
                self.assertEqual(keys.encode_token(level["tier"], k), level["token"])
                self.assertEqual(keys.key_check(k, model_id, level["tier"]), level["keyCheck"])
                self.assertEqual(keys.section_key(k, model_id, level["tier"]).hex(), level["sectionKey"])
                # derive_key from the master, by model id
                self.assertEqual(nt.derive_key(chain["master"], level["tier"], chain["modelId"]), level["token"])

    def test_chain_never_goes_up(self):
        chain = self.v["chains"][0]
        with self.assertRaises(nt.TierTooHighError):
            nt.derive_key(chain["levels"][0]["token"], 2, chain["modelId"])

    def test_malformed_tokens_are_refused_without_echo(self):
        for case in self.v["malformedTokens"]:
            with self.assertRaises(nt.MalformedTokenError, msg=case["why"]) as cm:
                keys.decode_token(case["token"])
            self.assertNotIn(case["token"][8:], str(cm.exception))

    def test_key_file_text(self):
        self.assertEqual(keys.highest_token(self.v["keyFile"]["text"]), self.v["keyFile"]["highest"])
        lines = self.v["keyFile"]["text"].replace("tier 2:", "tier 1:")
        with self.assertRaises(nt.MalformedTokenError):
            keys.highest_token(lines)


class ProtectedModel(unittest.TestCase):
    """The format version 1 vector (nnlock 0.2: the sections as base64 metadata)."""
    v = load("protect/vgg-tiny.json")
    version = 1
    path = os.path.join(VECTORS, "protect", v["file"])

    def test_every_tier_matches_nnlock_bit_for_bit(self):
        for expected in self.v["unlocked"]:
            state = nt.load_protected(self.path, self.v["tokens"][-1], tier=expected["tier"])
            self.assertEqual({n: sha256_of(t) for n, t in state.items()}, expected["sha256"], f"tier {expected['tier']}")
        self.assertEqual(self.v["unlocked"][-1]["sha256"], self.v["original"])

    def test_each_tier_token_unlocks_its_own_tier_by_default(self):
        for tier, token in enumerate(self.v["tokens"], start=1):
            state = nt.load_protected(self.path, token)
            self.assertEqual({n: sha256_of(t) for n, t in state.items()}, self.v["unlocked"][tier]["sha256"])

    def test_header_and_digest(self):
        h = nt.inspect_protected(self.path)
        self.assertEqual((h["modelId"], h["tiers"], h["architecture"], h["version"]), (self.v["modelId"], 3, self.v["architecture"], self.version))
        from nnlock_torch import _safetensors
        with open(self.path, "rb") as f:
            tensors, _ = _safetensors.parse(f.read(), "vector")
        self.assertEqual(weights_digest(tensors).hex(), h["weightsDigest"])


class ProtectedModelV3(ProtectedModel):
    """The format version 3 vector (the sections as U8 tensors __nnlock__/tier-<m>, FORMAT-v3.md)."""
    v = load("protect/vgg-tiny-v3.json")
    version = 3
    path = os.path.join(VECTORS, "protect", v["file"])

    def test_sections_are_reserved_tensors_left_out_of_the_state_dict(self):
        from nnlock_torch import _safetensors
        with open(self.path, "rb") as f:
            tensors, metadata = _safetensors.parse(f.read(), "vector")
        self.assertEqual(sorted(n for n in tensors if n.startswith("__nnlock__/")), [f"__nnlock__/tier-{m}" for m in (1, 2, 3)])
        self.assertFalse(any(k.startswith("nnlock.tier.") for k in metadata))
        state = nt.load_protected(self.path, self.v["tokens"][-1])
        self.assertFalse(any(n.startswith("__nnlock__/") for n in state))


class CipherVectors(unittest.TestCase):
    v = load("cipher/cipher.json")

    def test_keys_rebuild_bit_for_bit(self):
        for case in self.v["cases"]:
            key = nt.read_cipher_key(os.path.join(VECTORS, "cipher", case["keyFile"]))
            self.assertEqual(key.fingerprint, case["fingerprint"], case["name"])
            if case["matrices"] is not None:
                self.assertTrue(np.array_equal(key.matrices.reshape(case["channels"], -1), np.array(case["matrices"])), case["name"])
            grid = case["shape"][2] // case["k"]
            perm = key.permutation(grid, grid)
            self.assertEqual(None if perm is None else perm.tolist(), case["permutation"], case["name"])

    def test_image_pairs(self):
        for case in self.v["cases"]:
            key = nt.read_cipher_key(os.path.join(VECTORS, "cipher", case["keyFile"]))
            x = np.array(case["plaintext"], dtype=np.float64).reshape(case["shape"])
            y = np.array(case["ciphertext"], dtype=np.float64).reshape(case["shape"])
            if case["kind"] == "hill256":
                self.assertTrue(np.array_equal(nt.encrypt_images(x, key), y), case["name"])
                self.assertTrue(np.array_equal(nt.decrypt_images(y, key), x), case["name"])
                # bytes in, bytes out, as torch tensors too
                xt = torch.from_numpy(x.astype(np.uint8))
                yt = nt.encrypt_images(xt, key)
                self.assertEqual(yt.dtype, torch.uint8)
                self.assertTrue(torch.equal(yt, torch.from_numpy(y.astype(np.uint8))), case["name"])
            else:
                self.assertLess(np.abs(nt.encrypt_images(x, key) - y).max(), 1e-12, case["name"])
                self.assertLess(np.abs(nt.decrypt_images(y, key) - x).max(), 1e-12, case["name"])
                y32 = nt.encrypt_images(torch.from_numpy(x.astype(np.float32)), key)
                self.assertEqual(y32.dtype, torch.float32)
                self.assertLess(float((y32.double() - torch.from_numpy(y)).abs().max()), 1e-5, case["name"])


class Fdlibm(unittest.TestCase):
    def test_normal_draws_match_the_stream_spec(self):
        # Box–Muller of FORMAT.md §3.1 on a fixed stream; the matrices vectors pin the bits, this
        # pins the algorithm's edge: an odd count draws both uniforms of its last pair.
        s1 = _stream.KeyedStream(bytes(32), "x")
        s2 = _stream.KeyedStream(bytes(32), "x")
        s1.normal(3)
        s2.uniform(4)
        self.assertEqual(s1.uint32s(1), s2.uint32s(1))


if __name__ == "__main__":
    sys.exit(unittest.main())
