"""Who may still sign in with a password (the embedded default, and break-glass beside single sign-on)."""

from __future__ import annotations

from service.config import Settings
from service.people.models import User
from service.sso.settings import LocalLogin, effective_local_login


def local_login_mode(settings: Settings) -> LocalLogin:
    return effective_local_login(settings.oidc, settings.local_login)


def password_allowed(settings: Settings, user: User) -> bool:
    """With single sign-on, a password opens only a break-glass account (by default)."""
    mode = local_login_mode(settings)
    if mode is LocalLogin.ON:
        return True
    return mode is LocalLogin.BREAK_GLASS and user.break_glass
