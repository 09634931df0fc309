"""Mutated protected files and key texts raise nnlock_torch's own errors, never anything else.

Seeded: the same 300 mutations of the committed vector on every run.
"""
import json
import os
import random
import sys
import tempfile
import unittest

import nnlock_torch as nt
from nnlock_torch import keys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(ROOT, "test", "vectors")
with open(os.path.join(VECTORS, "protect", "vgg-tiny.json"), encoding="utf-8") as f:
    V = json.load(f)
with open(os.path.join(VECTORS, "protect", V["file"]), "rb") as f:
    BLOB = f.read()


def mutate(blob, rng):
    b = bytearray(blob)
    header_end = 8 + int.from_bytes(b[:8], "little")
    for _ in range(rng.randint(1, 4)):
        # Mostly the JSON header (where the structure is), sometimes the data or the length.
        at = rng.randrange(8, header_end) if rng.random() < 0.8 else rng.randrange(len(b))
        op = rng.random()
        if op < 0.6:
            b[at] = rng.randrange(256)
        elif op < 0.8:
            del b[at:at + rng.randint(1, 16)]
        else:
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(b)


class Fuzz(unittest.TestCase):
    def test_mutated_files_fail_cleanly(self):
        rng = random.Random(16)
        accepted = 0
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.safetensors")
            for i in range(300):
                with open(path, "wb") as f:
                    f.write(mutate(BLOB, rng))
                try:
                    state = nt.load_protected(path, V["tokens"][-1], tier=rng.randint(0, 3))
                    accepted += 1
                    self.assertEqual(len(state), len(V["original"]), f"mutation {i}")
                except (nt.NnlockError, ValueError) as e:
                    if not isinstance(e, nt.NnlockError):  # only the documented one: a tier the file lacks
                        self.assertRegex(str(e), r"^tier \d+ does not exist", f"mutation {i}")
                    self.assertNotIn(V["tokens"][-1][10:40], str(e))
                except Exception as e:  # noqa: BLE001 — the point of the test
                    self.fail(f"mutation {i}: raw {type(e).__name__}: {e}")
        self.assertLess(accepted, 300)

    def test_mutated_key_texts_fail_cleanly(self):
        rng = random.Random(17)
        text = f"# keys\ntier 3 (master): {V['tokens'][2]}\ntier 1: {V['tokens'][0]}\n"
        for i in range(300):
            t = list(text)
            for _ in range(rng.randint(1, 3)):
                t[rng.randrange(len(t))] = chr(rng.choice([rng.randrange(32, 127), 10, 0, 0xE9]))
            try:
                token = keys.highest_token("".join(t))
                keys.decode_token(token)
            except nt.MalformedTokenError:
                pass
            except Exception as e:  # noqa: BLE001
                self.fail(f"key text mutation {i}: raw {type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(unittest.main())
