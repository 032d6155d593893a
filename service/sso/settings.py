"""Single sign-on settings from the environment. Unset TRYGG_OIDC_ISSUER: no single sign-on.

Only the standard library here: ``service.config`` imports this module.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class SsoConfigError(ValueError):
    """The single sign-on settings cannot work; the message says which variable to fix."""


class LocalLogin(enum.StrEnum):
    """Who may sign in with a username and password."""

    ON = "on"  # every account with a password (the embedded default)
    BREAK_GLASS = "break-glass"  # only accounts flagged break_glass
    OFF = "off"  # nobody: single sign-on only


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str
    group_map_path: Path
    groups_claim: str = "groups"
    # Where the provider's metadata is read. Defaults to the issuer's own
    # discovery document; set apart when the app reaches the provider by an
    # inner address (a compose network) while browsers use the public one.
    discovery_url: str = ""
    scope: str = "openid profile email"
    # A claim that names an existing local account to take over on first
    # sign-in (matched against user_account.email). Unset: never link.
    person_claim: str | None = None
    require_mfa: bool = False
    # acr values that count as a second factor (besides RFC 8176 amr values).
    mfa_acr_values: frozenset[str] = field(default_factory=frozenset)
    # The public address of this app, for the redirect URI registered at the provider.
    base_url: str | None = None
    timeout_seconds: float = 10.0

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or (self.issuer.rstrip("/") + "/.well-known/openid-configuration")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSettings | None:
        issuer = env.get("TRYGG_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        missing = [
            name
            for name in ("TRYGG_OIDC_CLIENT_ID", "TRYGG_OIDC_CLIENT_SECRET", "TRYGG_OIDC_GROUP_MAP")
            if not env.get(name, "").strip()
        ]
        if missing:
            raise SsoConfigError(
                "TRYGG_OIDC_ISSUER is set, so single sign-on needs " + ", ".join(missing)
            )
        acr = env.get("TRYGG_OIDC_MFA_ACR_VALUES", "")
        return cls(
            issuer=issuer,
            client_id=env["TRYGG_OIDC_CLIENT_ID"].strip(),
            client_secret=env["TRYGG_OIDC_CLIENT_SECRET"].strip(),
            group_map_path=Path(env["TRYGG_OIDC_GROUP_MAP"].strip()),
            groups_claim=env.get("TRYGG_OIDC_GROUPS_CLAIM", "").strip() or "groups",
            discovery_url=env.get("TRYGG_OIDC_DISCOVERY_URL", "").strip(),
            scope=env.get("TRYGG_OIDC_SCOPE", "").strip() or "openid profile email",
            person_claim=env.get("TRYGG_OIDC_PERSON_CLAIM", "").strip() or None,
            require_mfa=env.get("TRYGG_OIDC_REQUIRE_MFA", "0") == "1",
            mfa_acr_values=frozenset(v.strip() for v in acr.split(",") if v.strip()),
            base_url=env.get("TRYGG_BASE_URL", "").strip().rstrip("/") or None,
        )


def local_login_from_env(env: Mapping[str, str]) -> LocalLogin | None:
    """TRYGG_LOCAL_LOGIN, or None for the default that follows the configuration."""
    raw = env.get("TRYGG_LOCAL_LOGIN", "").strip().lower()
    if not raw:
        return None
    try:
        return LocalLogin(raw)
    except ValueError:
        raise SsoConfigError(
            f"TRYGG_LOCAL_LOGIN must be one of {', '.join(m.value for m in LocalLogin)}"
        ) from None


def effective_local_login(oidc: OidcSettings | None, chosen: LocalLogin | None) -> LocalLogin:
    """Without single sign-on passwords are the only way in; with it, break-glass only."""
    if oidc is None:
        if chosen is LocalLogin.OFF:
            raise SsoConfigError("TRYGG_LOCAL_LOGIN=off needs single sign-on (TRYGG_OIDC_ISSUER)")
        return chosen or LocalLogin.ON
    return chosen or LocalLogin.BREAK_GLASS
