"""The field keys: from ``TRYGG_FIELD_KEYS``, or a generated key kept in the instance folder.

``TRYGG_FIELD_KEYS`` is a comma-separated list of Fernet keys (32 random
bytes, url-safe base64; ``trygg keys generate`` makes one). The first key
encrypts; every key decrypts. Rotating is therefore: put a new key first
(keeping the old ones after it) on every process, run ``trygg keys rotate``,
then remove the old keys.

A stored value is ``f1:<key id>:<Fernet token>``: "f1" names this format
(AES-128-CBC with HMAC-SHA256, Fernet), the key id is the first 8 hex digits
of SHA-256 over the key, so that decryption picks its key at once and the
rotation finds the rows still under an old key with a plain ``LIKE``. The id
says nothing usable about the key (32 bits of a hash of 256 random bits).

Without the environment variable (the embedded default) a key is generated
on first start and kept in ``instance/field_keys`` (mode 600), like the
session secret in service/config.py: data encrypted there is as safe as
that file, which is what a single-machine installation can offer.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from service.config import INSTANCE_DIR

ENV_VAR = "TRYGG_FIELD_KEYS"
FORMAT = "f1"
PREFIX = FORMAT + ":"
KEY_ID_LENGTH = 8


class FieldKeyError(RuntimeError):
    """The keys are missing, malformed, or do not open a stored value."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:KEY_ID_LENGTH]


class FieldCipher:
    """Encrypts with the first key, decrypts with whichever key a value names."""

    def __init__(self, keys: Sequence[str]) -> None:
        cleaned = [k.strip() for k in keys if k.strip()]
        if not cleaned:
            raise FieldKeyError(
                f"{ENV_VAR} holds no key. Make one with `trygg keys generate` and set it."
            )
        self._fernets: dict[str, Fernet] = {}
        for position, key in enumerate(cleaned, start=1):
            try:
                fernet = Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError) as exc:
                raise FieldKeyError(
                    f"{ENV_VAR}: key number {position} is not a Fernet key (32 bytes in "
                    "url-safe base64). Make one with `trygg keys generate`."
                ) from exc
            self._fernets.setdefault(key_id(key), fernet)
        self.current_id = key_id(cleaned[0])
        self._current = self._fernets[self.current_id]
        self.current_prefix = f"{PREFIX}{self.current_id}:"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._fernets)

    # -- bytes -----------------------------------------------------------------
    def encrypt(self, plaintext: bytes) -> str:
        token = self._current.encrypt(plaintext).decode("ascii")
        return self.current_prefix + token

    def decrypt(self, stored: str) -> bytes:
        kid, token = split(stored)
        fernet = self._fernets.get(kid)
        if fernet is None:
            raise FieldKeyError(
                f"A value is encrypted with key id {kid}, which is not among {ENV_VAR} "
                f"(ids {', '.join(self._fernets)}). Add that key back, after the current one."
            )
        try:
            return fernet.decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise FieldKeyError(
                f"A value under key id {kid} failed its integrity check: it was altered "
                "or damaged in the database."
            ) from exc

    # -- text ------------------------------------------------------------------
    def encrypt_text(self, value: str) -> str:
        return self.encrypt(value.encode("utf-8"))

    def decrypt_text(self, stored: str) -> str:
        """The plaintext; a value written before encryption existed is returned as it is."""
        if not is_encrypted(stored):
            return stored
        return self.decrypt(stored).decode("utf-8")

    def is_current(self, stored: str) -> bool:
        return stored.startswith(self.current_prefix)


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def split(stored: str) -> tuple[str, str]:
    """(key id, Fernet token) of a stored value."""
    try:
        fmt, kid, token = stored.split(":", 2)
    except ValueError as exc:
        raise FieldKeyError("A stored value is not in the f1:<key id>:<token> form.") from exc
    if fmt != FORMAT or len(kid) != KEY_ID_LENGTH:
        raise FieldKeyError("A stored value is not in the f1:<key id>:<token> form.")
    return kid, token


# -- the process's keys ------------------------------------------------------------

_lock = threading.Lock()
_cipher: FieldCipher | None = None


def _instance_keys(directory: Path) -> str:
    """The embedded default's key file, created once (O_EXCL: one writer among many starters)."""
    directory.mkdir(exist_ok=True)
    path = directory / "field_keys"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
    for _ in range(50):
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.01)  # another process is between create and write
    raise FieldKeyError(f"{path} is empty; delete it or set {ENV_VAR}")


def keys_from_environment(instance_dir: Path = INSTANCE_DIR) -> list[str]:
    raw = os.environ.get(ENV_VAR) or _instance_keys(instance_dir)
    return [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]


def cipher() -> FieldCipher:
    """The process's cipher, read from the environment on first use."""
    global _cipher
    found = _cipher
    if found is None:
        with _lock:
            if _cipher is None:
                _cipher = FieldCipher(keys_from_environment())
            found = _cipher
    return found


def configure(keys: Sequence[str] | FieldCipher | None) -> FieldCipher | None:
    """Use ``keys`` from now on (``None``: read the environment again on next use).

    For the key commands and tests; returns the cipher it replaced (to put back).
    """
    global _cipher
    chosen = keys if isinstance(keys, FieldCipher) or keys is None else FieldCipher(keys)
    with _lock:
        previous = _cipher
        _cipher = chosen
    return previous
