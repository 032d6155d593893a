"""``trygg account``: an administrator sets a password or resets a second factor from the shell."""

from __future__ import annotations

import sys

import click
from babel.support import Translations
from sqlalchemy import select

from service.auth import second_factor
from service.auth.password_policy import set_password
from service.config import Settings
from service.db import Database
from service.i18n import TRANSLATIONS_DIR
from service.people.models import User


def _swedish(message: str) -> str:
    return str(Translations.load(str(TRANSLATIONS_DIR), ["sv"]).gettext(message))


@click.group("account")
def account() -> None:
    """Local accounts: passwords and second factors."""


@account.command("set-password")
@click.argument("username")
@click.password_option(prompt="Nytt lösenord", confirmation_prompt="Upprepa lösenordet")
def set_password_command(username: str, password: str) -> None:
    """Give USERNAME a new password (checked like on the "Byt lösenord" page); signs them out."""
    database = Database(Settings.from_env().database_url)
    try:
        with database.transaction() as session:
            found = session.scalar(select(User).where(User.username == username.strip().lower()))
            if found is None:
                click.echo(f"Det finns ingen användare {username}.", err=True)
                sys.exit(1)
            problems = set_password(session, found, password, None, how="cli")
            if problems:
                for problem in problems:
                    click.echo(_swedish(problem), err=True)
                sys.exit(1)
    finally:
        database.engine.dispose()
    click.echo(f"Lösenordet för {username} är bytt och alla hens inloggningar avslutade.")


@account.command("reset-second-factor")
@click.argument("username")
def reset_second_factor(username: str) -> None:
    """Remove USERNAME's second factor (they set up a new one at next sign-in); signs them out."""
    database = Database(Settings.from_env().database_url)
    try:
        with database.transaction() as session:
            found = session.scalar(select(User).where(User.username == username.strip().lower()))
            if found is None:
                click.echo(f"Det finns ingen användare {username}.", err=True)
                sys.exit(1)
            had = second_factor.reset(session, None, found)
    finally:
        database.engine.dispose()
    click.echo(
        f"Tvåstegsverifieringen för {username} är borttagen; hen ställer in en ny vid nästa inloggning."
        if had
        else f"{username} hade ingen tvåstegsverifiering; hens inloggningar är avslutade."
    )
