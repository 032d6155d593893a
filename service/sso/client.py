"""The OpenID Connect client (Authlib): code flow with PKCE, state and nonce, ID token checked by JWKS."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from service.config import Settings
from service.sso.accounts import SsoSignIn
from service.sso.groups import load_group_map
from service.sso.settings import OidcSettings, effective_local_login

EXTENSION = "trygg_sso"
PROVIDER = "city"


@dataclass(frozen=True)
class SsoRuntime:
    settings: OidcSettings
    sign_in: SsoSignIn
    # Authlib's FlaskOAuth2App (the library has no type information).
    client: Any


def install(app: Flask, settings: Settings) -> None:
    """Check the configuration at start (a bad group map stops the app) and register the client."""
    effective_local_login(settings.oidc, settings.local_login)
    oidc = settings.oidc
    if oidc is None:
        return
    group_map = load_group_map(oidc.group_map_path)
    oauth = OAuth(app)
    client = oauth.register(
        PROVIDER,
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=oidc.metadata_url,
        client_kwargs={
            "scope": oidc.scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": oidc.timeout_seconds,
        },
    )
    app.extensions[EXTENSION] = SsoRuntime(oidc, SsoSignIn(oidc, group_map), client)
    # Authlib writes the PKCE verifier and tokens at DEBUG: never in our logs.
    logging.getLogger("authlib").setLevel(logging.INFO)


def runtime() -> SsoRuntime | None:
    found = current_app.extensions.get(EXTENSION)
    return found if isinstance(found, SsoRuntime) else None
