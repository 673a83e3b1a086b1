"""The one settings loader: reads ``BACKOFFICE_*`` variables strictly and refuses unsafe production setups."""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "BACKOFFICE_"
# ``demo``: `backoffice demo` (a random secret kept in the instance folder); ``test``: the test suite (its fixtures
# pass a secret). Everywhere else the secret must be configured: no key ships with the source.
ENVIRONMENTS = ("development", "demo", "test", "production")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
MIN_SECRET_LENGTH = 32
INSTANCE_SECRET_FILE = "secret_key"  # noqa: S105 - a file name


class SettingsError(ValueError):
    """A setting is missing, unknown or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, parsed and validated."""

    env: str = "development"
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None  # signs session cookies, CSRF tokens and remembered-device cookies
    timezone: str = "America/New_York"
    instance_path: str | None = None
    # Sign-in throttling (accounts/throttle.py): wrong passwords or codes for one account from one address, from one
    # address across accounts, and for one account from anywhere; past each limit every further try waits longer.
    login_max_failures: int = 5
    login_address_max_failures: int = 20
    login_account_max_failures: int = 50
    login_window_minutes: int = 15
    session_idle_minutes: int = 30
    session_max_hours: int = 12  # a session ends this long after sign-in however busy it is
    api_token_days: int = 90  # the default lifetime of an API token (`users token --days` chooses another)
    log_level: str = "INFO"
    proxy_hops: int = 0  # trusted reverse proxies in front of the web processes (X-Forwarded-For/-Proto); 0: none
    # The largest request body the web app accepts (uploads, API imports); larger ones get 413.
    max_request_mb: int = 16
    # The Prefect server serving the flows: an import triggers its intake run there (BACKOFFICE_PREFECT_API_URL, else
    # Prefect's own PREFECT_API_URL); unset or unreachable, the import plans its sessions itself and logs why.
    prefect_api_url: str | None = None
    # Fernet keys (comma-separated, newest first) that encrypt clearinghouse credentials at rest
    # (clearinghouse/credentials.py). No default outside demo/test, where one is derived from the secret key.
    credential_keys: str | None = None
    # Where attached documents are stored (documents/storage.py): ``local`` (``<instance>/documents``) or ``s3`` (an
    # S3-compatible bucket). For s3 the bucket is required; the endpoint URL (MinIO, Ceph; unset: AWS), region, key
    # prefix and keys are optional (no keys: boto3's own chain, e.g. an instance role). No key has a default.
    document_storage: str = "local"
    document_bucket: str | None = None
    document_s3_endpoint_url: str | None = None
    document_s3_region: str | None = None
    document_s3_prefix: str | None = None
    document_s3_access_key_id: str | None = None
    document_s3_secret_access_key: str | None = None

    @property
    def is_production(self) -> bool:
        return self.env == "production"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def parse_bool(name: str, raw: str) -> bool:
    """Parse one of a fixed set of spellings; anything else is an error naming the variable."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{PREFIX}{name.upper()}: expected one of {sorted(TRUE_WORDS | FALSE_WORDS)}, got {raw!r}")


def _parse(name: str, raw: Any) -> Any:
    kind = _FIELDS[name].type
    if not isinstance(raw, str):
        return raw
    if kind == "int":
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{PREFIX}{name.upper()}: expected an integer, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{PREFIX}{name.upper()}: must be positive, got {value}")
        return value
    if kind == "bool":
        return parse_bool(name, raw)
    return raw.strip() or None if kind.endswith("None") else raw.strip()


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build Settings from ``BACKOFFICE_*`` variables, then ``overrides``; unknown names are errors."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(PREFIX) or key.startswith((PREFIX + "TEST_", PREFIX + "BENCH_")):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in _FIELDS:
            raise SettingsError(f"{key}: unknown setting (known: {', '.join(sorted(_FIELDS))})")
        values[name] = _parse(name, raw)
    for name, raw in (overrides or {}).items():
        if name not in _FIELDS:
            raise SettingsError(f"override {name!r}: unknown setting")
        values[name] = _parse(name, raw)
    if values.get("prefect_api_url") is None and (environ.get("PREFECT_API_URL") or "").strip():
        values["prefect_api_url"] = environ["PREFECT_API_URL"].strip()
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.env not in ENVIRONMENTS:
        raise SettingsError(f"{PREFIX}ENV: expected one of {ENVIRONMENTS}, got {settings.env!r}")
    if settings.secret_key is None and settings.env in ("test", "production"):
        raise SettingsError(f"{PREFIX}SECRET_KEY is required in {settings.env}")
    if settings.secret_key is not None and settings.env != "test" and len(settings.secret_key) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{PREFIX}SECRET_KEY: use at least {MIN_SECRET_LENGTH} random characters")
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{PREFIX}TIMEZONE: unknown time zone {settings.timezone!r}") from None
    if settings.database_url and "://" not in settings.database_url:
        raise SettingsError(f"{PREFIX}DATABASE_URL: not a URL: {settings.database_url!r}")
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"{PREFIX}REDIS_URL: expected redis://, rediss:// or unix://")
    if settings.prefect_api_url and not settings.prefect_api_url.startswith(("http://", "https://")):
        raise SettingsError(f"{PREFIX}PREFECT_API_URL: expected an http:// or https:// URL")
    if settings.credential_keys:
        _check_fernet_keys(settings.credential_keys)
    _check_document_storage(settings)
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"{PREFIX}LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR")


def _check_document_storage(settings: Settings) -> None:
    if settings.document_storage not in ("local", "s3"):
        raise SettingsError(f"{PREFIX}DOCUMENT_STORAGE: expected local or s3, got {settings.document_storage!r}")
    if settings.document_storage != "s3":
        return
    if not settings.document_bucket:
        raise SettingsError(f"{PREFIX}DOCUMENT_BUCKET is required when {PREFIX}DOCUMENT_STORAGE=s3")
    url = settings.document_s3_endpoint_url
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(f"{PREFIX}DOCUMENT_S3_ENDPOINT_URL: expected an http:// or https:// URL")
    if bool(settings.document_s3_access_key_id) != bool(settings.document_s3_secret_access_key):
        raise SettingsError(
            f"{PREFIX}DOCUMENT_S3_ACCESS_KEY_ID and {PREFIX}DOCUMENT_S3_SECRET_ACCESS_KEY: set both or neither"
        )
    if url and url.startswith("http://") and settings.is_production:
        host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            raise SettingsError(f"{PREFIX}DOCUMENT_S3_ENDPOINT_URL: documents are PHI; use https:// in production")


def _check_fernet_keys(raw: str) -> None:
    """Each comma-separated key must be a Fernet key (32 url-safe base64 bytes); the message never shows one."""
    for n, key in enumerate((part.strip() for part in raw.split(",")), start=1):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (ValueError, UnicodeEncodeError):
            ok = False
        if not ok:
            raise SettingsError(f"{PREFIX}CREDENTIAL_KEYS: key {n} is not a Fernet key (Fernet.generate_key())")


def require_secret(settings: Settings, *, instance_path: str | Path) -> Settings:
    """``settings`` with the secret key a process that serves or works must have: the configured one; under
    ``BACKOFFICE_ENV=demo`` a random one kept in the instance folder (one per instance, so a restart keeps the
    sessions); anywhere else a SettingsError (no process signs cookies with a key anyone can read)."""
    if settings.secret_key is not None:
        return settings
    if settings.env == "demo":
        return dataclasses.replace(settings, secret_key=instance_secret(Path(instance_path)))
    raise SettingsError(
        f"{PREFIX}SECRET_KEY is required (only `backoffice demo` and the tests run without one): set it to at least "
        f"{MIN_SECRET_LENGTH} random characters, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )


def instance_secret(instance_path: Path) -> str:
    """The demo instance's own random secret, created on first use in ``<instance>/secret_key`` readable by its owner
    only (0600)."""
    path = instance_path / INSTANCE_SECRET_FILE
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{path}: not a secret this instance wrote; delete it to make a new one") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret + "\n")
    return secret


def default_database_url(instance_path: str | Path) -> str:
    """The embedded default: a SQLite file under the instance folder."""
    return f"sqlite:///{Path(instance_path) / 'backoffice.sqlite3'}"
