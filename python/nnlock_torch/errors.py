"""Exceptions of nnlock_torch. Messages never contain a token or key material."""


class NnlockError(Exception):
    """Base class of every error nnlock_torch raises on purpose."""


class FormatError(NnlockError, ValueError):
    """The file is not a well-formed nnlock file (or not a protected model at all)."""


class UnsupportedVersionError(FormatError):
    """The file is of a format version this reader does not implement."""


class MalformedTokenError(NnlockError, ValueError):
    """A key token or key file that cannot be parsed (a typo, a truncated copy)."""


class WrongKeyError(NnlockError):
    """The key does not belong to this model (or to this tier of it)."""


class TierTooHighError(NnlockError):
    """A key asked for a tier above its own: keys unlock their own tier and the tiers below."""


class TamperedError(NnlockError):
    """The published weights or a sealed section were modified since the model was protected."""


class CipherKeyError(NnlockError, ValueError):
    """A block-cipher key file that cannot be used, or images that do not fit the key."""
