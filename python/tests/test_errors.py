"""nnlock_torch refuses what it must (docs/FORMAT.md §1.7, §2, §3.2), says why, and never shows a key.

Variants of the committed protected vector are written to a temporary folder by the test itself.
Run from the repository root: PYTHONPATH=python /usr/bin/python3 -m unittest discover -s python/tests
"""
import base64
import json
import os
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch

import nnlock_torch as nt
from nnlock_torch import keys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(ROOT, "test", "vectors")
with open(os.path.join(VECTORS, "protect", "vgg-tiny.json"), encoding="utf-8") as f:
    V = json.load(f)
PROTECTED = os.path.join(VECTORS, "protect", V["file"])
MASTER = V["tokens"][-1]


def split_file(path):
    """(header dict, data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), bytearray(blob[8 + n:])


def write_file(path, header, data):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(data))


class Variants(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.header, self.data = split_file(PROTECTED)
        self.public = json.loads(self.header["__metadata__"]["nnlock.protect"])

    def tearDown(self):
        self.dir.cleanup()

    def variant(self, name):
        path = os.path.join(self.dir.name, name)
        write_file(path, self.header, self.data)
        return path

    def assertRaisesWithout(self, error, path, token=MASTER, tier=None, pattern=None):
        with self.assertRaises(error) as cm:
            nt.load_protected(path, token, tier)
        message = str(cm.exception)
        self.assertNotIn(token.strip()[10:40], message, "the message shows the token")
        if pattern:
            self.assertRegex(message, pattern)

    def test_unchanged_copy_loads(self):
        state = nt.load_protected(self.variant("same.safetensors"), MASTER)
        self.assertEqual(len(state), len(V["original"]))

    def test_modified_sealed_section(self):
        meta = self.header["__metadata__"]
        sealed = bytearray(base64.b64decode(meta["nnlock.tier.2"]))
        sealed[-1] ^= 1  # the tag
        meta["nnlock.tier.2"] = base64.b64encode(bytes(sealed)).decode()
        path = self.variant("section.safetensors")
        self.assertRaisesWithout(nt.TamperedError, path, pattern="tier 2 failed authentication")
        # tier 1 alone does not need section 2
        nt.load_protected(path, MASTER, tier=1)

    def test_modified_decoy(self):
        layer = self.public["layers"][0]["name"]
        begin, _ = self.header[layer]["data_offsets"]
        self.data[begin] ^= 0x80
        self.assertRaisesWithout(nt.TamperedError, self.variant("decoy.safetensors"), token=V["tokens"][0], pattern="weights were modified")

    def test_swapped_recorded_digest(self):
        self.public["weightsDigest"] = "0" * 64
        self.header["__metadata__"]["nnlock.protect"] = json.dumps(self.public)
        self.assertRaisesWithout(nt.TamperedError, self.variant("digest.safetensors"))

    def test_unknown_version_is_named(self):
        self.public["version"] = 4
        self.header["__metadata__"]["nnlock.protect"] = json.dumps(self.public)
        self.assertRaisesWithout(nt.UnsupportedVersionError, self.variant("v4.safetensors"), pattern=r"version 4.*reads version 1, 2, 3")

    def test_version_2_without_signature_is_refused(self):
        # A version 1 file relabelled as signed: no signer, then a signer but no signature.
        self.public["version"] = 2
        self.header["__metadata__"]["nnlock.protect"] = json.dumps(self.public)
        self.assertRaisesWithout(nt.FormatError, self.variant("v2-nosigner.safetensors"), pattern="signer must be")
        self.public["signer"] = "ed25519:" + "ab" * 32
        self.header["__metadata__"]["nnlock.protect"] = json.dumps(self.public)
        self.assertRaisesWithout(nt.FormatError, self.variant("v2-nosig.safetensors"), pattern="owner's signature")

    def test_not_protected(self):
        del self.header["__metadata__"]["nnlock.protect"]
        self.assertRaisesWithout(nt.FormatError, self.variant("plain.safetensors"), pattern="not a protected model")

    def test_truncated_file(self):
        path = self.variant("cut.safetensors")
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 10)
        self.assertRaisesWithout(nt.FormatError, path, pattern="safetensors")

    def test_keys(self):
        path = self.variant("k.safetensors")
        self.assertRaisesWithout(nt.TierTooHighError, path, token=V["tokens"][0], tier=2, pattern="tier-1 key cannot unlock tier 2")
        self.assertRaisesWithout(nt.TierTooHighError, path, token=V["tokens"][1], tier=3)
        other = keys.encode_token(3, os.urandom(32))  # a tier-3 key of another model
        self.assertRaisesWithout(nt.WrongKeyError, path, token=other, pattern="wrong key")
        self.assertRaisesWithout(nt.MalformedTokenError, path, token=MASTER[:-2], pattern="malformed key token")
        with self.assertRaises(ValueError):
            nt.load_protected(path, MASTER, tier=4)

    def test_derive_key_checks_the_file(self):
        self.assertEqual(nt.derive_key(MASTER, 1, PROTECTED), V["tokens"][0])
        with self.assertRaises(nt.WrongKeyError):
            nt.derive_key(keys.encode_token(3, os.urandom(32)), 1, PROTECTED)


class KeyFiles(unittest.TestCase):
    def test_read_key_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "k.keys")
            with open(path, "w") as f:
                f.write(f"# comment\ntier 1: {V['tokens'][0]}\ntier 3 (master): {MASTER}\n")
            self.assertEqual(nt.read_key_file(path), MASTER)
            with open(path, "w") as f:
                f.write(f"tier 2: {V['tokens'][0]}\n")
            with self.assertRaises(nt.MalformedTokenError) as cm:
                nt.read_key_file(path)
            self.assertIn("line 1 says tier 2", str(cm.exception))
            self.assertNotIn(V["tokens"][0][10:40], str(cm.exception))
            with self.assertRaises(nt.MalformedTokenError):
                nt.read_key_file(d)  # a folder is not a key file


class CipherErrors(unittest.TestCase):
    def key_text(self, name):
        with open(os.path.join(VECTORS, "cipher", name), encoding="utf-8") as f:
            return json.load(f)

    def test_edited_key_file_fails_its_fingerprint(self):
        o = self.key_text("hill256-k4.key.json")
        o["secret"] = ("0" if o["secret"][0] != "0" else "1") + o["secret"][1:]
        with self.assertRaises(nt.CipherKeyError) as cm:
            nt.parse_cipher_key(json.dumps(o))
        self.assertIn("fingerprint mismatch", str(cm.exception))
        self.assertNotIn(o["secret"], str(cm.exception))

    def test_unknown_cipher_key_version(self):
        o = self.key_text("uniform-k2.key.json")
        o["version"] = 2
        with self.assertRaises(nt.UnsupportedVersionError):
            nt.parse_cipher_key(json.dumps(o))

    def test_images_that_do_not_fit(self):
        key = nt.parse_cipher_key(json.dumps(self.key_text("hill256-k4.key.json")))
        with self.assertRaises(nt.CipherKeyError):
            nt.encrypt_images(np.zeros((1, 3, 6, 8), dtype=np.uint8), key)  # 6 is not a multiple of k = 4
        with self.assertRaises(nt.CipherKeyError):
            nt.encrypt_images(np.zeros((1, 1, 8, 8), dtype=np.uint8), key)  # 1 channel, the key has 3
        with self.assertRaises(nt.CipherKeyError):
            nt.encrypt_images(torch.rand(1, 3, 8, 8), key)  # pixels in [0, 1], not bytes
        self.assertNotIn(self.key_text("hill256-k4.key.json")["secret"], repr(key))

    def test_round_trips(self):
        for name in ("uniform-k4-shuffle.key.json", "orthogonal-k2-shuffle.key.json", "hill256-k2-shuffle.key.json"):
            key = nt.parse_cipher_key(json.dumps(self.key_text(name)))
            x = torch.randint(0, 256, (2, 3, 16, 8), dtype=torch.uint8)
            if key.kind != "hill256":
                x = x.float() / 255
            y = nt.encrypt_images(x, key)
            self.assertEqual(y.dtype, x.dtype)
            back = nt.decrypt_images(y, key)
            if key.kind == "hill256":
                self.assertTrue(torch.equal(back, x), name)
            else:
                self.assertLess(float((back - x).abs().max()), 1e-5, name)


if __name__ == "__main__":
    sys.exit(unittest.main())
