"""Clearinghouse credentials encrypted at rest: a JSON object (password, private_key, api_key, ...) sealed with
``cryptography``'s MultiFernet under the keys of ``BACKOFFICE_CREDENTIAL_KEYS`` (comma-separated, newest first).

Rotation: put a new key first and keep the old ones after it; every token still opens, new ones are sealed with
the first key; ``backoffice connections rotate-keys`` re-seals every stored token under the first key, after which
the old keys can be dropped. Outside demo and test there is no default key: storing a secret without one is an
error. Secrets are never logged and never shown back (``mask``)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backoffice.errors import ValidationFailed
from backoffice.settings import Settings

SECRET_FIELDS = ("password", "private_key", "private_key_passphrase", "api_key", "client_secret")


class CredentialKeysMissing(ValidationFailed):
    """No key to seal or open a credential with."""


def keys_of(settings: Settings) -> list[bytes]:
    """The configured Fernet keys, newest first; in demo/test a key derived from the secret key when none is set."""
    if settings.credential_keys:
        return [part.strip().encode("ascii") for part in settings.credential_keys.split(",") if part.strip()]
    if settings.env in ("demo", "test") and settings.secret_key:
        digest = hashlib.sha256(b"backoffice credential key:" + settings.secret_key.encode()).digest()
        return [base64.urlsafe_b64encode(digest)]
    raise CredentialKeysMissing(
        "set BACKOFFICE_CREDENTIAL_KEYS (a Fernet key: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())') before storing clearinghouse credentials"
    )


def cipher(settings: Settings) -> MultiFernet:
    """The MultiFernet over every configured key (the first one seals)."""
    return MultiFernet([Fernet(key) for key in keys_of(settings)])


def seal(settings: Settings, secrets: Mapping[str, str]) -> str | None:
    """The encrypted token of ``secrets`` (empty values dropped); None when nothing is left."""
    kept = {name: value for name, value in secrets.items() if value}
    if not kept:
        return None
    return cipher(settings).encrypt(json.dumps(kept, sort_keys=True).encode()).decode("ascii")


def unseal(settings: Settings, token: str | None) -> dict[str, str]:
    """The secrets of ``token`` ({} for none); a token no key opens is an error that shows no part of it."""
    if not token:
        return {}
    try:
        return json.loads(cipher(settings).decrypt(token.encode("ascii")))
    except InvalidToken:
        raise ValidationFailed(
            "stored credentials cannot be decrypted with BACKOFFICE_CREDENTIAL_KEYS (was a key removed too early?)"
        ) from None


def rotate(settings: Settings, token: str | None) -> str | None:
    """``token`` re-sealed under the first key (the step that lets an old key be retired)."""
    return cipher(settings).rotate(token.encode("ascii")).decode("ascii") if token else None


def mask(secrets: Mapping[str, str]) -> dict[str, str]:
    """What a page may show of the secrets: which are set, never their value."""
    return {name: "set" for name, value in secrets.items() if value}
