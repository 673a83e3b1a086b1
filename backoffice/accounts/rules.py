"""Pure account rules: roles, safe redirects, password strength, sign-in throttling, session lifetimes and second
factors (TOTP codes, recovery codes). No Flask, database or clock here: ``now`` is an argument."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

import pyotp
from zxcvbn import zxcvbn


class Role(StrEnum):
    BILLER = "biller"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # A client practice's own staff (issue 20): bound to one practice, they use the client portal only.
    PRACTICE = "practice"


STAFF_ROLES = frozenset({Role.BILLER, Role.SUPERVISOR, Role.ADMIN})


def sees_whole_organization(role: Role) -> bool:
    """Supervisors and admins see every practice of their organization; billers and practice users only theirs."""
    return role in (Role.SUPERVISOR, Role.ADMIN)


def home_endpoint(role: Role | str) -> str:
    """Where a user lands after signing in: the client portal for a practice user, else their work queue."""
    return "portal.dashboard" if role == Role.PRACTICE else "work.queue"


# What a practice user may reach (issue 20): their account, the portal, the static files. Everything else (the
# company's queues, item pages, supervisor, routing, admin, exchange, the API) is refused before any view runs, so a
# route added later is closed to them until it is deliberately opened.
PRACTICE_ENDPOINT_PREFIXES = ("portal.", "accounts.")
PRACTICE_ENDPOINTS = frozenset({"static", "healthz", "onboarding.set_password"})


def practice_user_may_reach(endpoint: str | None) -> bool:
    """Whether a practice user may reach ``endpoint`` (None: no route matched; the 404 follows)."""
    if endpoint is None:
        return True
    return endpoint in PRACTICE_ENDPOINTS or endpoint.startswith(PRACTICE_ENDPOINT_PREFIXES)


def practice_binding_problem(role: Role | str, practice_count: int) -> str | None:
    """A practice user is bound to exactly one practice; why this binding is refused, or None."""
    if role == Role.PRACTICE and practice_count != 1:
        return "practices: a practice user belongs to exactly one practice; choose one"
    return None


def is_safe_next(target: str | None) -> bool:
    """Whether a post-login ``next`` target is a local path (no scheme, host, or protocol-relative trick)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


# --- Passwords ------------------------------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4: 3 is "safely unguessable: moderate protection from offline slow-hash attacks"
_SCORED_PREFIX = 100  # zxcvbn slows down on long input; a 100-character prefix that is strong makes the whole strong


def password_problem(password: str, *, user_inputs: Iterable[str] = ()) -> str | None:
    """Why ``password`` may not be set (too short, only spaces, or easy to guess: a common or breached password, a
    keyboard walk, a date, a repeat, the user's own name or email), or None. Never quotes the password."""
    if not password.strip():
        return "password: cannot be blank or only spaces"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password: at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password: at most {MAX_PASSWORD_LENGTH} characters"
    words = [word for value in user_inputs for word in _personal_words(value)]
    verdict = zxcvbn(password[:_SCORED_PREFIX], user_inputs=words)
    if verdict["score"] < MIN_PASSWORD_SCORE:
        warning = (verdict["feedback"].get("warning") or "it follows a common pattern").rstrip(".")
        return f"password: too easy to guess ({warning}); use a longer phrase of unrelated words"
    return None


def _personal_words(value: str) -> list[str]:
    """An email or a name as zxcvbn's own dictionary: the whole, the local part, and each word."""
    value = value.lower().strip()
    local = value.split("@", 1)[0]
    return [value, local, *value.replace("@", " ").replace(".", " ").replace("-", " ").split()]


# --- Sign-in throttling ---------------------------------------------------------------------------------------------

FIRST_WAIT = timedelta(seconds=30)


@dataclass(frozen=True)
class ThrottleLimits:
    """Attempts allowed before each further one must wait: for one account from one address (guessing a password),
    from one address across accounts (one password tried on many accounts), for one account from anywhere (guessing
    from many addresses). A bucket forgets its attempts after ``window`` without one."""

    account_address: int = 5
    address: int = 20
    account: int = 50
    window: timedelta = timedelta(minutes=15)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def throttle_buckets(email: str, address: str | None, limits: ThrottleLimits) -> list[tuple[str, int]]:
    """The (key, limit) of every bucket an attempt for ``email`` from ``address`` counts in, in key order (so that
    concurrent attempts lock them in the same order). Keys are digests: the throttle table holds no email."""
    return sorted(
        [
            (account_address_key(email, address), limits.account_address),
            (address_key(address), limits.address),
            (account_key(email), limits.account),
        ]
    )


def account_address_key(email: str, address: str | None) -> str:
    identity = _digest(email) + "|" + (address or "-")
    return f"aa:{_digest(identity)[:56]}"


def address_key(address: str | None) -> str:
    return f"ad:{_digest(address or '-')[:56]}"


def account_key(email: str) -> str:
    return f"ac:{_digest(email)[:56]}"


def throttle_wait(attempts: int, limit: int, window: timedelta) -> timedelta | None:
    """How long the attempt after the ``attempts``-th must wait: nothing below the limit, then 30 s, doubling with each
    further attempt, never more than ``window``. A wait slows a guesser down without locking the user out for good."""
    if attempts < limit:
        return None
    return min(window, FIRST_WAIT * 2 ** min(attempts - limit, 16))


def throttle_message(retry_after: timedelta) -> str:
    """The same words for every account, known or not."""
    seconds = max(1, int(retry_after.total_seconds() + 0.999))
    when = f"{seconds} second{'s' if seconds > 1 else ''}" if seconds < 120 else f"{(seconds + 59) // 60} minutes"
    return f"Too many failed sign-ins. Try again in {when}."


# --- Sessions -------------------------------------------------------------------------------------------------------


def session_end_reason(
    *, created_at: datetime, last_seen_at: datetime, now: datetime, idle: timedelta, max_age: timedelta
) -> str | None:
    """Why a live session must end now ("max_age": signed in too long ago; "idle": unused too long), or None."""
    if now - created_at >= max_age:
        return "max_age"
    if now - last_seen_at > idle:
        return "idle"
    return None


# --- Second factor --------------------------------------------------------------------------------------------------

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
RECOVERY_GROUPS = 4  # xxxx-xxxx-xxxx-xxxx: 16 characters of 31, ~79 bits
PENDING_SIGN_IN = timedelta(minutes=5)  # between a right password and its code
MAX_REMEMBER_DAYS = 90


def mfa_required(role: Role | str, required_roles: Sequence[str]) -> bool:
    """Whether the organization's setting makes ``role`` sign in with a second factor."""
    return str(role) in set(required_roles)


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second time step (RFC 6238) whose code is ``code`` at ``now``, allowing one step of clock drift either
    way, or None. The caller refuses a step at or before the last one it accepted (no replays)."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_code_digest(code: str) -> str:
    """What the database keeps of a recovery code (codes are random and long, so a plain SHA-256 is enough)."""
    return _digest(normalize_recovery_code(code))


def format_recovery_code(raw: str) -> str:
    size = len(raw) // RECOVERY_GROUPS
    return "-".join(raw[i : i + size] for i in range(0, len(raw), size))


def is_totp_shaped(code: str) -> bool:
    digits = code.strip().replace(" ", "")
    return len(digits) == 6 and digits.isdigit()
