"""Single sign-on against a real OpenID Connect provider on loopback (tests/oidc_provider.py).

The app's Authlib client fetches discovery, keys and tokens from the provider
over HTTP; the test carries the browser's redirects between the two.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.app import create_app
from service.audit.models import AuditEvent
from service.cli import main
from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.people.demo import DEMO_PASSWORD
from service.people.models import Party, Person, Role, User
from service.sso.accounts import second_factor_proven
from service.sso.groups import load_group_map, parse_group_map
from service.sso.settings import LocalLogin, OidcSettings, SsoConfigError
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, ProviderUser
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

GROUP_MAP = PROJECT_ROOT / "deploy" / "oidc-group-map.json"
APP_ORIGIN = "http://localhost"  # the Flask test client's host
CALLBACK = f"{APP_ORIGIN}/login/sso/callback"


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    found = OidcProvider(redirect_uris=[CALLBACK])
    with found.serve():
        yield found


def _oidc(provider: OidcProvider, **changes: Any) -> OidcSettings:
    base = OidcSettings(
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        group_map_path=GROUP_MAP,
    )
    return replace(base, **changes)


@pytest.fixture
def sso_app(settings: Settings, provider: OidcProvider) -> Callable[..., Flask]:
    """sso_app(require_mfa=True, ...) gives an app signing in at the test provider."""
    made: list[Services] = []

    def make(local_login: LocalLogin | None = None, **oidc: Any) -> Flask:
        sso_settings = replace(settings, oidc=_oidc(provider, **oidc), local_login=local_login)
        services = Services.create(sso_settings)
        made.append(services)
        app = create_app(sso_settings, services)
        app.config["TESTING"] = True
        return app

    yield make  # type: ignore[misc]
    for services in made:
        services.db.engine.dispose()


def _start(client: Browser, next_url: str | None = None) -> str:
    """Press the SSO button: the app sends the browser to the provider."""
    response = client.get("/login/sso" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def _at_provider(authorize_url: str, **params: str) -> str:
    """The person signs in at the provider (over HTTP); returns where it sends the browser."""
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    answer = requests.get(authorize_url + extra, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, (answer.status_code, answer.text)
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    return location


def _back_at_app(client: Browser, callback_url: str) -> TestResponse:
    return client.get(callback_url.removeprefix(APP_ORIGIN))


def _sign_in(client: Browser, name: str, next_url: str | None = None) -> TestResponse:
    return _back_at_app(client, _at_provider(_start(client, next_url), user=name))


def _account(session: Session, provider: OidcProvider, name: str) -> User | None:
    session.expire_all()
    return session.scalar(
        select(User).where(
            User.oidc_issuer == provider.issuer,
            User.oidc_subject == provider.users[name].sub,
        )
    )


def _audit(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_first_sign_in_creates_the_account_with_the_groups_roles_and_party(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(
        ProviderUser(
            "lisa.partikansli",
            ["trygg-partikansli-fp", "stadens-alla-anstallda"],
            full_name="Lisa Lund",
            email="lisa.lund@example.invalid",
        )
    )
    client = Browser(sso_app())
    authorize_url = _start(client)
    sent = parse_qs(urlsplit(authorize_url).query)
    assert sent["client_id"] == [CLIENT_ID]
    assert sent["code_challenge_method"] == ["S256"] and len(sent["code_challenge"][0]) >= 43
    assert sent["state"][0] and sent["nonce"][0]
    assert "openid" in sent["scope"][0].split()

    response = _back_at_app(client, _at_provider(authorize_url, user="lisa.partikansli"))

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200
    # Everything the client needed came from the provider over the network.
    for call in ("GET /.well-known/openid-configuration", "GET /jwks", "POST /token"):
        assert call in provider.requests, (call, provider.requests)
    user = _account(session, provider, "lisa.partikansli")
    assert user is not None
    fp = session.scalar(select(Party).where(Party.short_name == "FP"))
    assert fp is not None
    assert user.roles == frozenset({Role.PARTY_OFFICE}) and user.party_id == fp.id
    assert user.identity_source == "oidc" and user.password_hash is None
    assert user.display_name == "Lisa Lund" and user.email == "lisa.lund@example.invalid"
    assert user.username == "lisa.partikansli" and user.person_id is None
    changed = _audit(session, "user.roles_changed")[-1]
    assert changed.actor_id == user.id
    assert changed.details["roles_before"] == [] and changed.details["roles_after"] == [
        "party_office"
    ]
    assert changed.details["party_after"] == fp.id
    logins = _audit(session, "login.succeeded")
    assert logins[-1].actor_id == user.id and logins[-1].details == {"method": "oidc"}
    written = json.dumps([e.details for e in session.scalars(select(AuditEvent))])
    for personal in ("Lisa", "lisa.lund@", provider.users["lisa.partikansli"].sub):
        assert personal not in written


def test_groups_taken_away_at_the_provider_take_the_role_away_at_next_sign_in(
    sso_app: Callable[..., Flask],
    provider: OidcProvider,
    session: Session,
    browser: Callable[[str | None], Browser],
) -> None:
    case_id = report_incident(browser("anna"))
    person = provider.add_user(ProviderUser("sam", ["trygg-sakerhet", "trygg-tib"]))
    app = sso_app()
    first = Browser(app)
    assert _sign_in(first, "sam").status_code == 302
    assert first.get(f"/cases/{case_id}").status_code == 200
    user = _account(session, provider, "sam")
    assert user is not None and user.roles == {Role.SECURITY, Role.TIB}

    person.groups = ["trygg-tib"]
    second = Browser(app)
    assert _sign_in(second, "sam").status_code == 302
    again = _account(session, provider, "sam")
    assert again is not None and again.id == user.id, "the same account, found by issuer and sub"
    assert again.roles == {Role.TIB}
    assert second.get(f"/cases/{case_id}").status_code in (403, 404)
    change = _audit(session, "user.roles_changed")[-1].details
    assert change["roles_before"] == ["security", "tib"] and change["roles_after"] == ["tib"]
    assert session.scalar(select(User.id).where(User.oidc_subject == person.sub)) == user.id


def test_no_mapped_group_signs_in_to_the_no_role_page(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    person = provider.add_user(ProviderUser("kim", ["trygg-sakerhet"]))
    app = sso_app()
    assert _sign_in(Browser(app), "kim").status_code == 302
    person.groups = ["stadens-alla-anstallda", "/trygg-sakerhet"]  # a path is not the name
    client = Browser(app)
    assert _sign_in(client, "kim").status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "Ditt konto har ingen roll ännu" in page.get_data(as_text=True)
    assert "dina grupper i stadens katalog" in page.get_data(as_text=True)
    user = _account(session, provider, "kim")
    assert user is not None and user.roles == frozenset()
    assert client.get("/inbox").status_code == 403


def test_a_state_from_another_browser_or_a_changed_state_is_refused(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    app = sso_app()
    victim, attacker = Browser(app), Browser(app)
    # The attacker's own code, delivered to a victim who started a sign-in too.
    _start(victim)
    planted = _at_provider(_start(attacker), user="sam")
    refused = _back_at_app(victim, planted)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Inloggningen kunde inte slutföras" in text and 'href="/login"' in text
    assert victim.get("/").status_code == 302, "not signed in"

    changed = planted.replace("state=", "state=x")
    assert _back_at_app(attacker, changed).status_code == 400
    assert _account(session, provider, "sam") is None
    reasons = [e.details["reason"] for e in _audit(session, "login.failed")]
    assert reasons == ["bad_state", "bad_state"]
    # A bare request to the callback, with no sign-in begun, leaves no trace to fill the trail.
    assert Browser(app).get("/login/sso/callback?error=access_denied").status_code == 401
    assert Browser(app).get("/login/sso/callback?code=x&state=y").status_code == 400
    assert len(_audit(session, "login.failed")) == 2


def test_an_id_token_signed_with_another_key_is_refused(
    sso_app: Callable[..., Flask],
    provider: OidcProvider,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    provider.sign_with_forged_key = True
    client = Browser(sso_app())
    response = _sign_in(client, "sam")
    assert response.status_code == 401
    assert "kunde inte kontrolleras" in response.get_data(as_text=True)
    assert "ID token refused: BadSignatureError" in caplog.text
    assert "GET /jwks" in provider.requests, "the signature was checked against the real keys"
    assert client.get("/").status_code == 302
    assert _account(session, provider, "sam") is None
    assert _audit(session, "login.failed")[-1].details["reason"] == "invalid_token"

    provider.sign_with_forged_key = False
    assert _sign_in(Browser(sso_app()), "sam").status_code == 302


def test_cancelled_at_the_provider_or_too_slow_explains_and_leads_back(
    sso_app: Callable[..., Flask], provider: OidcProvider, clock: Any
) -> None:
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    app = sso_app()
    client = Browser(app)
    denied = _back_at_app(client, _at_provider(_start(client), deny="1"))
    assert denied.status_code == 401
    text = denied.get_data(as_text=True)
    assert "Inloggningen avbröts" in text and "Tillbaka till inloggningen" in text

    slow = Browser(app)
    authorize_url = _start(slow)
    clock.advance(timedelta(minutes=11))
    expired = _back_at_app(slow, _at_provider(authorize_url, user="sam"))
    assert expired.status_code == 400
    assert "tog för lång tid" in expired.get_data(as_text=True)
    assert slow.get("/").status_code == 302


def test_a_code_is_good_for_one_sign_in(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    app = sso_app()
    client = Browser(app)
    callback = _at_provider(_start(client), user="sam")
    assert _back_at_app(client, callback).status_code == 302
    # A stolen code replayed inside someone's fresh sign-in: the state fits, the code does not.
    thief = Browser(app)
    state = parse_qs(urlsplit(_start(thief)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    replay = _back_at_app(thief, f"{CALLBACK}?{urlencode({'code': code, 'state': state})}")
    assert replay.status_code == 401
    assert provider.requests.count("POST /token") == 2, "the provider was asked and said no"
    assert _audit(session, "login.failed")[-1].details["reason"] == "invalid_token"
    assert thief.get("/").status_code == 302


def test_the_page_asked_for_is_shown_after_signing_in(
    sso_app: Callable[..., Flask], provider: OidcProvider
) -> None:
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    client = Browser(sso_app())
    asked = client.get("/notifications")
    assert asked.status_code == 302
    login_page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Logga in med Stockholms stads konto" in login_page
    assert 'href="/login/sso?next=/notifications"' in login_page
    response = _sign_in(client, "sam", next_url="/notifications")
    assert response.headers["Location"] == "/notifications"
    offsite = _sign_in(Browser(client.app), "sam", next_url="https://evil.example/")
    assert offsite.headers["Location"] == "/"


def _trygg(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner().invoke(main, list(args))


def test_passwords_open_only_break_glass_accounts_beside_sso(
    sso_app: Callable[..., Flask], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flagged = _trygg(database_url, monkeypatch, "break-glass", "admin")
    assert flagged.exit_code == 0 and "admin är reservkonto" in flagged.output
    app = sso_app()
    page = Browser(app).text("/login")
    assert "Reservinloggning med lösenord" in page and 'name="password"' in page

    refused = Browser(app).submit("/login", {"username": "anna", "password": DEMO_PASSWORD})
    assert refused.status_code == 401
    assert "fel" in refused.get_data(as_text=True), "told like a wrong password"
    Browser(app).login("admin")  # break-glass

    closed = sso_app(local_login=LocalLogin.OFF)
    page = Browser(closed).text("/login")
    assert 'name="password"' not in page and "Logga in med Stockholms stads konto" in page
    refused = Browser(closed).submit("/login", {"username": "admin", "password": DEMO_PASSWORD})
    assert refused.status_code == 401

    everyone = sso_app(local_login=LocalLogin.ON)
    Browser(everyone).login("anna")

    assert _trygg(database_url, monkeypatch, "break-glass", "admin", "--off").exit_code == 0
    again = Browser(sso_app()).submit("/login", {"username": "admin", "password": DEMO_PASSWORD})
    assert again.status_code == 401


def test_break_glass_accounts_are_made_from_the_shell_and_never_from_sso_accounts(
    sso_app: Callable[..., Flask],
    provider: OidcProvider,
    session: Session,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _trygg(
        database_url, monkeypatch, "break-glass", "Reserv.Sakerhet", "--role", "security",
        "--role", "admin", "--name", "Reservkonto säkerhet",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "skapat som reservkonto" in made.output and "set-password" in made.output
    user = session.scalar(select(User).where(User.username == "reserv.sakerhet"))
    assert user is not None and user.break_glass and user.password_hash is None
    assert user.roles == {Role.SECURITY, Role.ADMIN} and user.identity_source == "local"
    assert _audit(session, "user.break_glass_changed")[-1].details == {
        "user_id": user.id,
        "break_glass": True,
    }
    assert _trygg(database_url, monkeypatch, "break-glass", "nobody").exit_code == 1
    changing_roles = _trygg(database_url, monkeypatch, "break-glass", "anna", "--role", "admin")
    assert changing_roles.exit_code == 1
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    assert _sign_in(Browser(sso_app()), "sam").status_code == 302
    sso_user = _account(session, provider, "sam")
    assert sso_user is not None
    refused = _trygg(database_url, monkeypatch, "break-glass", sso_user.username)
    assert refused.exit_code == 1 and "stadens konto" in refused.output


def test_without_sso_the_routes_are_closed_and_passwords_work(
    app: Flask, browser: Callable[[str | None], Browser]
) -> None:
    anonymous = browser(None)
    assert anonymous.get("/login/sso").status_code == 404
    assert anonymous.get("/login/sso/callback?code=x&state=y").status_code == 404
    assert "Stockholms stads konto" not in anonymous.text("/login")
    browser("anna")  # the embedded default: every demo account signs in with its password


def test_security_roles_need_a_second_factor_when_required(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    person = provider.add_user(ProviderUser("sam", ["trygg-sakerhet"], amr=["pwd"]))
    provider.add_user(ProviderUser("fia", ["trygg-fortroendevalda"], amr=["pwd"]))
    app = sso_app(require_mfa=True)
    refused = _sign_in(Browser(app), "sam")
    assert refused.status_code == 401
    assert "två steg" in refused.get_data(as_text=True)
    assert _account(session, provider, "sam") is None
    assert _audit(session, "login.failed")[-1].details["reason"] == "mfa_required"
    assert _sign_in(Browser(app), "fia").status_code == 302, "an official is not a security role"

    person.amr = ["pwd", "otp"]
    assert _sign_in(Browser(app), "sam").status_code == 302
    person.amr, person.acr = ["pwd"], "gold"
    assert (
        _sign_in(
            Browser(sso_app(require_mfa=True, mfa_acr_values=frozenset({"gold"}))), "sam"
        ).status_code
        == 302
    )


def test_second_factor_evidence() -> None:
    assert second_factor_proven({"amr": ["mfa"]}, frozenset())
    assert second_factor_proven({"amr": ["pwd", "hwk"]}, frozenset())
    assert not second_factor_proven({"amr": ["pwd"]}, frozenset())
    assert not second_factor_proven({"amr": "mfa"}, frozenset())
    assert not second_factor_proven({"acr": "1"}, frozenset({"2"}))
    assert second_factor_proven({"acr": "2"}, frozenset({"2"}))


def test_the_person_claim_takes_over_the_officials_existing_account(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(
        ProviderUser(
            "anna.a", ["trygg-fortroendevalda"], full_name="Anna A", email="ANNA@example.invalid"
        )
    )
    anna = session.scalar(select(User).where(User.username == "anna"))
    assert anna is not None and anna.person_id is not None
    client = Browser(sso_app(person_claim="email", local_login=LocalLogin.ON))
    assert _sign_in(client, "anna.a").status_code == 302
    assert "Rapportera händelse" in client.text("/")
    linked = _account(session, provider, "anna.a")
    assert linked is not None and linked.id == anna.id and linked.person_id == anna.person_id
    assert linked.password_hash is None, "one way in after the link"
    assert _audit(session, "user.linked_to_sso")[-1].details == {"person_linked": True}
    refused = Browser(client.app).submit("/login", {"username": "anna", "password": DEMO_PASSWORD})
    assert refused.status_code == 401


def test_without_the_person_claim_no_account_is_taken_over(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(
        ProviderUser("anna.a", ["trygg-fortroendevalda"], email="anna@example.invalid")
    )
    assert _sign_in(Browser(sso_app()), "anna.a").status_code == 302
    created = _account(session, provider, "anna.a")
    assert created is not None and created.username != "anna" and created.person_id is None
    anna_person = session.scalar(select(Person.id).where(Person.full_name == "Anna Andersson"))
    assert session.scalar(select(User.person_id).where(User.username == "anna")) == anna_person


def test_groups_giving_two_parties_are_refused(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(ProviderUser("bo", ["trygg-partikansli-fp", "trygg-partikansli-gp"]))
    response = _sign_in(Browser(sso_app()), "bo")
    assert response.status_code == 403
    assert "mer än ett parti" in response.get_data(as_text=True)
    assert _account(session, provider, "bo") is None


def test_a_group_map_naming_an_unknown_party_is_refused_and_logged(
    sso_app: Callable[..., Flask],
    provider: OidcProvider,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    group_map = tmp_path / "map.json"
    group_map.write_text(json.dumps({"kansli-x": {"role": "party_office", "party": "XX"}}))
    provider.add_user(ProviderUser("bo", ["kansli-x"]))
    response = _sign_in(Browser(sso_app(group_map_path=group_map)), "bo")
    assert response.status_code == 403
    assert "'kansli-x'" in caplog.text


def test_an_unreachable_provider_is_explained(
    sso_app: Callable[..., Flask], provider: OidcProvider
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = sso_app(issuer=f"http://127.0.0.1:{closed_port}", timeout_seconds=2.0)
    response = Browser(app).get("/login/sso")
    assert response.status_code == 502
    assert "svarar inte" in response.get_data(as_text=True)


def test_no_code_token_or_claim_reaches_the_log(
    sso_app: Callable[..., Flask], provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = provider.add_user(
        ProviderUser("sam", ["trygg-sakerhet"], full_name="Sam Secret", email="sam@example.invalid")
    )
    client = Browser(sso_app())
    callback = _at_provider(_start(client), user="sam")
    assert _back_at_app(client, callback).status_code == 302
    code = parse_qs(urlsplit(callback).query)["code"][0]
    for secret in (code, person.sub, "Sam Secret", "sam@example.invalid", CLIENT_SECRET):
        assert secret not in caplog.text


def test_the_group_map_is_checked_when_the_app_starts(tmp_path: Path) -> None:
    assert load_group_map(GROUP_MAP).grants["trygg-partikansli-fp"].party == "FP"
    bad = [
        [],
        {"g": {"role": "chief"}},
        {"g": {"role": "party_office"}},
        {"g": {"role": "security", "party": "FP"}},
        {"g": {"role": "committee"}},
        {"g": {"role": "security", "colour": "red"}},
        {"g": "security"},
    ]
    for data in bad:
        with pytest.raises(SsoConfigError):
            parse_group_map(data)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SsoConfigError, match="not valid JSON"):
        load_group_map(broken)
    with pytest.raises(SsoConfigError, match="TRYGG_OIDC_CLIENT_SECRET"):
        OidcSettings.from_env({"TRYGG_OIDC_ISSUER": "https://idp", "TRYGG_OIDC_CLIENT_ID": "x"})
    settings = OidcSettings.from_env(
        {
            "TRYGG_OIDC_ISSUER": "https://idp.example/realms/trygg",
            "TRYGG_OIDC_CLIENT_ID": "trygg",
            "TRYGG_OIDC_CLIENT_SECRET": "s",
            "TRYGG_OIDC_GROUP_MAP": str(GROUP_MAP),
        }
    )
    assert settings is not None and settings.groups_claim == "groups"
    assert settings.metadata_url == (
        "https://idp.example/realms/trygg/.well-known/openid-configuration"
    )
    assert OidcSettings.from_env({}) is None


def test_the_sso_routes_with_sso_on(sso_app: Callable[..., Flask], provider: OidcProvider) -> None:
    """The access matrix runs without SSO (404 for all); switched on, both routes are public."""
    app = sso_app(local_login=LocalLogin.ON)
    for actor in (None, "anna", "sakerhet"):
        client = Browser(app)
        if actor:
            client.login(actor)
        start = client.get("/login/sso")
        assert start.status_code == 302 and start.headers["Location"].startswith(provider.issuer)
        assert client.get("/login/sso/callback?code=x&state=y").status_code == 400


def test_an_account_turned_off_here_stays_off_whatever_the_groups(
    sso_app: Callable[..., Flask], provider: OidcProvider, session: Session
) -> None:
    provider.add_user(ProviderUser("sam", ["trygg-sakerhet"]))
    app = sso_app()
    assert _sign_in(Browser(app), "sam").status_code == 302
    user = _account(session, provider, "sam")
    assert user is not None
    user.active = False
    session.commit()
    client = Browser(app)
    refused = _sign_in(client, "sam")
    assert refused.status_code == 403 and "avstängt" in refused.get_data(as_text=True)
    assert client.get("/").status_code == 302
    failed = _audit(session, "login.failed")[-1].details
    assert failed["reason"] == "inactive" and failed["user_id"] == user.id
