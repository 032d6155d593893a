"""Password hashing with argon2id."""

from __future__ import annotations

import os
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with the library's defaults (RFC 9106's second recommendation).
# The test suite may ask for a cheap profile: hundreds of logins, no secrets.
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    if os.environ.get("TRYGG_TEST_FAST_HASHES") == "1"
    else PasswordHasher()
)
# Verifying against this when the user does not exist keeps timing equal.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    # NFKC (NIST 800-63B): "é" typed as one character or as e + accent is one password.
    return _hasher.hash(unicodedata.normalize("NFKC", password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    normalised = unicodedata.normalize("NFKC", password)
    ok: bool
    try:
        ok = _hasher.verify(stored_hash or _DUMMY_HASH, normalised)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok and normalised != password and stored_hash is not None:
        # A password set before normalisation was stored as typed.
        try:
            ok = _hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    return ok and stored_hash is not None
