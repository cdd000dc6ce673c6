"""What a running fake keeps: one :class:`FakeState`, owned by ``FakeCodeBuddy`` and handed to every route.

Routes change it only through its methods (``traffic.record``, ``account.issue_token``, ``account.take_login_poll``,
...); tests read it and set its knobs, through ``FakeCodeBuddy``'s attributes of the same names or ``fake.state``.

* :class:`Traffic`: what the server saw: chat requests (at most ``max_requests``, oldest dropped), account requests,
  connections, streams the client abandoned.
* :class:`Account`: the login, discovery and credits endpoints' knobs (see ``account``) and what the login
  endpoints issued: access tokens with their expiry, refresh tokens, pending login states.
* :class:`~.billing.PromptCache`: the prompt prefixes cached under each ``prompt_cache_key``.
* :class:`FakeState`: all three, the accepted key (``api_key``), the extra models, the ``set_fault`` directives, the
  keys over their frequency limit (``limits``, set by ``FakeCodeBuddy.limit``) and the fake's own URL.
"""

from __future__ import annotations

import datetime
import enum
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .billing import PromptCache
from .directives import Faults
from .http import Request
from .models import KNOWN_MODELS


@dataclass
class RequestRecord:
    """One received request.  Attribute or item access: ``rec.body`` == ``rec["body"]``."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """The parsed JSON body (``None`` when it was not valid JSON, and for account requests)."""
    raw: bytes = b""
    """The body as it arrived (chat requests; decoded when it came gzipped)."""
    received: float = field(default_factory=time.monotonic)
    """When it arrived (``time.monotonic()``): the gaps between a client's retries."""

    def __getitem__(self, key: str) -> Any:
        if key in ("method", "path", "headers", "body", "raw"):
            return getattr(self, key)
        if key == "json":
            return self.body
        raise KeyError(key)

    @property
    def json(self) -> Any:
        return self.body


@dataclass
class Traffic:
    """What the server saw.  ``disconnects`` counts streams abandoned by the client before they finished."""

    max_requests: int = 10_000
    requests: list[RequestRecord] = field(default_factory=list)
    account_requests: list[RequestRecord] = field(default_factory=list)
    unanswered: list[RequestRecord] = field(default_factory=list)
    disconnects: int = 0
    telemetry: int = 0
    """telemetry posts received (``POST /v1/traces``, ``POST /v2/report``), answered and ignored"""
    open_connections: int = 0
    connections_total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, req: Request, body: Any) -> None:
        """Keep a chat or image request (at most ``max_requests``, the oldest tenth dropped when full; none when 0)."""
        if self.max_requests <= 0:
            return
        with self._lock:
            self.requests.append(RequestRecord(req.method, req.path, dict(req.headers), body, req.body))
            if len(self.requests) > self.max_requests:
                del self.requests[: max(1, self.max_requests // 10)]

    def telemetry_received(self) -> None:
        with self._lock:
            self.telemetry += 1

    def record_account(self, req: Request) -> None:
        with self._lock:
            self.account_requests.append(RequestRecord(req.method, req.target, dict(req.headers), None))

    def record_unanswered(self, req: Request) -> None:
        """Keep a request for a path the fake does not serve (answered 404)."""
        with self._lock:
            self.unanswered.append(RequestRecord(req.method, req.target, dict(req.headers), None, req.body))

    def connection_opened(self) -> None:
        self.connections_total += 1
        self.open_connections += 1

    def connection_closed(self) -> None:
        self.open_connections -= 1

    def stream_abandoned(self) -> None:
        self.disconnects += 1


class LoginPoll(enum.Enum):
    """What one poll of a login state finds."""

    EXPIRED = "expired"  # unknown state, or ``login_expire``
    REFUSED = "refused"  # ``login_refuse``
    PENDING = "pending"  # the user has not approved yet (the first ``login_pending_polls`` polls)
    APPROVED = "approved"  # the state is used up; issue a token pair


@dataclass
class Account:
    """The login, discovery and credits endpoints' knobs (``account`` says what each does) and their state."""

    login_pending_polls: int = 0
    login_refuse: bool = False
    login_expire: bool = False
    login_interval: float | None = None
    token_expires_in: int | None = 86400
    refresh_fail: bool = False
    models_live: list[Any] | None = None
    discovery_fail: bool | str = False
    personal_models_fail: int = 0
    credits_remaining: float = 250.0
    credits_size: float = 300.0
    credits_fail: bool = False
    tokens: dict[str, float] = field(default_factory=dict)
    """Issued access token -> its expiry (``time.time()``)."""
    issued: list[str] = field(default_factory=list)
    """Every token handed out, access then refresh token of each pair, in order."""
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """Refresh token -> the access token issued with it."""
    login_states: dict[str, int] = field(default_factory=dict)
    """Open login state -> polls so far."""

    def issue_token(self, expires_in: int | None = None) -> tuple[str, str]:
        """A new (access token, refresh token) pair; the access token is a key until it expires (``expires_in``,
        else ``token_expires_in``, else a day)."""
        access, refresh = "at_" + uuid.uuid4().hex, "rt_" + uuid.uuid4().hex
        life = self.token_expires_in if expires_in is None else expires_in
        self.tokens[access] = time.time() + (86400 if life is None else life)
        self.refresh_tokens[refresh] = access
        self.issued += (access, refresh)
        return access, refresh

    def token_valid(self, token: str) -> bool:
        return self.tokens.get(token, 0.0) > time.time()

    def open_login(self) -> str:
        """A new login state to poll."""
        state = uuid.uuid4().hex
        self.login_states[state] = 0
        return state

    def take_login_poll(self, state: str) -> LoginPoll:
        """One poll of ``state``: counts it while pending, closes the state once approved."""
        if state not in self.login_states or self.login_expire:
            return LoginPoll.EXPIRED
        if self.login_refuse:
            return LoginPoll.REFUSED
        if self.login_states[state] < self.login_pending_polls:
            self.login_states[state] += 1
            return LoginPoll.PENDING
        del self.login_states[state]
        return LoginPoll.APPROVED

    def take_refresh(self, refresh: str) -> bool:
        """Use up a refresh token (its access token stops working); False when it is unknown or ``refresh_fail``."""
        if self.refresh_fail or refresh not in self.refresh_tokens:
            return False
        self.tokens.pop(self.refresh_tokens.pop(refresh), None)
        return True

    def take_personal_models_failure(self) -> bool:
        """Whether this call of the personal-models endpoint fails (uses up one of ``personal_models_fail``)."""
        if self.personal_models_fail > 0:
            self.personal_models_fail -= 1
            return True
        return False


@dataclass(frozen=True)
class KeyLimit:
    """A key over its frequency limit until ``reset`` (aware, UTC+8), for every model or only ``model``: 6004 with
    its message in ``lang`` ("zh" or "en") naming the reset, or another ``code`` (a window or quota code) with an
    ``x-ratelimit-reset`` header naming it."""

    reset: datetime.datetime
    model: str | None = None
    lang: str = "zh"
    code: int = 6004

    def holds(self, model: Any, now: datetime.datetime) -> bool:
        return now < self.reset and (self.model is None or self.model == model)


@dataclass
class FakeState:
    """Everything a running fake keeps; the routes' one view of the fake."""

    api_key: str | None = None
    """The only accepted key; None: any ``ck_<something>`` key (issued access tokens are accepted either way)."""
    models: frozenset[str] = KNOWN_MODELS
    """The models the fake serves and lists (``KNOWN_MODELS`` and the constructor's ``models=``)."""
    faults: Faults = field(default_factory=Faults)
    """The directives ``set_fault`` applies to every request."""
    url: str = ""
    """``http(s)://HOST:PORT``, set by the server once it listens."""
    limits: dict[str, KeyLimit] = field(default_factory=dict)
    """Key -> its frequency limit: requests with it answer HTTP 429 6004 naming the reset time, until then."""
    traffic: Traffic = field(default_factory=Traffic)
    account: Account = field(default_factory=Account)
    cache: PromptCache = field(default_factory=PromptCache)
    """The prompt cache, per ``prompt_cache_key`` (``billing``)."""

    def limit_of(self, key: str | None, model: Any, now: datetime.datetime | None = None) -> KeyLimit | None:
        """The limit that holds for this key and model now, if any."""
        found = self.limits.get(key) if key else None
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return found if found is not None and found.holds(model, now) else None

    @classmethod
    def create(cls, api_key: str | None, models: Iterable[str] | None, max_requests: int) -> FakeState:
        return cls(api_key, KNOWN_MODELS | frozenset(models or ()), traffic=Traffic(max_requests))
