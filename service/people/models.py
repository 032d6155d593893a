"""Who the system is about and who uses it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, utcnow


class Role(enum.StrEnum):
    OFFICIAL = "official"
    PARTY_OFFICE = "party_office"
    SECURITY = "security"
    SECURITY_LEAD = "security_lead"
    TIB = "tib"
    COMMITTEE = "committee"
    DESIGNER = "designer"
    ADMIN = "admin"


# Roles that own lanes in the BPMN processes (designer and admin never get tasks).
LANE_ROLES = frozenset(
    {Role.OFFICIAL, Role.PARTY_OFFICE, Role.SECURITY, Role.SECURITY_LEAD, Role.TIB, Role.COMMITTEE}
)


class Category(enum.StrEnum):
    FULL_TIME = "full_time"
    LEISURE = "leisure"
    POLITICAL_STAFF = "political_staff"


class Party(Base):
    __tablename__ = "party"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str] = mapped_column(String(20), unique=True)


class Organisation(Base):
    """An administration (förvaltning) or company (bolag) with its committee or board."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # administration | company


class Person(Base):
    """An elected official or political staff member: the subject of cases."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    assignment: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    party: Mapped[Party | None] = relationship(lazy="joined")


class User(Base):
    __tablename__ = "user_account"
    # One account per identity at the city's OpenID Connect provider (NULLs for local accounts).
    __table_args__ = (
        Index("uq_user_account_oidc_identity", "oidc_issuer", "oidc_subject", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Sessions carry the epoch they began in; raising it signs the user out
    # everywhere (password changed, second factor reset).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)
    # Scope of the roles that have one: the party office's party, the
    # committee's organisation, the official's own person record.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "local" (password) or "oidc" (single sign-on: roles follow the provider's groups).
    identity_source: Mapped[str] = mapped_column(
        String(20), default="local", server_default="local"
    )
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    # May sign in with a password even where single sign-on is the way in.
    break_glass: Mapped[bool] = mapped_column(default=False, server_default=false())

    # Loaded when asked for: only the signed-in user's roles are ever needed.
    role_rows: Mapped[list[UserRole]] = relationship(lazy="select", cascade="all, delete-orphan")
    party: Mapped[Party | None] = relationship(lazy="joined")
    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    person: Mapped[Person | None] = relationship(lazy="joined")

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def works_cases(self) -> bool:
        """Holds a role that sees cases and tasks (designer and admin do not)."""
        return bool(self.roles & LANE_ROLES)

    @property
    def may_report(self) -> bool:
        return self.has_role(
            Role.OFFICIAL, Role.PARTY_OFFICE, Role.SECURITY, Role.SECURITY_LEAD, Role.TIB
        )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
