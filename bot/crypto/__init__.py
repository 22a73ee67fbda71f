"""Amanat's cryptography, one module per format (``docs/crypto.md`` names each one's file).

Every module here composes only vetted primitives from ``cryptography`` (X25519, HKDF-SHA256,
HMAC-SHA256, ChaCha20-Poly1305, AES-256-GCM, scrypt, HPKE) and ``pyrage`` for age. None may
invent a primitive, call a private function of ``cryptography``, log, fall back to plaintext,
or put plaintext, key material or user identifiers into an exception message or a ``repr``.
This package imports nothing of the product but settings: storage and everything above build
on it.
"""
