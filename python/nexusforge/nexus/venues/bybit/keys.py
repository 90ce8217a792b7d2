"""API credentials: read only from environment variables or a 0600 keyfile; the secret never leaks.

Environment variables:
    NEXUSFORGE_BYBIT_API_KEY      the API key
    NEXUSFORGE_BYBIT_API_SECRET   the API secret (HMAC)
    NEXUSFORGE_BYBIT_KEYFILE      optional path of a TOML keyfile used when the two above are unset

A keyfile is TOML with `api_key = "..."` and `api_secret = "..."`; it must be owned by the current
user and readable by nobody else (mode 0600 or 0400), otherwise it is refused.
The secret is held privately by `Credentials` and only ever used to compute an HMAC: its repr and
str hide it, and `SecretFilter` scrubs it from log records should it ever be formatted into one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from nexusforge.nexus.venues.bybit.errors import CredentialsError

ENV_API_KEY = "NEXUSFORGE_BYBIT_API_KEY"
ENV_API_SECRET = "NEXUSFORGE_BYBIT_API_SECRET"  # noqa: S105 - a variable name, not a secret
ENV_KEYFILE = "NEXUSFORGE_BYBIT_KEYFILE"
REDACTED = "***"


class Credentials:
    """An API key and its secret; the secret can sign but is never shown."""

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        if not api_key or not api_secret:
            raise CredentialsError("api key and api secret must both be non-empty")
        if api_key.strip() != api_key or api_secret.strip() != api_secret:
            raise CredentialsError("api key or secret has leading/trailing whitespace")
        self.api_key = api_key
        self._secret = api_secret.encode()

    def sign(self, message: bytes) -> str:
        """Lowercase hex HMAC-SHA256 of `message` under the secret."""
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the secret replaced."""
        secret = self._secret.decode()
        return text.replace(secret, REDACTED) if secret in text else text

    def __repr__(self) -> str:
        return f"Credentials(api_key={_mask(self.api_key)!r}, api_secret={REDACTED!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Credentials cannot be pickled")


def _mask(key: str) -> str:
    return key[:4] + "…" if len(key) > 8 else "…"


def from_env(env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from the environment, None when neither variable is set."""
    env = os.environ if env is None else env
    key, secret = env.get(ENV_API_KEY), env.get(ENV_API_SECRET)
    if key is None and secret is None:
        return None
    if not key or not secret:
        raise CredentialsError(f"set both {ENV_API_KEY} and {ENV_API_SECRET}, or neither")
    return Credentials(key, secret)


def from_keyfile(path: Path) -> Credentials:
    """Credentials from a TOML keyfile that only its owner can read (0600/0400)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise CredentialsError(f"keyfile {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsError(f"keyfile {path} is not a regular file")
    if info.st_mode & 0o077:
        raise CredentialsError(
            f"keyfile {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
            f"it must be readable by its owner only (chmod 600 {path})"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CredentialsError(f"keyfile {path} is not owned by the current user")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # The parser's message may quote the file; the file holds the secret.
        raise CredentialsError(f"keyfile {path} is not valid UTF-8 TOML") from None
    key, secret = doc.get("api_key"), doc.get("api_secret")
    if not isinstance(key, str) or not isinstance(secret, str):
        raise CredentialsError(f"keyfile {path} needs string entries api_key and api_secret")
    return Credentials(key, secret)


def load_credentials(
    keyfile: Path | None = None, env: Mapping[str, str] | None = None
) -> Credentials:
    """Credentials from `keyfile`, else the environment, else the keyfile the environment names."""
    env = os.environ if env is None else env
    if keyfile is not None:
        return from_keyfile(keyfile)
    found = from_env(env)
    if found is not None:
        return found
    named = env.get(ENV_KEYFILE)
    if named:
        return from_keyfile(Path(named))
    raise CredentialsError(
        f"no Bybit credentials: set {ENV_API_KEY} and {ENV_API_SECRET}, or {ENV_KEYFILE}"
    )


class SecretFilter(logging.Filter):
    """A logging filter that replaces the secrets of the given credentials in every record."""

    def __init__(self, credentials: Iterable[Credentials]) -> None:
        super().__init__()
        self._credentials = tuple(credentials)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for cred in self._credentials:
            clean = cred.redact(clean)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Format the traceback here, or the handler's formatter would render it unredacted.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        for cred in self._credentials:
            if record.exc_text:
                record.exc_text = cred.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = cred.redact(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


def install_secret_filter(
    credentials: Credentials, handlers: Iterable[logging.Handler] | None = None
) -> SecretFilter:
    """Attach a `SecretFilter` to `handlers` (default: the root logger's handlers)."""
    flt = SecretFilter([credentials])
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        handler.addFilter(flt)
    return flt
