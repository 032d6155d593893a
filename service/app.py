"""The application factory."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, render_template, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from service.api.rest import register_api
from service.auth import session_limits
from service.config import Settings
from service.context import Services
from service.crypto import cipher as field_cipher
from service.errors import DomainError
from service.i18n import LANGUAGES, TRANSLATIONS_DIR, compile_catalogs
from service.logging_setup import configure as configure_logging
from service.people.models import User
from service.web import (
    account_views,
    admin_views,
    auth_views,
    case_views,
    casenote_views,
    designer_views,
    diagram_views,
    health_views,
    home_views,
    migration_views,
    notify_views,
    observability,
    police_views,
    privacy_views,
    release_views,
    report_views,
    second_factor_views,
    sso_views,
    task_views,
)
from service.web.dates import register_date_filters
from service.web.finding_text import register_finding_filter
from service.web.labels import template_globals
from service.web.request_context import db
from service.web.signin import session_is_current
from service.web.translate import _

log = logging.getLogger(__name__)


def _select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else "sv"


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    services = services or Services.create(settings)
    compile_catalogs()
    field_cipher()  # a wrong TRYGG_FIELD_KEYS stops the start, not the first case

    configure_logging("web")
    app = Flask(__name__)
    observability.install(app)  # first: the request id exists for every later hook
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        # A shaken person may take long over a report: the CSRF token lives
        # as long as the session does.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="sv",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
    )
    app.extensions["trygg"] = services

    csrf = CSRFProtect(app)
    Babel(app, locale_selector=_select_locale)

    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""  # the login page explains itself

    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        found = db().scalar(select(User).where(User.id == int(user_id), User.active.is_(True)))
        if found is not None and not session_is_current(found):
            return None  # signed out everywhere since (password changed, second factor reset)
        return found

    login_manager.user_loader(load_user)
    session_limits.install(app)

    for blueprint in (
        auth_views.bp,
        home_views.bp,
        case_views.bp,
        casenote_views.bp,
        task_views.bp,
        notify_views.bp,
        admin_views.bp,
        diagram_views.bp,
        designer_views.bp,
        migration_views.bp,
        police_views.bp,
        report_views.bp,
        health_views.bp,
        sso_views.bp,
        second_factor_views.bp,
        account_views.bp,
        privacy_views.bp,
        release_views.bp,
    ):
        app.register_blueprint(blueprint)
    register_api(app, csrf)

    app.context_processor(template_globals)
    register_date_filters(app)
    register_finding_filter(app)
    _register_error_handlers(app)
    _register_transaction(app)
    return app


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, status=status), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        _rollback()
        titles = {403: _("Not allowed"), 404: _("Not found"), 409: _("Already handled")}
        return _error_page(
            exc.status,
            titles.get(exc.status, _("Something is wrong")),
            _(exc.message, **exc.params),
        )

    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> Any:
        _rollback()
        return _error_page(
            400,
            _("The page had expired"),
            _(
                "For your security the form could only be sent from a fresh page. Go back, reload the page and send again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        _rollback()
        status = exc.code or 500
        messages = {
            404: (
                _("Not found"),
                _("The page does not exist. Check the address or go to the start page."),
            ),
            405: (_("Not allowed"), _("That action cannot be done on this page.")),
            413: (
                _("Too large"),
                _("What you sent was too large. Shorten the text and try again."),
            ),
            400: (
                _("Something is wrong"),
                _("The request could not be understood. Reload the page and try again."),
            ),
        }
        title, message = messages.get(
            status, (_("Something went wrong"), _("Try again in a moment."))
        )
        return _error_page(status, title, message)

    @app.errorhandler(StaleDataError)
    def stale(_exc: StaleDataError) -> Any:
        _rollback()
        return _error_page(
            409,
            _("Already handled"),
            _("Someone else changed this at the same time. Reload the page and try again."),
        )

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError) -> Any:
        _rollback()
        text = str(exc.orig).lower()
        if "locked" in text or "could not serialize" in text or "deadlock" in text:
            return _error_page(
                409,
                _("Already handled"),
                _("Someone else changed this at the same time. Reload the page and try again."),
            )
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return _error_page(
            503,
            _("Something went wrong"),
            _(
                "Nothing you sent was lost that had been saved before. Try again in a moment. In danger: call 112."
            ),
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        _rollback()
        log.exception("unhandled error on %s %s", request.method, request.url_rule)
        return _error_page(
            500,
            _("Something went wrong"),
            _(
                "Nothing you sent was lost that had been saved before. Try again in a moment. In danger: call 112."
            ),
        )


def _rollback() -> None:
    if "db_session" in g:
        g.db_session.rollback()


def _register_transaction(app: Flask) -> None:
    @app.after_request
    def commit_and_harden(response: Response) -> Response:
        if "db_session" in g and response.status_code < 500:
            try:
                g.db_session.commit()
            except (StaleDataError, OperationalError):
                g.db_session.rollback()
                log.warning("commit failed; request answered with 409")
                body, status = _error_page(
                    409,
                    _("Already handled"),
                    _("Someone else changed this at the same time. Reload the page and try again."),
                )
                response = Response(body, status=status, mimetype="text/html")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            # Pages hold personal data: never keep them in shared caches.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.teardown_request
    def close_session(exc: BaseException | None) -> None:
        session_ = g.pop("db_session", None)
        if session_ is not None:
            if exc is not None:
                session_.rollback()
            session_.close()
