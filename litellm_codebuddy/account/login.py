"""Log in to CodeBuddy with the device flow and keep the token (EXPERIMENTAL).

The endpoints come from other public clients' reports (see docs/gateway.md#device-login), not from CodeBuddy's
documentation: they may change without notice. An API key (``CODEBUDDY_API_KEY``) is the supported way.

- :func:`login` runs the device flow: ``POST {base}/plugin/auth/state?platform=CLI`` gives a ``state`` and an
  ``authUrl`` the user opens; ``GET {base}/plugin/auth/token?state=...`` is polled (code 11217 = still pending)
  until it gives ``accessToken``, ``refreshToken`` and ``expiresIn`` (86400 s when absent).
- The token lives in ``$XDG_CONFIG_HOME/litellm-codebuddy/token.json`` (else ``~/.config/...``), mode 0600,
  written atomically (temporary file + ``os.replace``) under an exclusive lock (``fcntl.flock`` on a
  ``token.json.lock`` file; without ``fcntl`` the write is still atomic, only unlocked).
- :func:`stored_token` is what the provider uses when it has no API key: it refreshes the token when less than
  :data:`REFRESH_MARGIN` seconds are left (``POST {base}/plugin/auth/token/refresh`` with ``X-Refresh-Token``),
  under the lock so that two processes do not both refresh, and never starts an interactive login: without a
  usable token it raises ``litellm.AuthenticationError`` naming ``CODEBUDDY_API_KEY`` and
  ``litellm-codebuddy login``. It blocks (lock, file, network): the provider's async paths call it in a worker
  thread (:mod:`litellm_codebuddy.account.credentials` decides when it is needed).

Tokens are never logged, printed or put in an exception message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import litellm

from ..endpoint import DEFAULT_API_BASE, KEY_ENV, KEYS_URL, PROVIDER, key_is_well_formed
from .http import LOGIN_HEADERS, AccountError, answer_code, code_error, request_json, roots, session

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "PENDING_CODE",
    "REFRESH_MARGIN",
    "LoginError",
    "LoginStart",
    "StoredToken",
    "delete_token",
    "load_token",
    "login",
    "poll_login",
    "refresh",
    "save_token",
    "start_login",
    "stored_token",
    "token_path",
]

logger = logging.getLogger(__name__)

APP_DIR = "litellm-codebuddy"
TOKEN_FILE = "token.json"
PENDING_CODE = 11217
DEFAULT_EXPIRES_IN = 86400
DEFAULT_INTERVAL = 5.0
#: refresh when fewer seconds than this are left
REFRESH_MARGIN = 300.0
LOCK_TIMEOUT = 30.0

LOGIN_HINT = "run `litellm-codebuddy login` (experimental)"


# ---------------------------------------------------------------- the token and its file


@dataclass(frozen=True)
class StoredToken:
    """A login token as stored on disk. ``repr`` never shows the tokens."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    api_base: str
    obtained_at: float

    def expires_in(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "api_base": self.api_base,
            "obtained_at": self.obtained_at,
        }

    @classmethod
    def from_json(cls, obj: Any) -> StoredToken:
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        access = obj.get("access_token")
        if not isinstance(access, str) or not key_is_well_formed(access):
            raise ValueError("no usable access_token")
        refresh_tok = obj.get("refresh_token") or ""
        if not isinstance(refresh_tok, str):
            raise ValueError("refresh_token is not a string")
        expires_at = obj.get("expires_at")
        if not isinstance(expires_at, (int, float)):
            raise ValueError("no expires_at")
        base = obj.get("api_base") or DEFAULT_API_BASE
        obtained = obj.get("obtained_at")
        return cls(
            access,
            refresh_tok,
            float(expires_at),
            str(base),
            float(obtained) if isinstance(obtained, (int, float)) else 0.0,
        )


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/litellm-codebuddy`` (an absolute XDG_CONFIG_HOME only), else ``~/.config/...``."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return root / APP_DIR


def token_path() -> Path:
    return config_dir() / TOKEN_FILE


@contextlib.contextmanager
def locked(path: Path | None = None, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive lock on ``<token file>.lock`` (``fcntl.flock``), shared by every process of the user.

    Without ``fcntl`` (Windows) it does nothing: writes stay atomic, only concurrent refreshes are not
    serialised. After ``timeout`` seconds it goes on without the lock (with a warning) rather than hang.
    """
    path = path or token_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        held = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    logger.warning("CodeBuddy: could not lock %s within %.0f s; going on without it", path, timeout)
                    break
                time.sleep(0.02)
        try:
            yield
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def load_token(path: Path | None = None) -> StoredToken | None:
    """The stored token, or None when there is none. Raises ValueError for an unreadable or corrupt file."""
    path = path or token_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return StoredToken.from_json(json.loads(text))
    except ValueError as exc:
        raise ValueError(f"{path} is not a valid token file ({exc})") from None


def _write_atomic(path: Path, tok: StoredToken) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".token.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            with contextlib.suppress(OSError, AttributeError):
                os.fchmod(fh.fileno(), 0o600)  # mkstemp already uses 0600; be explicit
            json.dump(tok.to_json(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_token(tok: StoredToken, path: Path | None = None) -> Path:
    """Write the token atomically (mode 0600) under the lock; returns the path."""
    path = path or token_path()
    with locked(path):
        _write_atomic(path, tok)
    return path


def delete_token(path: Path | None = None) -> bool:
    """Remove the stored token (under the lock); True when there was one."""
    path = path or token_path()
    if not path.exists():
        return False
    with locked(path):
        try:
            path.unlink()
        except FileNotFoundError:
            return False
    return True


# ---------------------------------------------------------------- the device flow


#: the account wing's one error type (:class:`~.http.AccountError`), under this module's name: its kinds here are
#: ``refused``, ``expired``, ``timeout`` (the login was not completed in time), ``limited``, ``network``, ``config``
#: and ``protocol``
LoginError = AccountError


@dataclass(frozen=True)
class LoginStart:
    state: str = field(repr=False)
    auth_url: str
    interval: float | None


def _code_failure(what: str, body: Any) -> AccountError:
    """An answer whose code says the login failed: the gateway's words tell a refused login from an expired one."""
    _, msg = answer_code(body)
    lowered = msg.lower()
    if any(w in lowered for w in ("refus", "denied", "reject", "forbidden")):
        kind = "refused"
    elif "expire" in lowered:
        kind = "expired"
    else:
        kind = "protocol"
    return code_error(what, body, kind)


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result > 0 else None


def _token_from(data: Any, api_base: str, previous_refresh: str = "") -> StoredToken | None:
    if not isinstance(data, dict):
        return None
    access = data.get("accessToken") or data.get("access_token")
    if not isinstance(access, str) or not access:
        return None
    if not key_is_well_formed(access):
        raise AccountError("the server sent an access token with whitespace or control characters", "protocol")
    refresh_tok = data.get("refreshToken") or data.get("refresh_token") or previous_refresh
    expires_in = _float(data.get("expiresIn") or data.get("expires_in")) or DEFAULT_EXPIRES_IN
    now = time.time()
    return StoredToken(access, str(refresh_tok), now + expires_in, api_base, now)


def start_login(api_base: str | None = None, client: httpx.Client | None = None) -> LoginStart:
    """Step 1: ask for a login ``state`` and the URL the user opens."""
    what = "starting the login"
    url = f"{roots(api_base).api}/plugin/auth/state?platform=CLI"
    body = request_json("POST", url, LOGIN_HEADERS, what=what, body={}, client=client)
    code, _ = answer_code(body)
    if code not in (0, "0"):
        raise _code_failure(what, body)
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    state, auth_url = data.get("state"), data.get("authUrl") or data.get("auth_url")
    if not isinstance(state, str) or not state or not isinstance(auth_url, str) or not auth_url:
        raise AccountError(f"{what}: the answer has no state or authUrl", "protocol")
    return LoginStart(state, auth_url, _float(data.get("interval")))


def poll_login(
    state: str, api_base: str | None = None, client: httpx.Client | None = None
) -> tuple[StoredToken | None, float | None]:
    """Step 2, once: (the token, or None while pending; the interval the server asks for, if any)."""
    what = "waiting for the login"
    base = roots(api_base).api
    url = f"{base}/plugin/auth/token?state={quote(state, safe='')}"
    body = request_json("GET", url, LOGIN_HEADERS, what=what, client=client, secrets=(state,))
    code, _ = answer_code(body)
    data = body.get("data") if isinstance(body, dict) else None
    interval = _float(data.get("interval")) if isinstance(data, dict) else None
    if code in (PENDING_CODE, str(PENDING_CODE)):
        return None, interval
    if code in (0, "0"):
        return _token_from(data, base), interval  # code 0 without a token yet: still pending
    raise _code_failure(what, body)


def login(
    api_base: str | None = None,
    *,
    interval: float = DEFAULT_INTERVAL,
    timeout: float = 300.0,
    on_url: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
    path: Path | None = None,
) -> StoredToken:
    """The whole device flow: start, tell ``on_url``, poll at the server's pace until done, store the token.

    ``interval`` is used when the server announces none. Raises LoginError (kind ``timeout`` after
    ``timeout`` seconds; transient errors while polling, ``network`` and ``limited``, are retried until then).
    """
    deadline = time.monotonic() + timeout
    with session(client) as http:
        start = start_login(api_base, http)
        if on_url is not None:
            on_url(start.auth_url)
        pace = start.interval or interval
        last_error: AccountError | None = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                detail = f" (last error: {last_error})" if last_error else ""
                raise AccountError(f"the login was not completed within {timeout:g} s{detail}", "timeout")
            sleep(min(pace, left))
            try:
                tok, asked = poll_login(start.state, api_base, http)
            except AccountError as exc:
                if not exc.transient:
                    raise
                last_error = exc
                logger.debug("login poll failed, retrying: %s", exc)
                continue
            if asked:
                pace = asked
            if tok is not None:
                save_token(tok, path)
                return tok


def refresh(tok: StoredToken, client: httpx.Client | None = None) -> StoredToken:
    """A fresh token from the refresh endpoint (not stored: see :func:`stored_token`)."""
    what = "refreshing the login"
    if not tok.refresh_token:
        raise AccountError("the stored login has no refresh token", "expired")
    headers = {k: v for k, v in LOGIN_HEADERS.items() if not k.startswith("X-No-")}
    headers.update({"X-Refresh-Token": tok.refresh_token, "Authorization": f"Bearer {tok.access_token}"})
    url = f"{tok.api_base}/plugin/auth/token/refresh"
    body = request_json("POST", url, headers, what=what, body={}, client=client)
    code, _ = answer_code(body)
    if code not in (0, "0"):
        raise _code_failure(what, body)
    new = _token_from(body.get("data"), tok.api_base, tok.refresh_token)
    if new is None:
        raise AccountError(f"{what}: the answer has no access token", "protocol")
    return new


# ---------------------------------------------------------------- the provider's fallback


def _auth_error(message: str, model: str) -> litellm.AuthenticationError:
    return litellm.AuthenticationError(message=f"CodeBuddy: {message}", llm_provider=PROVIDER, model=model)


def no_credentials_message() -> str:
    return f"no API key. Pass api_key=... or set {KEY_ENV}; keys (ck_...) come from {KEYS_URL}. Or {LOGIN_HINT}"


def _usable_token(path: Path, model: str) -> StoredToken:
    """The stored token as it is on disk now; AuthenticationError when there is none or it is unreadable."""
    try:
        tok = load_token(path)
    except ValueError as exc:
        raise _auth_error(f"{exc}. Set {KEY_ENV}, or {LOGIN_HINT} again", model) from None
    if tok is None:
        raise _auth_error(no_credentials_message(), model)
    return tok


def stored_token(model: str = "", *, path: Path | None = None, client: httpx.Client | None = None) -> str:
    """The stored login's access token, refreshed first when less than REFRESH_MARGIN seconds are left.

    Blocking (file lock, file and network I/O): async code calls :func:`fill_stored_key` instead. Never starts a
    login. Raises ``litellm.AuthenticationError`` when there is no usable token.
    """
    path = path or token_path()
    tok = _usable_token(path, model)
    if tok.expires_in() > REFRESH_MARGIN:
        return tok.access_token
    with locked(path):
        tok = _usable_token(path, model)  # another process may have refreshed while we waited for the lock
        if tok.expires_in() > REFRESH_MARGIN:
            return tok.access_token
        try:
            new = refresh(tok, client)
        except AccountError as exc:
            if tok.expires_in() > 0:
                logger.warning("CodeBuddy: could not refresh the stored login, using it until it expires: %s", exc)
                return tok.access_token
            raise _auth_error(
                f"the stored login has expired and could not be refreshed ({exc}). Set {KEY_ENV}, or {LOGIN_HINT} "
                "again",
                model,
            ) from None
        _write_atomic(path, new)
        logger.info("CodeBuddy: refreshed the stored login (valid for %.0f s)", new.expires_in())
        return new.access_token
