"""Demo data for the embedded default: two parties, officials of each category, a user per role.

Names are invented. Demo accounts share one password, printed by
``trygg init``; they exist only where demo data was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.passwords import hash_password
from service.people.models import Category, Organisation, Party, Person, Role, User, UserRole

DEMO_PASSWORD = "trygg-demo-2026"  # noqa: S105 - demo accounts only, printed at init


@dataclass(frozen=True)
class DemoLogin:
    username: str
    description: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("anna", "Förtroendevald, borgarråd (särskilt arvoderad), Framstegspartiet"),
    DemoLogin("bertil", "Förtroendevald, fritidspolitiker, Framstegspartiet"),
    DemoLogin("cecilia", "Politisk tjänsteperson, Gemenskapspartiet"),
    DemoLogin("david", "Förtroendevald, gruppledare (särskilt arvoderad), Gemenskapspartiet"),
    DemoLogin("kansli.fp", "Partikansli, Framstegspartiet"),
    DemoLogin("kansli.gp", "Partikansli, Gemenskapspartiet"),
    DemoLogin("sakerhet", "Säkerhetsavdelningen"),
    DemoLogin("sakerhetschef", "Säkerhetschef"),
    DemoLogin("tib", "Tjänsteperson i beredskap (TiB)"),
    DemoLogin("namnd", "Förvaltning: Kulturförvaltningen"),
    DemoLogin("designer", "Processdesigner"),
    DemoLogin("admin", "Administratör"),
)


def _user(
    session: Session,
    username: str,
    display_name: str,
    roles: list[Role],
    password_hash: str,
    **scope: object,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        email=f"{username}@example.invalid",
        password_hash=password_hash,
        **scope,
    )
    user.role_rows = [UserRole(role=r.value) for r in roles]
    session.add(user)
    return user


def load_demo_data(session: Session) -> bool:
    """Create the demo set unless any user exists. Returns whether it created anything."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return False
    fp = Party(name="Framstegspartiet", short_name="FP")
    gp = Party(name="Gemenskapspartiet", short_name="GP")
    culture = Organisation(name="Kulturförvaltningen", kind="administration")
    harbour = Organisation(name="Exempelbolaget Hamnar AB", kind="company")
    session.add_all([fp, gp, culture, harbour])
    session.flush()

    anna = Person(
        full_name="Anna Andersson",
        category=Category.FULL_TIME.value,
        party_id=fp.id,
        assignment="Borgarråd",
    )
    bertil = Person(
        full_name="Bertil Berg",
        category=Category.LEISURE.value,
        party_id=fp.id,
        assignment="Ledamot i kulturnämnden",
    )
    cecilia = Person(
        full_name="Cecilia Carlsson",
        category=Category.POLITICAL_STAFF.value,
        party_id=gp.id,
        assignment="Politisk sekreterare",
    )
    david = Person(
        full_name="David Dahl",
        category=Category.FULL_TIME.value,
        party_id=gp.id,
        assignment="Gruppledare",
    )
    eva = Person(
        full_name="Eva Ek",
        category=Category.LEISURE.value,
        party_id=gp.id,
        assignment="Ledamot i stadsdelsnämnd",
    )
    session.add_all([anna, bertil, cecilia, david, eva])
    session.flush()

    pw = hash_password(DEMO_PASSWORD)
    _user(session, "anna", "Anna Andersson", [Role.OFFICIAL], pw, person_id=anna.id)
    _user(session, "bertil", "Bertil Berg", [Role.OFFICIAL], pw, person_id=bertil.id)
    _user(session, "cecilia", "Cecilia Carlsson", [Role.OFFICIAL], pw, person_id=cecilia.id)
    _user(session, "david", "David Dahl", [Role.OFFICIAL], pw, person_id=david.id)
    _user(session, "kansli.fp", "Partikansliet (FP)", [Role.PARTY_OFFICE], pw, party_id=fp.id)
    _user(session, "kansli.gp", "Partikansliet (GP)", [Role.PARTY_OFFICE], pw, party_id=gp.id)
    _user(session, "sakerhet", "Sara Säker", [Role.SECURITY], pw)
    _user(session, "sakerhetschef", "Stefan Chef", [Role.SECURITY_LEAD, Role.SECURITY], pw)
    _user(session, "tib", "Tove i beredskap", [Role.TIB], pw)
    _user(
        session,
        "namnd",
        "Kulturförvaltningens säkerhetssamordnare",
        [Role.COMMITTEE],
        pw,
        organisation_id=culture.id,
    )
    _user(session, "designer", "Petra Processdesigner", [Role.DESIGNER], pw)
    _user(session, "admin", "Adam Administratör", [Role.ADMIN], pw)
    session.flush()
    return True
