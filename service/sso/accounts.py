"""From a verified ID token to an account whose roles are what the provider's groups give now.

Every sign-in recomputes roles, party and organisation from the groups, so a
person removed from a group at the provider loses the role at their next
sign-in. Audit entries name roles and ids, never names, e-mail or claims.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.audit.service import record
from service.people.models import Role, User, UserRole
from service.sso.groups import (
    Assignment,
    GrantConflict,
    GroupMap,
    GroupMapMismatch,
    groups_from_claims,
    resolve,
)
from service.sso.settings import OidcSettings

# Roles that see every case or run the system: with TRYGG_OIDC_REQUIRE_MFA=1
# the provider must say that a second factor was used.
MFA_ROLES = frozenset({Role.SECURITY, Role.SECURITY_LEAD, Role.TIB, Role.ADMIN})
IDENTITY_OIDC = "oidc"


class SignInRefused(Exception):
    """The provider proved who it is, but this sign-in must not start a session."""

    def __init__(self, reason: str, user: User | None = None, group: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user
        self.group = group


def second_factor_proven(claims: Mapping[str, Any], acr_values: frozenset[str]) -> bool:
    """RFC 8176: "mfa", or two different methods; or an acr the deployment names as two-step."""
    amr = claims.get("amr")
    methods = {m for m in amr if isinstance(m, str)} if isinstance(amr, list) else set()
    if "mfa" in methods or len(methods) >= 2:
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in acr_values


def _text_claim(claims: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    if claims.get("email_verified") is False:
        return None
    return _text_claim(claims, "email", 254)


def _username(session: Session, claims: Mapping[str, Any], issuer: str, subject: str) -> str:
    """The provider's user name when free, else one derived from the identity (stable, unique)."""
    wanted = _text_claim(claims, "preferred_username", 80) or ""
    wanted = re.sub(r"[^a-z0-9._@-]", "", wanted.lower())
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
    for candidate in (wanted, f"{wanted or 'sso'}-{digest[:10]}"):
        if candidate and session.scalar(select(User.id).where(User.username == candidate)) is None:
            return candidate
    return f"sso-{digest[:40]}"


def _adoptable(session: Session, settings: OidcSettings, claims: Mapping[str, Any]) -> User | None:
    """An existing account that an administrator made for this person, named by the person claim.

    Only with TRYGG_OIDC_PERSON_CLAIM set; only an active, local, non-break-glass
    account with no other identity; only when exactly one matches (never a guess).
    """
    if not settings.person_claim:
        return None
    if settings.person_claim == "email":
        value = _verified_email(claims)
    else:
        value = _text_claim(claims, settings.person_claim, 254)
    if not value:
        return None
    found = session.scalars(
        select(User).where(
            func.lower(User.email) == value.lower(),
            User.oidc_subject.is_(None),
            User.break_glass.is_(False),
            User.active.is_(True),
        )
    ).all()
    return found[0] if len(found) == 1 else None


def _account(
    session: Session, settings: OidcSettings, claims: Mapping[str, Any], issuer: str, subject: str
) -> User:
    user = session.scalar(
        select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)
    )
    if user is not None:
        return user
    adopted = _adoptable(session, settings, claims)
    if adopted is not None:
        adopted.oidc_issuer, adopted.oidc_subject = issuer, subject
        adopted.identity_source = IDENTITY_OIDC
        # One way in: the provider now decides, so the old password must not
        # keep roles alive that the groups no longer give.
        adopted.password_hash = None
        record(
            session,
            adopted,
            "user.linked_to_sso",
            person_linked=adopted.person_id is not None,
        )
        return adopted
    user = User(
        username=_username(session, claims, issuer, subject),
        display_name=_text_claim(claims, "name", 200)
        or _text_claim(claims, "preferred_username", 200)
        or "SSO",
        email=_verified_email(claims),
        password_hash=None,
        identity_source=IDENTITY_OIDC,
        oidc_issuer=issuer,
        oidc_subject=subject,
    )
    user.role_rows = []
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # The same person's first sign-in in another tab won the race: nothing
        # was written yet in this request, and signing in again finds the account.
        session.rollback()
        raise SignInRefused("busy") from None
    record(session, user, "user.created", source=IDENTITY_OIDC)
    return user


def _apply(session: Session, user: User, assignment: Assignment) -> None:
    before = sorted(r.value for r in user.roles)
    after = sorted(r.value for r in assignment.roles)
    scope_before = (user.party_id, user.organisation_id)
    scope_after = (assignment.party_id, assignment.organisation_id)
    if before == after and scope_before == scope_after:
        return
    # Keep the rows of roles that stay (a unique row per user and role).
    user.role_rows = [r for r in user.role_rows if r.role in after] + [
        UserRole(role=role) for role in after if role not in before
    ]
    user.party_id, user.organisation_id = scope_after
    record(
        session,
        user,
        "user.roles_changed",
        source=IDENTITY_OIDC,
        roles_before=before,
        roles_after=after,
        party_before=scope_before[0],
        party_after=scope_after[0],
        organisation_before=scope_before[1],
        organisation_after=scope_after[1],
    )


@dataclass(frozen=True)
class SsoSignIn:
    settings: OidcSettings
    group_map: GroupMap

    def assignment(self, session: Session, claims: Mapping[str, Any]) -> Assignment:
        granted = self.group_map.grants_for(groups_from_claims(claims, self.settings.groups_claim))
        try:
            return resolve(session, granted)
        except GrantConflict:
            raise SignInRefused("conflicting_groups") from None
        except GroupMapMismatch as exc:
            raise SignInRefused("group_map_mismatch", group=exc.group) from None

    def sign_in(self, session: Session, claims: Mapping[str, Any]) -> User:
        """The account for these verified claims, its roles set from the groups, audited."""
        issuer, subject = claims.get("iss"), claims.get("sub")
        # OpenID Connect Core 2: sub is at most 255 ASCII characters.
        if not isinstance(issuer, str) or not isinstance(subject, str):
            raise SignInRefused("invalid_token")
        if not subject or len(subject) > 255:
            raise SignInRefused("invalid_token")
        assignment = self.assignment(session, claims)
        if (
            self.settings.require_mfa
            and assignment.roles & MFA_ROLES
            and not second_factor_proven(claims, self.settings.mfa_acr_values)
        ):
            raise SignInRefused("mfa_required")
        user = _account(session, self.settings, claims, issuer, subject)
        if not user.active:
            raise SignInRefused("inactive", user=user)
        _apply(session, user, assignment)
        # The directory is the source for name and address of its accounts.
        user.display_name = _text_claim(claims, "name", 200) or user.display_name
        user.email = _verified_email(claims) or user.email
        record(session, user, "login.succeeded", method=IDENTITY_OIDC)
        return user
