"""The account's own model list, and its registration with LiteLLM.

Three endpoints are reported by other clients (none documented by CodeBuddy), tried in this order; ``{root}`` is
the API base without its ``/v2``:

1. ``GET {root}/v2/enterprises/personal/models`` (the international site): rows with ``maxInputTokens``,
   ``maxOutputTokens``, ``supportsToolCall``, ``supportsReasoning``, ``supportsImages``. Reported to fail now and
   then, so a transient failure (no connection, timeout, HTTP 5xx or 429) is retried twice after a short pause.
2. ``GET {root}/v3/config`` -> ``data.models[].id``.
3. ``GET {root}/console/enterprises/personal/models`` -> rows like the first (the international site answers 500).

Reasoning efforts: ``/v3/config`` lists each model's ``reasoning.supportedEfforts``. When another endpoint answered
and its rows carry none, ``/v3/config`` is asked for them too (within the budget; a failure there only leaves the
efforts unknown). What the account says a model accepts is remembered
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
from dataclasses import dataclass, replace
from typing import Any

import httpx
import litellm

from ..catalog import (
    CONTEXT_WINDOWS,
    EFFORTS,
    MAX_OUTPUT_TOKENS,
    catalog_supports_vision,
    model_info,
    register_catalog,
    remember_account_efforts,
)
from ..endpoint import KEY_ENV, PROVIDER
from .credentials import account_key
from .http import TIMEOUT, AccountError, json_object, key_headers, request_json, roots, session

__all__ = [
    "CONFIG_PATH",
    "ENTERPRISE_MODELS_PATH",
    "PERSONAL_MODELS_PATH",
    "Discovery",
    "DiscoveryError",
    "LiveModel",
    "catalog_models",
    "discover",
    "fetch_live_models",
    "model_cost_entries",
    "model_list",
    "register_live_models",
    "remember",
    "with_efforts",
]

logger = logging.getLogger(__name__)

ENTERPRISE_MODELS_PATH = "/v2/enterprises/personal/models"
CONFIG_PATH = "/v3/config"
PERSONAL_MODELS_PATH = "/console/enterprises/personal/models"
ENDPOINTS = (ENTERPRISE_MODELS_PATH, CONFIG_PATH, PERSONAL_MODELS_PATH)
#: pauses before the second and third try of an endpoint that failed transiently (the first endpoint only)
RETRY_DELAYS: tuple[float, ...] = (0.3, 0.8)
_RETRIED = frozenset({ENTERPRISE_MODELS_PATH})


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
    """the reasoning efforts the account says the model accepts (None: it does not say)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "max_input_tokens": self.max_input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "supports_vision": self.supports_vision,
            "supports_tools": self.supports_tools,
            "supports_reasoning": self.supports_reasoning,
            "efforts": list(self.efforts) if self.efforts is not None else None,
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
    return [
        LiveModel(mid, window, MAX_OUTPUT_TOKENS.get(mid), catalog_supports_vision(mid), efforts=EFFORTS.get(mid))
        for mid, window in CONTEXT_WINDOWS.items()
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


def _efforts(item: dict[str, Any]) -> tuple[str, ...] | None:
    """``reasoning.supportedEfforts`` (``/v3/config``'s shape) or ``supportedEfforts``, as lower-case words."""
    reasoning = item.get("reasoning")
    raw = reasoning.get("supportedEfforts") if isinstance(reasoning, dict) else None
    if raw is None:
        raw = item.get("supportedEfforts")
    if not isinstance(raw, list):
        return None
    return tuple(str(e).strip().lower() for e in raw if isinstance(e, str) and e.strip())


def with_efforts(models: list[LiveModel], others: list[LiveModel]) -> list[LiveModel]:
    """``models`` with the efforts ``others`` (another endpoint's answer) give for the ones that have none."""
    found = {m.id: m.efforts for m in others if m.efforts is not None}
    return [m if m.efforts is not None or m.id not in found else replace(m, efforts=found[m.id]) for m in models]


def remember(models: list[LiveModel]) -> None:
    """Keep what the account says each model accepts, for the provider's choice of effort."""
    remember_account_efforts({m.id: m.efforts for m in models})


def _entry(item: Any) -> LiveModel | None:
    if isinstance(item, str):
        item = {"id": item}
    if not isinstance(item, dict) or item.get("disabled") is True:
        return None
    mid = item.get("id") or item.get("modelId") or item.get("model") or item.get("name")
    if not isinstance(mid, str) or not mid.strip():
        return None
    window = _int(item.get("maxInputTokens") or item.get("contextWindow") or item.get("max_input_tokens"))
    out = _int(item.get("maxOutputTokens") or item.get("max_output_tokens"))
    vision = _flag(item, "supportsImages", "supports_vision")
    mid = mid.strip()
    if vision is None:  # unknown: the catalog's answer for its own models
        vision = catalog_supports_vision(mid)
    return LiveModel(
        mid,
        window or CONTEXT_WINDOWS.get(mid),
        out or MAX_OUTPUT_TOKENS.get(mid),
        vision,
        _flag(item, "supportsToolCall", "supportsTools", "supports_tools"),
        _flag(item, "supportsReasoning", "supports_reasoning"),
        _efforts(item),
    )


def _model_items(data: Any) -> Any:
    """The list of model rows in ``data``: itself, ``data.models`` (or list/items/records), or the models of
    ``data.agents[]`` (the ``cli`` agent's when there is one, as orangeboyChen/codebuddy2api reads it)."""
    if not isinstance(data, dict):
        return data
    agents = data.get("agents")
    if isinstance(agents, list) and agents:
        dicts = [a for a in agents if isinstance(a, dict)]
        chosen = [a for a in dicts if a.get("name") == "cli"] or dicts
        rows = [row for a in chosen if isinstance(a.get("models"), list) for row in a["models"]]
        if rows:
            return rows
    return next((data[k] for k in ("models", "list", "items", "records") if isinstance(data.get(k), list)), None)


def _entries(body: Any, endpoint: str) -> list[LiveModel]:
    items = _model_items(json_object(endpoint, body).get("data"))
    if not isinstance(items, list):
        raise AccountError(f"{endpoint}: the answer has no model list")
    seen: dict[str, LiveModel] = {}
    for item in items:
        model = _entry(item)
        if model is not None and model.id not in seen:
            seen[model.id] = model
    if not seen:
        raise AccountError(f"{endpoint}: the model list is empty")
    return list(seen.values())


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
            return _entries(body, endpoint)
        except AccountError as exc:
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
                models = _try(http, root, key, endpoint, clock)
                if endpoint != CONFIG_PATH and all(m.efforts is None for m in models):
                    try:  # only /v3/config is known to list efforts: ask it too, for them alone
                        models = with_efforts(models, _try(http, root, key, CONFIG_PATH, clock))
                    except AccountError as exc:
                        logger.debug("CodeBuddy model discovery: no reasoning efforts: %s", exc)
                return models, endpoint
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
