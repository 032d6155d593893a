"""A real OpenID Connect provider for tests, served over HTTP on loopback.

Built from Authlib's server side (the authorization code grant with the
OpenID Connect extension and PKCE, RS256 signing keys) as a small Flask app
with discovery and JWKS, so the app's client fetches metadata, keys and
tokens over the network exactly as it would from Keycloak. The sign-in step
is driven by the test: ``/authorize?...&user=<name>`` signs in one of the
configured users (``&deny=1`` plays a person who cancels).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from markupsafe import escape
from werkzeug.serving import make_server

CLIENT_ID = "trygg"
CLIENT_SECRET = "test-client-secret"  # a throwaway provider on loopback
KEY_ID = "test-key-1"


@dataclass
class ProviderUser:
    name: str
    groups: list[str]
    full_name: str = ""
    email: str | None = None
    amr: list[str] | None = None
    acr: str | None = None

    @property
    def sub(self) -> str:
        # Stable and opaque, unlike the name: the app must key accounts by it.
        return "sub-" + hashlib.sha256(f"trygg-test:{self.name}".encode()).hexdigest()[:16]


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile", "email"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: ProviderUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))
    issued_at: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_amr(self) -> list[str] | None:
        return self.user.amr

    def get_acr(self) -> str | None:
        return self.user.acr


def _login_page(params: dict[str, str]) -> str:
    """The provider's own sign-in page, for a real browser: a user name, nothing else."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items()
    )
    return (
        "<!doctype html><html lang='sv'><head><title>Testleverantör</title></head><body>"
        "<h1>Testleverantörens inloggning</h1>"
        f"<form method='get' action='/authorize'>{hidden}"
        "<label for='user'>Användare</label><input id='user' name='user'>"
        "<button type='submit'>Logga in hos leverantören</button></form></body></html>"
    )


class OidcProvider:
    """The provider's state; tests change users, groups and misbehaviour between sign-ins."""

    def __init__(self, redirect_uris: list[str]) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        # Same key id, different key: a forged token that names the real key.
        self.forged_key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        self.sign_with_forged_key = False
        self.users: dict[str, ProviderUser] = {}
        self.client = Client(CLIENT_ID, CLIENT_SECRET, redirect_uris)
        self.codes: dict[str, AuthCode] = {}
        self.requests: list[str] = []  # "METHOD /path" of every request served
        self.authorize_params: list[dict[str, str]] = []
        self.issuer = ""  # set when served
        self.app = self._make_app()

    def add_user(self, user: ProviderUser) -> ProviderUser:
        self.users[user.name] = user
        return user

    def _make_app(self) -> Flask:
        provider = self
        app = Flask("oidc_provider")
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 300}

        class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes[code] = AuthCode(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope,
                    user=req.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
                item = provider.codes.get(code)
                if item is None or item.client_id != client.client_id:
                    return None
                if time.time() - item.issued_at > 60:
                    return None
                return item

            def delete_authorization_code(self, item: AuthCode) -> None:
                provider.codes.pop(item.code, None)

            def authenticate_user(self, item: AuthCode) -> ProviderUser:
                return item.user

        class IdToken(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.forged_key if provider.sign_with_forged_key else provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": KEY_ID}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def generate_user_info(self, user: ProviderUser, scope: str) -> UserInfo:
                info = UserInfo(sub=user.sub, preferred_username=user.name)
                if "profile" in scope:
                    info["name"] = user.full_name or user.name
                if "email" in scope and user.email:
                    info["email"] = user.email
                    info["email_verified"] = True
                info["groups"] = list(user.groups)
                return info

        class S256Only(CodeChallenge):  # type: ignore[misc]
            SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

        server = AuthorizationServer(
            app, query_client=lambda cid: self.client if cid == CLIENT_ID else None
        )
        server.save_token = lambda token, req: None
        server.register_grant(CodeGrant, [IdToken(require_nonce=True), S256Only(required=True)])

        @app.before_request
        def note() -> None:
            provider.requests.append(f"{request.method} {request.path}")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            base = provider.issuer
            return jsonify(
                issuer=base,
                authorization_endpoint=f"{base}/authorize",
                token_endpoint=f"{base}/token",
                jwks_uri=f"{base}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
                scopes_supported=["openid", "profile", "email"],
                claims_supported=["sub", "name", "preferred_username", "email", "groups"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[provider.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> Any:
            provider.authorize_params.append(request.args.to_dict())
            # PKCE is optional for confidential clients in OAuth 2.0; this
            # provider insists, so a client that skips it cannot sign in.
            if request.args.get("code_challenge_method") != "S256":
                return "PKCE (S256) required", 400
            if "user" not in request.args and not request.args.get("deny"):
                return _login_page(request.args.to_dict())
            user = provider.users.get(request.args.get("user", ""))
            if user is None and not request.args.get("deny"):
                return "unknown user", 400
            try:
                grant = server.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            # No user: the person pressed "cancel" (access_denied back to the app).
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        return app

    @contextmanager
    def serve(self) -> Iterator[str]:
        server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self.issuer
        finally:
            server.shutdown()
            thread.join(timeout=5)
