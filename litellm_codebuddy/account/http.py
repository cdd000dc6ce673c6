"""The account wing's one way to ask CodeBuddy something: the roots, one JSON request, one error type.

Login, discovery and credits all send one small JSON request and read one JSON answer; this module owns how:

- :func:`roots`: the API base (``.../v2``, where the device-flow login's endpoints hang) and the site root (the
  API base without its ``/v2``: ``/v3/config``, ``/console/...``, ``/v2/billing/...``, ``/v2/enterprises/...``).
- :func:`request_json`: one request with the headers the caller built (:func:`key_headers` for a key,
  :data:`LOGIN_HEADERS` for the login), a timeout (:data:`TIMEOUT` unless the caller gives one), redirects never
  followed, proxies and certificates from the environment (``trust_env``), on the caller's ``httpx.Client`` (left
  open) or a short-lived one (always closed; :func:`session`).
- :class:`AccountError`: the one error, with one set of kinds (:data:`KINDS`), and one classification of what
  can go wrong with a request: no answer in time, no connection or a broken one ``network``; HTTP 401/403
  ``refused``; 429 ``limited``; 5xx ``network``; any other status that is not 2xx, and an answer that is not JSON,
  ``protocol``; a URL httpx cannot use, or a key a header cannot carry, ``config``. ``network`` and ``limited`` are
  ``transient`` (worth a retry). :func:`json_object` and :func:`code_error` read the gateway's business ``code``
  (anything but 0 is a ``protocol`` failure). The callers add what only they know: ``config`` for no usable key
  (:func:`~.credentials.account_key`) and a malformed API base (:func:`roots`); ``timeout`` when their own deadline
  passes (the login's wait, the discovery's budget); ``refused`` and ``expired`` from the login's answer codes.

Messages never hold the key or a token: every credential header's value (and any ``secrets`` the caller names,
e.g. the login's ``state``) is replaced by ``***`` (:func:`~litellm_codebuddy.endpoint.redact`), and a request is
named by its label and origin, never by its full URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import httpx

from ..endpoint import SECRET_HEADERS, USER_AGENT, BadBaseURL, api_root, auth_headers, redact

__all__ = [
    "KINDS",
    "LOGIN_HEADERS",
    "TIMEOUT",
    "TRANSIENT",
    "AccountError",
    "Roots",
    "answer_code",
    "code_error",
    "json_object",
    "key_headers",
    "request_json",
    "roots",
    "session",
]

#: seconds a request may take unless the caller says otherwise
TIMEOUT = 15.0

#: ``config`` not configured (no key, a malformed key or API base); ``refused`` HTTP 401/403 or a refused login;
#: ``expired`` the login request or the stored login expired; ``limited`` HTTP 429; ``network`` no connection, no
#: answer in time, HTTP 5xx; ``timeout`` the caller's own deadline passed (the login's wait, the discovery's
#: budget); ``protocol`` an answer of another shape (another status, not JSON, an error code in the body)
KINDS = frozenset({"config", "refused", "expired", "limited", "network", "timeout", "protocol"})
#: the kinds worth a retry
TRANSIENT = frozenset({"network", "limited"})

#: the device-flow login's headers: no key yet, and this package's own User-Agent
LOGIN_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "X-Product": "SaaS",
        "X-No-Authorization": "true",
        "X-No-User-Id": "true",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
)

_STATUS_WORDS = {"refused": "refused", "limited": "rate limited", "network": "server error"}


class AccountError(Exception):
    """An account request that failed: ``kind`` is one of :data:`KINDS`, ``transient`` whether a retry may help.

    The message says why and never holds the key or a token."""

    def __init__(self, message: str, kind: str = "protocol", code: Any = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.code = code
        """the gateway's business ``code`` in the answer, when it gave one"""

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT


class Roots(NamedTuple):
    api: str
    """the API base, e.g. ``https://www.codebuddy.ai/v2``"""
    site: str
    """the API base without its ``/v2``, e.g. ``https://www.codebuddy.ai``"""


def roots(api_base: str | None = None) -> Roots:
    """The roots for ``api_base``, else ``CODEBUDDY_API_BASE``, else the default (``/chat/completions`` and a
    trailing ``/`` dropped). Raises AccountError(kind="config") for anything but an http(s) URL."""
    try:
        api = api_root(api_base)
    except BadBaseURL as exc:
        raise AccountError(str(exc), "config") from None
    return Roots(api, api.removesuffix("/v2"))


def key_headers(key: str) -> dict[str, str]:
    """The package's auth headers (:func:`~litellm_codebuddy.endpoint.auth_headers`) asking for JSON."""
    return {**auth_headers(key), "Accept": "application/json"}


@contextlib.contextmanager
def session(client: httpx.Client | None = None) -> Iterator[httpx.Client]:
    """``client`` itself (left open), or a short-lived client closed on the way out."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=True) as http:
        yield http


def answer_code(body: Any) -> tuple[Any, str]:
    """The gateway's business ``code`` in an answer (None without one) and its message (at most 200 characters)."""
    if not isinstance(body, dict):
        return None, ""
    return body.get("code"), str(body.get("msg") or body.get("message") or "")[:200]


def json_object(what: str, body: Any) -> dict[str, Any]:
    """``body`` when it is a JSON object whose business ``code``, if it has one, is 0; else AccountError(protocol)."""
    if not isinstance(body, dict):
        raise AccountError(_label(what, "the answer is not a JSON object"), "protocol")
    if body.get("code") not in (None, 0, "0"):
        raise code_error(what, body)
    return body


def code_error(what: str, body: Any, kind: str = "protocol", secrets: Iterable[str] = ()) -> AccountError:
    """The error for an answer whose business code says it failed: ``CodeBuddy answered code C: message``."""
    code, msg = answer_code(body)
    text = "the answer has no code" if code is None else f"CodeBuddy answered code {code}" + (f": {msg}" if msg else "")
    return AccountError(redact(_label(what, text), *secrets), kind, code)


def request_json(
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    what: str = "",
    body: Any = None,
    timeout: float = TIMEOUT,
    client: httpx.Client | None = None,
    secrets: Iterable[str] = (),
) -> Any:
    """Send one request (``body`` as JSON when given) and return the JSON of its 2xx answer.

    ``what`` labels the request in messages. Raises :class:`AccountError` (see the module's docstring for the
    kinds); the credential headers' values and ``secrets`` never appear in its message.
    """
    hidden = [*secrets, *_credentials(headers)]
    origin = _origin(url)
    try:
        with session(client) as http:
            resp = http.request(
                method,
                url,
                headers=headers,
                json=body,
                timeout=timeout,
                follow_redirects=False,
            )
    except httpx.TimeoutException:
        raise AccountError(_label(what, f"no answer within {timeout:.3g} s"), "network") from None
    except httpx.ConnectError as exc:
        raise _transport(what, f"could not reach {origin}: could not connect", exc, hidden) from None
    except httpx.HTTPError as exc:
        raise _transport(what, f"could not reach {origin}: the connection failed", exc, hidden) from None
    except httpx.InvalidURL as exc:
        raise AccountError(redact(_label(what, f"not a usable URL ({exc})"), *hidden), "config") from None
    except UnicodeEncodeError:  # httpx sends header values as ASCII; the error would quote part of the key
        raise AccountError(_label(what, "the key or token has characters a header cannot carry"), "config") from None
    try:
        answer = resp.json()
    except ValueError:
        answer = _NOT_JSON
    if not resp.is_success:
        raise _status_error(what, resp.status_code, answer, hidden)
    if answer is _NOT_JSON:
        raise AccountError(_label(what, "the answer is not JSON"), "protocol")
    return answer


_NOT_JSON = object()


def _status_error(what: str, status: int, body: Any, secrets: Iterable[str]) -> AccountError:
    if status in (401, 403):
        kind = "refused"
    elif status == 429:
        kind = "limited"
    elif status >= 500:
        kind = "network"
    else:
        kind = "protocol"
    code, msg = answer_code(body)
    detail = f"HTTP {status}" + (f", code {code}" if code is not None else "") + (f": {msg}" if msg else "")
    words = _STATUS_WORDS.get(kind, "unexpected answer")
    return AccountError(redact(_label(what, f"{words} ({detail})"), *secrets), kind, code)


def _transport(what: str, words: str, exc: Exception, secrets: Iterable[str]) -> AccountError:
    return AccountError(redact(_label(what, f"{words} ({type(exc).__name__}: {exc})"), *secrets), "network")


def _credentials(headers: Mapping[str, str]) -> Iterator[str]:
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            yield value
            yield value.removeprefix("Bearer ")


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: a message names where, never the path or query (a login ``state``)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]  # no user:password either
    return f"{scheme}://{host}"


def _label(what: str, text: str) -> str:
    return f"{what}: {text}" if what else text
