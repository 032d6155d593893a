"""The group map: which of the provider's groups give which role, party and organisation.

The file is a JSON object from group name to a grant::

    {
      "trygg-sakerhet": {"role": "security"},
      "trygg-partikansli-fp": {"role": "party_office", "party": "FP"},
      "trygg-namnd-kultur": {"role": "committee", "organisation": "Kulturförvaltningen"}
    }

A party is named by its short name (``party.short_name``), an organisation by
its name (``organisation.name``). A party office needs a party and a committee
an organisation; no other role takes either, since the policy reads them only
for those two roles. Groups not in the map give nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.people.models import Organisation, Party, Role
from service.sso.settings import SsoConfigError

_KEYS = frozenset({"role", "party", "organisation"})


@dataclass(frozen=True)
class Grant:
    role: Role
    party: str | None = None
    organisation: str | None = None


@dataclass(frozen=True)
class Assignment:
    """What a person's groups give, resolved against the database."""

    roles: frozenset[Role]
    party_id: int | None
    organisation_id: int | None


class GrantConflict(Exception):
    """The groups give two parties or two organisations: one account has one of each."""


class GroupMapMismatch(Exception):
    """The map names a party or organisation that the database does not have."""

    def __init__(self, group: str) -> None:
        super().__init__(group)
        self.group = group


@dataclass(frozen=True)
class GroupMap:
    grants: Mapping[str, Grant]

    def grants_for(self, groups: Iterable[str]) -> list[tuple[str, Grant]]:
        return sorted((g, self.grants[g]) for g in set(groups) if g in self.grants)


def _grant(group: str, raw: object) -> Grant:
    where = f"group map entry {group!r}"
    if not isinstance(raw, dict):
        raise SsoConfigError(f"{where}: must be an object with a role")
    unknown = set(raw) - _KEYS
    if unknown:
        raise SsoConfigError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        role = Role(str(raw.get("role", "")))
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise SsoConfigError(f"{where}: role must be one of {roles}") from None
    party, organisation = raw.get("party"), raw.get("organisation")
    for key, value in (("party", party), ("organisation", organisation)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise SsoConfigError(f"{where}: {key} must be a non-empty text")
    if (role is Role.PARTY_OFFICE) != (party is not None):
        raise SsoConfigError(f"{where}: a party goes with the role party_office, and only there")
    if (role is Role.COMMITTEE) != (organisation is not None):
        raise SsoConfigError(
            f"{where}: an organisation goes with the role committee, and only there"
        )
    return Grant(role=role, party=party, organisation=organisation)


def parse_group_map(data: object) -> GroupMap:
    if not isinstance(data, dict) or not data:
        raise SsoConfigError("the group map must be a JSON object from group name to grant")
    grants: dict[str, Grant] = {}
    for group, raw in data.items():
        if not group.strip():
            raise SsoConfigError("the group map has an empty group name")
        grants[group] = _grant(group, raw)
    return GroupMap(grants)


def load_group_map(path: Path) -> GroupMap:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SsoConfigError(f"TRYGG_OIDC_GROUP_MAP: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SsoConfigError(f"TRYGG_OIDC_GROUP_MAP: {path} is not valid JSON: {exc}") from None
    return parse_group_map(data)


def groups_from_claims(claims: Mapping[str, object], claim: str) -> list[str]:
    """The groups claim as a list of names; anything else in it counts as no groups."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


def resolve(session: Session, granted: list[tuple[str, Grant]]) -> Assignment:
    """Roles and the one party and organisation the grants give, by their database ids."""
    party_ids: set[int] = set()
    organisation_ids: set[int] = set()
    for group, grant in granted:
        if grant.party is not None:
            party_id = session.scalar(select(Party.id).where(Party.short_name == grant.party))
            if party_id is None:
                raise GroupMapMismatch(group)
            party_ids.add(party_id)
        if grant.organisation is not None:
            organisation_id = session.scalar(
                select(Organisation.id).where(Organisation.name == grant.organisation)
            )
            if organisation_id is None:
                raise GroupMapMismatch(group)
            organisation_ids.add(organisation_id)
    if len(party_ids) > 1 or len(organisation_ids) > 1:
        raise GrantConflict()
    return Assignment(
        roles=frozenset(grant.role for _, grant in granted),
        party_id=next(iter(party_ids), None),
        organisation_id=next(iter(organisation_ids), None),
    )
