"""Column types that encrypt on the way into the database and decrypt on the way out.

The ORM and every query see plaintext; the database (and its backups and
replicas) sees only ``f1:<key id>:<token>``. Rows written before encryption
existed are read as they are and encrypted when next written, or all at
once by ``trygg keys rotate`` (migration 0010 does it for an existing
database). Encrypted columns cannot be searched or compared in SQL: only
data that is read whole, by id, belongs in them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from service.crypto.keys import cipher, is_encrypted


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher().encrypt_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher().decrypt_text(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column whose whole document is stored encrypted, as one JSON string.

    The column keeps its JSON (PostgreSQL: JSONB) type, so existing plaintext
    documents stay readable and no table is rewritten to adopt encryption.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return cipher().encrypt_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and is_encrypted(value):
            return json.loads(cipher().decrypt_text(value))
        return value  # None, or a document written before encryption
