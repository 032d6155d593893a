"""``trygg break-glass``: the local accounts that keep a password way in beside single sign-on.

When the city's sign-in service is down, threats against officials do not
wait: a few named accounts (security, administration) can still sign in with
a password (and, for those roles, a second factor). Their roles are set
here, not by the provider's groups.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.config import Settings
from service.db import Database
from service.people.models import Role, User, UserRole

# Roles a break-glass account may hold: none of them needs a party,
# organisation or person record.
BREAK_GLASS_ROLES = (Role.SECURITY, Role.SECURITY_LEAD, Role.TIB, Role.ADMIN, Role.DESIGNER)


class BreakGlassError(ValueError):
    pass


def set_break_glass(
    session: Session,
    username: str,
    on: bool,
    roles: tuple[Role, ...] = (),
    display_name: str | None = None,
) -> tuple[User, bool]:
    """Flag (or unflag) a local account; make it first when roles are given. Returns (user, created)."""
    username = username.strip().lower()
    user = session.scalar(select(User).where(User.username == username))
    created = False
    if user is None:
        if not on or not roles:
            raise BreakGlassError(
                f"Det finns ingen användare {username}; ange --role för att skapa."
            )
        user = User(username=username, display_name=display_name or username, password_hash=None)
        user.role_rows = [UserRole(role=role.value) for role in sorted(set(roles))]
        session.add(user)
        session.flush()
        record(session, None, "user.created", source="cli", user_id=user.id)
        created = True
    elif roles:
        raise BreakGlassError(f"{username} finns redan; rollerna ändras inte härifrån.")
    if user.identity_source != "local":
        raise BreakGlassError(
            f"{username} loggar in med stadens konto och kan inte bli reservkonto."
        )
    if user.break_glass != on:
        user.break_glass = on
        record(session, None, "user.break_glass_changed", user_id=user.id, break_glass=on)
    return user, created


@click.command("break-glass")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([r.value for r in BREAK_GLASS_ROLES]),
    help="Create the account with this role (repeat for more).",
)
@click.option("--name", "display_name", help="The name shown for a new account.")
@click.option("--off", is_flag=True, help="Take the break-glass flag away (the account stays).")
def break_glass(username: str, roles: tuple[str, ...], display_name: str | None, off: bool) -> None:
    """Let USERNAME sign in with a password beside single sign-on (TRYGG_LOCAL_LOGIN=break-glass).

    A new account needs --role; give it a password with `trygg account set-password`.
    """
    database = Database(Settings.from_env().database_url)
    try:
        with database.transaction() as session:
            user, created = set_break_glass(
                session, username, not off, tuple(Role(r) for r in roles), display_name
            )
            has_password = user.password_hash is not None
    except BreakGlassError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    if off:
        click.echo(f"{username} är inte längre reservkonto.")
        return
    click.echo(f"{username} är {'skapat som ' if created else ''}reservkonto.")
    if not has_password:
        click.echo(f"Ge kontot ett lösenord: trygg account set-password {username}")
