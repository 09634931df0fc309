"""nnlock_torch: the PyTorch user's side of nnlock, written from docs/FORMAT.md.

- ``load_protected(path, token, tier=None)``: unlock a tier of an nnlock-protected model in memory
  and get a state dict for ``model.load_state_dict(state, strict=True)``.
- ``read_key_file(path)``: the highest-tier token of an nnlock key file.
- ``derive_key(token, tier, model)``: a lower tier's token, down the one-way chain.
- ``read_cipher_key(path)``, ``encrypt_images(x, key)``, ``decrypt_images(y, key)``: nnlock's
  block cipher on numpy arrays or torch tensors [N, C, H, W].

Depends only on torch, numpy and cryptography. Nothing here prints, logs or raises with a token or
key in it, and nothing writes files.
"""
from .cipher import CipherKey, decrypt_images, derive_cipher_key, encrypt_images, parse_cipher_key, read_cipher_key
from .errors import (
    CipherKeyError,
    FormatError,
    MalformedTokenError,
    NnlockError,
    TamperedError,
    TierTooHighError,
    UnsupportedVersionError,
    WrongKeyError,
)
from .keys import read_key_file
from .protected import SUPPORTED_VERSIONS, derive_key, inspect_protected, load_protected

__version__ = "0.1.0"
__all__ = [
    "load_protected", "read_key_file", "derive_key", "inspect_protected", "SUPPORTED_VERSIONS",
    "read_cipher_key", "parse_cipher_key", "derive_cipher_key", "CipherKey", "encrypt_images", "decrypt_images",
    "NnlockError", "FormatError", "UnsupportedVersionError", "MalformedTokenError", "WrongKeyError",
    "TierTooHighError", "TamperedError", "CipherKeyError",
]
