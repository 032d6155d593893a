"""System clients' bearer tokens: create (shown once), revoke, authenticate a request.

Only the SHA-256 of a token is stored. A token carries 256 random bits, so a
plain hash is enough (nothing to guess, no need for a slow password hash), and
finding the client by the hash of what was sent compares nothing secret
byte by byte: a wrong token's hash matches no row whatever its prefix.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.models import ApiClient
from service.audit.service import record
from service.db import utcnow

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything much longer is not ours and
# is refused before it is hashed.
MAX_TOKEN_LENGTH = 200
NAME_MAX_LENGTH = 100
BEARER = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)
ALARM_EVENTS_SCOPE = "alarm_events"


class ApiClientError(ValueError):
    """A client could not be created or revoked; the message says why."""


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    token: str  # the only time the token exists outside the caller's hands


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_client(session: Session, name: str) -> NewClient:
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ApiClientError(f"A client name is 1–{NAME_MAX_LENGTH} characters")
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise ApiClientError(f"A client named {name!r} already exists")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    client = ApiClient(name=name, token_hash=hash_token(token), created_at=utcnow())
    session.add(client)
    session.flush()
    record(session, None, "api_client.created", client=name)
    return NewClient(client=client, token=token)


def revoke_client(session: Session, name: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.name == name.strip()))
    if client is None:
        raise ApiClientError(f"No client named {name!r}")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        record(session, None, "api_client.revoked", client=client.name)
    return client


def list_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.name)))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization or len(authorization) > MAX_TOKEN_LENGTH + 20:
        return None
    match = BEARER.match(authorization)
    return match.group(1) if match else None


def authenticate(session: Session, authorization: str | None) -> ApiClient | None:
    """The active client whose token the header carries; None if missing, unknown or revoked."""
    token = bearer_token(authorization)
    if token is None:
        return None
    client = session.scalar(select(ApiClient).where(ApiClient.token_hash == hash_token(token)))
    if client is None or client.revoked_at is not None:
        return None
    return client


def has_scope(client: ApiClient, scope: str) -> bool:
    return scope in re.split(r"[\s,]+", client.scopes or "")
