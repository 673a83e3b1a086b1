"""The application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from backoffice import filters, request_guard, tasks
from backoffice.accounts.admin_views import bp as users_bp
from backoffice.accounts.idle import enforce_idle_logoff
from backoffice.accounts.views import bp as accounts_bp
from backoffice.api.views import bp as api_bp
from backoffice.appeals.views import bp as appeals_bp
from backoffice.appointments.views import bp as appointments_bp
from backoffice.audit import services as audit_services
from backoffice.audit.views import bp as audit_bp
from backoffice.authorizations import subscriptions as authorizations_subscriptions
from backoffice.automation import subscriptions as automation_subscriptions
from backoffice.automation.views import bp as automation_bp
from backoffice.balances.views import bp as balances_bp
from backoffice.claimcontext import subscriptions as claimcontext_subscriptions
from backoffice.claims import subscriptions as claims_subscriptions
from backoffice.claims.views import bp as claims_bp
from backoffice.clearinghouse.views import bp as clearinghouse_bp
from backoffice.contracts.views import bp as contracts_bp
from backoffice.coverage.views import bp as coverage_bp
from backoffice.credentialing import api as credentialing_api  # noqa: F401 - adds its routes to the API blueprint
from backoffice.credentialing import subscriptions as credentialing_subscriptions
from backoffice.credentialing.views import bp as credentialing_bp
from backoffice.db_liveness import check_on_checkout
from backoffice.documents import services as document_services
from backoffice.documents.views import bp as documents_bp
from backoffice.error_pages import init_app as init_error_pages
from backoffice.extensions import csrf, db, login_manager, migrate
from backoffice.itemforms.views import bp as itemforms_bp
from backoffice.money import subscriptions as money_subscriptions
from backoffice.money.views import bp as money_bp
from backoffice.onboarding import api as onboarding_api  # noqa: F401  (its routes join the API blueprint)
from backoffice.onboarding.views import bp as onboarding_bp
from backoffice.portal import guard as portal_guard
from backoffice.portal import subscriptions as portal_subscriptions
from backoffice.portal.staff_views import bp as practice_requests_bp
from backoffice.portal.views import bp as portal_bp
from backoffice.remits import subscriptions as remits_subscriptions
from backoffice.remits.views import bp as remits_bp
from backoffice.reports.views import bp as reports_bp
from backoffice.routing import subscriptions as routing_subscriptions
from backoffice.routing.views import bp as routing_bp
from backoffice.settings import Settings, default_database_url, load_settings, require_secret
from backoffice.supervisor.views import bp as supervisor_bp
from backoffice.work.views import bp as work_bp

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: Mapping[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the app from ``BACKOFFICE_*`` settings plus ``overrides``; opens no connection."""
    settings = settings or load_settings(overrides=overrides)
    app = Flask(
        "backoffice",
        root_path=str(Path(__file__).parent),
        instance_path=instance_path_for(settings),
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    if settings.database_url is None:  # the embedded default lives in the instance folder (as in flaskr)
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        BACKOFFICE_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url or default_database_url(app.instance_path),
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=settings.session_idle_minutes * 60,
        SESSION_REFRESH_EACH_REQUEST=False,  # the idle timer re-sends the cookie once a minute (accounts/idle.py)
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=settings.max_request_mb * 1024 * 1024,
        TESTING=settings.env == "test",
    )
    logging.getLogger("backoffice").setLevel(settings.log_level.upper())
    # A root logger at DEBUG must not turn on SQL echo: result rows are patient data (docs/security.md).
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    db.init_app(app)
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        with app.app_context():  # the engine exists once bound; building it opens no connection
            check_on_checkout(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"
    tasks.init_app(app)
    document_services.init_app(app)  # an upload that rolls back deletes what it stored
    filters.init_app(app)

    app.register_blueprint(accounts_bp)
    app.register_blueprint(work_bp)
    app.register_blueprint(automation_bp)
    app.register_blueprint(credentialing_bp)
    app.register_blueprint(coverage_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(money_bp)
    for feature_bp in (
        itemforms_bp,
        routing_bp,
        supervisor_bp,
        appeals_bp,
        balances_bp,
        audit_bp,
        users_bp,
        contracts_bp,
        documents_bp,
        claims_bp,
        appointments_bp,
        remits_bp,
        portal_bp,
        practice_requests_bp,
    ):
        app.register_blueprint(feature_bp)
    app.register_blueprint(onboarding_bp)
    app.register_blueprint(clearinghouse_bp)
    csrf.exempt(api_bp)  # bearer tokens; the API holds writes without one to CSRF itself
    app.after_request(_security_headers)
    app.add_url_rule("/healthz", "healthz", _healthz)
    if settings.proxy_hops:  # the client's address (audit trail, sign-in throttling) and scheme from the proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    app.register_error_handler(404, lambda e: (render_template("errors/404.html"), 404))
    app.register_error_handler(403, lambda e: (render_template("errors/403.html"), 403))
    _init_safeguards(app)
    _subscribe_features()
    return app


def _subscribe_features() -> None:
    """Connect the features to the kernel's signals (backoffice/signals.py); connecting again is a no-op."""
    automation_subscriptions.subscribe()
    credentialing_subscriptions.subscribe()
    authorizations_subscriptions.subscribe()
    claimcontext_subscriptions.subscribe()
    claims_subscriptions.subscribe()
    money_subscriptions.subscribe()
    remits_subscriptions.subscribe()
    routing_subscriptions.subscribe()
    portal_subscriptions.subscribe()


def instance_path_for(settings: Settings) -> str:
    """The instance folder: ``BACKOFFICE_INSTANCE_PATH``, else ``instance/`` beside the package (as in flaskr)."""
    return settings.instance_path or str(ROOT / "instance")


def create_serving_app(settings: Settings | None = None) -> Flask:
    """The app of a process that serves requests or runs jobs: refuses (SettingsError) to start without a secret key
    outside ``demo`` (which keeps a random one per instance) and the tests."""
    settings = settings or load_settings()
    return create_app(settings=require_secret(settings, instance_path=instance_path_for(settings)))


def freeze_for_workers() -> None:
    """Once the app is built, before gunicorn forks (or in each worker): collect once, then move everything alive
    (the app, its mappers, compiled rule tables) into the permanent generation, so the workers' garbage collections
    never walk it again. Measured with Get next over HTTP: the slowest of 1,280 requests 161–177 ms before, 24–26 ms
    after, and 5.7 → 5.1 ms of web CPU per request (bench/RESULTS.md, run 8)."""
    gc.collect()
    gc.freeze()


def _init_safeguards(app: Flask) -> None:
    """Idle logoff, the PHI-read audit hook, and error pages and logs that never echo an exception's message."""

    app.before_request(enforce_idle_logoff)
    portal_guard.init_app(app)  # practice users: the client portal and their account only
    audit_services.init_app(app)
    init_error_pages(app)
    request_guard.init_app(app)  # a NUL in any argument, form field or JSON string: 400 naming it, first of all


def _engine_options(url: str | None) -> dict[str, Any]:
    # Statement parameters are patient data: never in SQL logs or in database errors' messages.
    if url is None or url.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    # Enough connections for a threaded web process or 16 concurrent claimers per process. No pool_pre_ping: a pooled
    # connection is pinged only when its socket says the server has closed it (db_liveness.py), not on every request.
    return {"pool_size": 10, "max_overflow": 20, "hide_parameters": True}


def _healthz() -> tuple[str, int, dict[str, str]]:
    """For load balancers and process supervisors: 200 when the database answers, else 503; no sign-in, no
    details."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return "database unavailable\n", 503, {"Content-Type": "text/plain"}
    return "ok\n", 200, {"Content-Type": "text/plain"}


def _security_headers(response: Any) -> Any:
    if request.endpoint != "static":
        # Pages, CSVs, PDFs and JSON carry patient data (and the sign-in pages codes): no browser or proxy may keep a
        # copy, nor show one from the back button after sign-out. Static files stay cacheable.
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
