"""The account's own model list, and its registration with LiteLLM.

``{root}`` is the API base without its ``/v2``. The official client (CodeBuddy Code 2.163.0) asks one endpoint,
``GET {root}/v3/config``, and so does this module first (docs/gateway.md#model-discovery):

- ``data.agents[name="cli"].models`` lists the CLI's models as bare id strings, in the picker's order;
- ``data.models`` holds the specs, one row per id, joined to the ids by ``id``: ``maxInputTokens``,
  ``maxOutputTokens``, ``contextWindow`` as an object ``{defaultLength, supportedLengths}`` (the context budgets the
  official client lets a user choose), ``reasoning`` (``supportedEfforts`` and ``defaultEffort``, or one fixed
  ``effort``), ``supportsToolCall``, ``supportsImages``, ``supportsReasoning``, ``tags``, ``disabled``.

Rows tagged ``text-to-image`` or ``image-to-image`` (image models, :data:`~litellm_codebuddy.catalog.IMAGE_TAGS`)
and disabled rows are left out: they are not chat models. Every effort word a row lists is kept, also words outside
the official ladder such as ``no_think`` (:func:`~litellm_codebuddy.catalog.effort_words`). A row that names one
fixed ``effort`` accepts that effort alone: the official client always sends it.

When ``/v3/config`` fails, two endpoints other clients report are tried, in this order:
``GET {root}/v2/enterprises/personal/models`` (rows with ``maxInputTokens``, ``maxOutputTokens``,
``supportsToolCall``, ``supportsReasoning``, ``supportsImages``; reported to fail now and then, so a transient
failure, no connection, timeout, HTTP 5xx or 429, is retried twice after a short pause) and
``GET {root}/console/enterprises/personal/models`` (the international site answers 500). Code 12403 (the gateway
could not parse the User-Agent) is said as such; the User-Agent stays this package's own.

What the account says a model accepts, and its default effort, is remembered
(:func:`~litellm_codebuddy.catalog.remember_account_efforts`) and wins over the catalog when an effort is chosen.
Limits and flags come from the live answer when it has them, else from the catalog
(:mod:`litellm_codebuddy.catalog`) for its own models, else they are unknown. ``budget`` bounds the whole
discovery in seconds (every request and pause included), for callers that must not wait long (proxy start-up).

When discovery fails (no key, network, refusal, an answer of an unexpected shape), the static catalog is used and
the reason is given: :func:`discover` returns it in ``note``; :func:`register_live_models` logs a warning.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import litellm

from ..catalog import (
    CATALOG,
    IMAGE_TAGS,
    catalog_supports_vision,
    effort_words,
    model_info,
    register_catalog,
    remember_account_efforts,
)
from ..endpoint import KEY_ENV, PROVIDER, USER_AGENT
from .credentials import account_key
from .http import TIMEOUT, AccountError, json_object, key_headers, request_json, roots, session

__all__ = [
    "CONFIG_PATH",
    "ENDPOINTS",
    "ENTERPRISE_MODELS_PATH",
    "PERSONAL_MODELS_PATH",
    "UNPARSED_USER_AGENT",
    "Discovery",
    "DiscoveryError",
    "LiveModel",
    "catalog_models",
    "discover",
    "fetch_live_models",
    "model_cost_entries",
    "model_list",
    "parse_models",
    "register_live_models",
    "remember",
]

logger = logging.getLogger(__name__)

CONFIG_PATH = "/v3/config"
ENTERPRISE_MODELS_PATH = "/v2/enterprises/personal/models"
PERSONAL_MODELS_PATH = "/console/enterprises/personal/models"
#: asked in this order: the official client's endpoint, then the two other clients report
ENDPOINTS = (CONFIG_PATH, ENTERPRISE_MODELS_PATH, PERSONAL_MODELS_PATH)
#: pauses before the second and third try of an endpoint that failed transiently (the flaky one only)
RETRY_DELAYS: tuple[float, ...] = (0.3, 0.8)
_RETRIED = frozenset({ENTERPRISE_MODELS_PATH})
#: the gateway's code for a User-Agent it cannot parse (reported on ``/v3/config``)
UNPARSED_USER_AGENT = 12403


#: the account wing's one error type (:class:`~.http.AccountError`), under this module's name: the live list could
#: not be had, the message says why; ``transient``: worth a retry
DiscoveryError = AccountError


@dataclass(frozen=True)
class LiveModel:
    id: str
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    supports_vision: bool | None = None
    supports_tools: bool | None = None
    supports_reasoning: bool | None = None
    efforts: tuple[str, ...] | None = None
    """the reasoning efforts the account says the model accepts (None: it does not say; ``()``: none)"""
    default_effort: str | None = None
    """the effort sent when the caller picks none (the row's ``defaultEffort`` or fixed ``effort``)"""
    context_lengths: tuple[int, ...] | None = None
    """the context budgets a user may choose (``contextWindow.supportedLengths``), None when not given"""
    default_context: int | None = None
    """the budget used unless another is chosen (``contextWindow.defaultLength``)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "max_input_tokens": self.max_input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "supports_vision": self.supports_vision,
            "supports_tools": self.supports_tools,
            "supports_reasoning": self.supports_reasoning,
            "efforts": list(self.efforts) if self.efforts is not None else None,
            "default_effort": self.default_effort,
            "context_lengths": list(self.context_lengths) if self.context_lengths is not None else None,
            "default_context": self.default_context,
        }

    def info(self) -> dict[str, Any]:
        """LiteLLM's ``model_info`` for this model (catalog facts for catalog models, live facts winning)."""
        return model_info(
            self.id,
            self.max_input_tokens,
            self.max_output_tokens,
            self.supports_vision,
            supports_tools=self.supports_tools,
            supports_reasoning=self.supports_reasoning,
            efforts=self.efforts,
        )


@dataclass(frozen=True)
class Discovery:
    models: list[LiveModel]
    source: str
    """``"live"`` or ``"catalog"``"""
    endpoint: str | None = None
    """the endpoint that answered (live only)"""
    note: str | None = None
    """why the catalog is shown instead of the live list"""


def catalog_models() -> list[LiveModel]:
    """The catalog's chat models, as discovery would give them."""
    return [
        LiveModel(
            m.id,
            m.limits.window.tokens,
            m.limits.output.tokens,
            m.vision,
            m.tools,
            m.reasoning,
            m.efforts,
            m.default_effort,
            m.context_lengths or None,
            m.default_context,
        )
        for m in CATALOG.values()
    ]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _flag(item: dict[str, Any], *names: str) -> bool | None:
    value = next((item[n] for n in names if n in item), None)
    return value if isinstance(value, bool) else None


def _word(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _reasoning(item: dict[str, Any]) -> tuple[tuple[str, ...] | None, str | None]:
    """(the efforts, the default effort) of a row: ``reasoning.supportedEfforts`` (or a top-level
    ``supportedEfforts``) and ``reasoning.defaultEffort``; a fixed ``reasoning.effort`` alone is the one effort."""
    reasoning = item.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, dict) else {}
    raw = reasoning.get("supportedEfforts", item.get("supportedEfforts"))
    fixed = _word(reasoning.get("effort"))
    default = _word(reasoning.get("defaultEffort")) or fixed
    if isinstance(raw, list):
        return effort_words(raw), default
    return ((fixed,) if fixed else None), default


def _context(item: dict[str, Any]) -> tuple[int | None, tuple[int, ...] | None, int | None]:
    """(a window given as a number, the budgets, the default budget) of ``contextWindow``: a number (other clients'
    shape) or an object ``{defaultLength, supportedLengths}`` (``/v3/config``'s)."""
    value = item.get("contextWindow")
    if not isinstance(value, dict):
        return _int(value), None, None
    raw = value.get("supportedLengths")
    lengths = tuple(sorted({n for n in map(_int, raw) if n})) if isinstance(raw, list) else ()
    return None, lengths or None, _int(value.get("defaultLength"))


def _is_chat_model(item: dict[str, Any]) -> bool:
    """Whether a row is a chat model: not disabled, not tagged as an image model."""
    tags = item.get("tags")
    tagged = {t.strip().lower() for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()
    return item.get("disabled") is not True and not tagged & IMAGE_TAGS


def _entry(item: Any, spec_rows: bool = False) -> LiveModel | None:
    """One model of an answer (None: not a chat model, or no id). ``spec_rows``: rows are ``/v3/config``'s specs,
    where a row with limits that says nothing of reasoning is a model without it (the official client sends it
    no effort)."""
    if isinstance(item, str):
        item = {"id": item}
    if not isinstance(item, dict) or not _is_chat_model(item):
        return None
    mid = item.get("id") or item.get("modelId") or item.get("model") or item.get("name")
    if not isinstance(mid, str) or not mid.strip():
        return None
    mid = mid.strip()
    known = CATALOG.get(mid)
    plain_window, lengths, default_context = _context(item)
    window = _int(item.get("maxInputTokens") or item.get("max_input_tokens")) or plain_window
    if window is None and lengths:
        window = lengths[-1]
    elif window and lengths:  # as the official client: a budget above the model's limit is not offered
        lengths = tuple(n for n in lengths if n <= window) or None
    out = _int(item.get("maxOutputTokens") or item.get("max_output_tokens"))
    vision = _flag(item, "supportsImages", "supports_vision")
    if vision is None:  # unknown: the catalog's answer for its own models
        vision = catalog_supports_vision(mid)
    efforts, default = _reasoning(item)
    reasoning = _flag(item, "supportsReasoning", "supports_reasoning")
    if spec_rows and window and reasoning is None and efforts is None and "reasoning" not in item:
        reasoning, efforts = False, ()
    return LiveModel(
        mid,
        window or (known.limits.window.tokens if known else None),
        out or (known.limits.output.tokens if known else None),
        vision,
        _flag(item, "supportsToolCall", "supportsTools", "supports_tools"),
        reasoning,
        efforts,
        default,
        lengths,
        default_context,
    )


def _joined(agents: list[Any], rows: Any) -> list[Any] | None:
    """The ``cli`` agent's models (else every agent's) joined with ``rows`` by id: a bare id becomes its row (an id
    without a row stays a bare id), a dict keeps its own keys over the row's. None when no agent lists models."""
    dicts = [a for a in agents if isinstance(a, dict)]
    chosen = [a for a in dicts if a.get("name") == "cli"] or dicts
    listed = [m for a in chosen if isinstance(a.get("models"), list) for m in a["models"]]
    if not listed:
        return None
    by_id = (
        {r["id"]: r for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)}
        if isinstance(rows, list)
        else {}
    )
    joined: list[Any] = []
    for m in listed:
        if isinstance(m, str):
            joined.append(by_id.get(m.strip(), m))
        elif isinstance(m, dict):
            joined.append({**by_id.get(str(m.get("id")), {}), **m})
    return joined


def _model_items(data: Any) -> Any:
    """The list of model rows in ``data``: itself, the ``cli`` agent's ids joined with ``data.models``
    (``/v3/config``'s shape), or ``data.models`` (or list/items/records) alone."""
    if not isinstance(data, dict):
        return data
    agents = data.get("agents")
    if isinstance(agents, list) and agents:
        joined = _joined(agents, data.get("models"))
        if joined is not None:
            return joined
    return next((data[k] for k in ("models", "list", "items", "records") if isinstance(data.get(k), list)), None)


def parse_models(body: Any, endpoint: str = CONFIG_PATH) -> list[LiveModel]:
    """The chat models in a discovery answer ``body`` (pure: no I/O), each once, in the answer's order; image
    models and disabled rows left out. Raises DiscoveryError for an answer without a model list or with none."""
    items = _model_items(json_object(endpoint, body).get("data"))
    if not isinstance(items, list):
        raise AccountError(f"{endpoint}: the answer has no model list")
    seen: dict[str, LiveModel] = {}
    for item in items:
        model = _entry(item, spec_rows=endpoint == CONFIG_PATH)
        if model is not None and model.id not in seen:
            seen[model.id] = model
    if not seen:
        raise AccountError(f"{endpoint}: the model list is empty")
    return list(seen.values())


def remember(models: list[LiveModel]) -> None:
    """Keep what the account says each model accepts and its default effort, for the provider's choice of effort."""
    remember_account_efforts({m.id: m.efforts for m in models}, {m.id: m.default_effort for m in models})


def _user_agent_refused(exc: AccountError) -> AccountError:
    """Code 12403 said as what it is (the User-Agent stays ours: nothing is disguised to get past it)."""
    return AccountError(
        f"{exc} -- code {UNPARSED_USER_AGENT}: the gateway could not parse this client's User-Agent "
        f"({USER_AGENT}); this package does not send another program's",
        exc.kind,
        exc.code,
    )


class _Clock:
    """The time left of a discovery's budget (None: no budget, every request gets ``timeout``)."""

    def __init__(self, timeout: float, budget: float | None) -> None:
        self.timeout = timeout
        self.deadline = None if budget is None else time.monotonic() + budget

    def left(self) -> float:
        return self.timeout if self.deadline is None else min(self.timeout, self.deadline - time.monotonic())


def _try(http: httpx.Client, root: str, key: str, endpoint: str, clock: _Clock) -> list[LiveModel]:
    """One endpoint, retried after a pause while it fails transiently (the flaky one only) and time is left."""
    delays = RETRY_DELAYS if endpoint in _RETRIED else ()
    for attempt in range(len(delays) + 1):
        left = clock.left()
        if left <= 0.05:
            raise AccountError(f"{endpoint}: not tried, the time for discovery ran out", "timeout")
        try:
            body = request_json("GET", root + endpoint, key_headers(key), what=endpoint, timeout=left, client=http)
            return parse_models(body, endpoint)
        except AccountError as exc:
            if str(exc.code) == str(UNPARSED_USER_AGENT):
                raise _user_agent_refused(exc) from None
            if not exc.transient or attempt == len(delays) or clock.left() <= delays[attempt]:
                raise
            logger.debug("CodeBuddy model discovery: %s; trying again in %g s", exc, delays[attempt])
            time.sleep(delays[attempt])
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_live_models(
    api_key: str | None = None,
    api_base: str | None = None,
    *,
    timeout: float = TIMEOUT,
    budget: float | None = None,
    client: httpx.Client | None = None,
) -> tuple[list[LiveModel], str]:
    """(the account's models, the endpoint that answered). Raises DiscoveryError with the reason (every
    endpoint's; its kind theirs when they agree, else ``protocol``).

    The key is ``api_key``, else ``CODEBUDDY_API_KEY``, else the stored login token (refreshed if needed).
    ``timeout`` bounds each request, ``budget`` (seconds) the whole discovery.
    """
    key = account_key(api_key)
    root = roots(api_base).site
    clock = _Clock(timeout, budget)
    failures: list[AccountError] = []
    with session(client) as http:
        for endpoint in ENDPOINTS:
            try:
                return _try(http, root, key, endpoint, clock), endpoint
            except AccountError as exc:
                if exc.kind == "config":  # an unusable base or key fails every endpoint alike
                    raise
                logger.debug("CodeBuddy model discovery: %s", exc)
                failures.append(exc)
    kinds = {exc.kind for exc in failures}
    raise AccountError("; ".join(map(str, failures)), kinds.pop() if len(kinds) == 1 else "protocol")


def discover(
    api_key: str | None = None,
    api_base: str | None = None,
    *,
    timeout: float = TIMEOUT,
    budget: float | None = None,
    client: httpx.Client | None = None,
) -> Discovery:
    """The live list, or the catalog with the reason in ``note``. Never raises for a failed discovery."""
    try:
        models, endpoint = fetch_live_models(api_key, api_base, timeout=timeout, budget=budget, client=client)
    except AccountError as exc:
        return Discovery(catalog_models(), "catalog", None, str(exc))
    return Discovery(models, "live", endpoint)


def model_cost_entries(models: list[LiveModel]) -> dict[str, dict[str, Any]]:
    """``litellm.register_model`` entries: catalog models keep the catalog's capabilities, live facts win."""
    return {f"{PROVIDER}/{m.id}": m.info() for m in models}


#: the ``model_info`` keys a ``model_list`` block repeats (what the account or the catalog says)
_LISTED_INFO = (
    "max_input_tokens",
    "max_output_tokens",
    "supports_vision",
    "supports_function_calling",
    "supports_reasoning",
    "reasoning_effort_levels",
)


def model_list(models: list[LiveModel]) -> list[dict[str, Any]]:
    """A proxy ``model_list`` for these models: one deployment each, the key read from the environment."""
    entries = []
    for m in models:
        info = m.info()
        name = f"{PROVIDER}/{m.id}"
        entries.append(
            {
                "model_name": name,
                "litellm_params": {"model": name, "api_key": f"os.environ/{KEY_ENV}"},
                "model_info": {k: info[k] for k in _LISTED_INFO if info.get(k) is not None},
            }
        )
    return entries


def register_live_models(
    api_key: str | None = None, api_base: str | None = None, *, budget: float | None = None
) -> list[str]:
    """Register the account's models with LiteLLM (provider codebuddy, chat mode, known limits and flags); their
    ids.

    When discovery fails the static catalog is registered instead, a warning says why, and the catalog's ids
    are returned. Blocking (network): in async code run it with ``asyncio.to_thread``.
    """
    found = discover(api_key, api_base, budget=budget)
    if found.source != "live":
        logger.warning("CodeBuddy: live model discovery failed, using the built-in catalog: %s", found.note)
        register_catalog()
    else:
        litellm.register_model(model_cost_entries(found.models))
        remember(found.models)
    return [m.id for m in found.models]
