"""Evidence files on disk: random names, written atomically, readable only by the service."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

_STORED_NAME = re.compile(r"^[0-9a-f]{32}$")
# Where the app serves files from (service/static): evidence must never be reachable there.
_WEB_ROOT = Path(__file__).resolve().parent.parent / "static"


class AttachmentStore:
    """One directory of files named by 128 random bits; the database knows what each one is."""

    def __init__(self, root: Path) -> None:
        root = root.resolve()
        if root == _WEB_ROOT or _WEB_ROOT in root.parents:
            raise ValueError(
                "TRYGG_ATTACHMENTS_DIR must not be inside the web root (service/static)"
            )
        self.root = root

    def _ensure_root(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, stored_name: str) -> Path:
        # Only names this store made: nothing from a request can point elsewhere.
        if not _STORED_NAME.match(stored_name):
            raise ValueError("not a stored attachment name")
        return self.root / stored_name

    def save(self, content: bytes) -> str:
        """Write ``content`` under a new random name; the file appears whole or not at all."""
        self._ensure_root()
        stored_name = secrets.token_hex(16)
        final = self.path(stored_name)
        temporary = self.root / f".{stored_name}.part"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._sync_directory()
        return stored_name

    def remove(self, stored_name: str) -> None:
        self.path(stored_name).unlink(missing_ok=True)

    def read_verified(self, stored_name: str, sha256: str) -> bytes | None:
        """The file's bytes if it is there and unchanged since upload, else None."""
        try:
            content = self.path(stored_name).read_bytes()
        except FileNotFoundError:
            return None
        return content if hashlib.sha256(content).hexdigest() == sha256 else None

    def _sync_directory(self) -> None:
        # The rename itself is durable only once the directory entry is on disk.
        try:
            fd = os.open(self.root, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
