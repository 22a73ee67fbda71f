"""Name the ways a crypto operation fails, with messages that never carry a secret."""

from __future__ import annotations


class CryptoError(Exception):
    """Signal any failure of this module; messages are generic and never carry secrets."""

    default_message = "cryptographic operation failed"

    def __init__(self, message: str | None = None) -> None:
        """Use the class's generic message unless the caller gives another generic one."""
        super().__init__(message or self.default_message)


class WrongPassphrase(CryptoError):
    """Signal that a key file did not open: wrong passphrase or an altered file."""

    default_message = "wrong passphrase, or the key file was altered"


class TamperedCiphertext(CryptoError):
    """Signal an authentication failure, a wrong row binding or a truncated blob."""

    default_message = "ciphertext failed authentication (altered, truncated or misplaced)"


class UnsupportedFormat(CryptoError):
    """Signal a format version (or key-file kind) this code does not read."""

    default_message = "unsupported format version"


class NotARecipient(CryptoError):
    """Signal that the item was not sealed to this admin key."""

    default_message = "this key is not a recipient"
