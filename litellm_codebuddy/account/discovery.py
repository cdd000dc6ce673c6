"""The account's own model list, and its registration with LiteLLM.

Two endpoints are reported by other clients (not documented by CodeBuddy): ``GET {root}/v3/config`` ->
``data.models[].id``, and ``GET {root}/console/enterprises/personal/models`` -> entries with ``maxInputTokens``,
``maxOutputTokens`` and ``supportsImages``; ``{root}`` is the API base without its ``/v2``. The first is tried
first, the second when it fails. Context windows come from the live answer when it has them, else from the
catalog (:mod:`litellm_codebuddy.catalog`), else they are unknown.

When discovery fails (no key, network, refusal, an answer of an unexpected shape), the static catalog is used and
the reason is given: :func:`discover` returns it in ``note``; :func:`register_live_models` logs a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
import litellm

from ..catalog import CONTEXT_WINDOWS, catalog_supports_vision, model_info, register_catalog
from ..endpoint import PROVIDER, api_root, auth_headers, redact
from .credentials import resolve_key

__all__ = [
    "CONFIG_PATH",
    "PERSONAL_MODELS_PATH",
    "Discovery",
    "DiscoveryError",
    "LiveModel",
    "catalog_models",
    "discover",
    "fetch_live_models",
    "model_cost_entries",
    "register_live_models",
]

logger = logging.getLogger(__name__)

CONFIG_PATH = "/v3/config"
PERSONAL_MODELS_PATH = "/console/enterprises/personal/models"
TIMEOUT = 15.0


class DiscoveryError(Exception):
    """The live list could not be had; the message says why (never holds the key)."""


@dataclass(frozen=True)
class LiveModel:
    id: str
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    supports_vision: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "max_input_tokens": self.max_input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "supports_vision": self.supports_vision,
        }


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
    return [LiveModel(mid, window, None, catalog_supports_vision(mid)) for mid, window in CONTEXT_WINDOWS.items()]


def root_url(api_base: str | None = None) -> str:
    """The API base without ``/chat/completions`` and without a trailing ``/v2``."""
    return api_root(api_base).removesuffix("/v2")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _entry(item: Any) -> LiveModel | None:
    if isinstance(item, str):
        item = {"id": item}
    if not isinstance(item, dict):
        return None
    mid = item.get("id") or item.get("modelId") or item.get("model") or item.get("name")
    if not isinstance(mid, str) or not mid.strip():
        return None
    window = _int(item.get("maxInputTokens") or item.get("contextWindow") or item.get("max_input_tokens"))
    out = _int(item.get("maxOutputTokens") or item.get("max_output_tokens"))
    vision = item.get("supportsImages", item.get("supports_vision"))
    mid = mid.strip()
    if not isinstance(vision, bool):  # unknown: the catalog's answer for its own models
        vision = catalog_supports_vision(mid)
    return LiveModel(mid, window or CONTEXT_WINDOWS.get(mid), out, vision)


def _entries(body: Any, endpoint: str) -> list[LiveModel]:
    if not isinstance(body, dict):
        raise DiscoveryError(f"{endpoint}: the answer is not a JSON object")
    code = body.get("code")
    if code not in (None, 0, "0"):
        msg = str(body.get("msg") or body.get("message") or "")[:200]
        raise DiscoveryError(f"{endpoint}: CodeBuddy answered code {code}" + (f": {msg}" if msg else ""))
    data = body.get("data")
    items: Any = data
    if isinstance(data, dict):
        items = next((data[k] for k in ("models", "list", "items", "records") if isinstance(data.get(k), list)), None)
    if not isinstance(items, list):
        raise DiscoveryError(f"{endpoint}: the answer has no model list")
    seen: dict[str, LiveModel] = {}
    for item in items:
        model = _entry(item)
        if model is not None and model.id not in seen:
            seen[model.id] = model
    if not seen:
        raise DiscoveryError(f"{endpoint}: the model list is empty")
    return list(seen.values())


def _get(http: httpx.Client, url: str, key: str, endpoint: str, timeout: float) -> Any:
    headers = {**auth_headers(key), "Accept": "application/json"}
    try:
        resp = http.get(url, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise DiscoveryError(f"{endpoint}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DiscoveryError(redact(f"{endpoint}: could not connect ({type(exc).__name__}: {exc})", key)) from None
    if resp.status_code in (401, 403):
        raise DiscoveryError(f"{endpoint}: the key was refused (HTTP {resp.status_code})")
    if resp.status_code != 200:
        raise DiscoveryError(f"{endpoint}: HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError:
        raise DiscoveryError(f"{endpoint}: the answer is not JSON") from None


def fetch_live_models(
    api_key: str | None = None,
    api_base: str | None = None,
    *,
    timeout: float = TIMEOUT,
    client: httpx.Client | None = None,
) -> tuple[list[LiveModel], str]:
    """(the account's models, the endpoint that answered). Raises DiscoveryError with the reason.

    The key is ``api_key``, else ``CODEBUDDY_API_KEY``, else the stored login token (refreshed if needed).
    """
    try:
        key = resolve_key(api_key)
        root = root_url(api_base)
    except Exception as exc:  # no key, a malformed key, a bad api_base
        raise DiscoveryError(str(getattr(exc, "message", exc))) from None
    http = client or httpx.Client(follow_redirects=False, trust_env=True)
    reasons: list[str] = []
    try:
        for endpoint in (CONFIG_PATH, PERSONAL_MODELS_PATH):
            try:
                return _entries(_get(http, root + endpoint, key, endpoint, timeout), endpoint), endpoint
            except DiscoveryError as exc:
                logger.debug("CodeBuddy model discovery: %s", exc)
                reasons.append(str(exc))
    finally:
        if client is None:
            http.close()
    raise DiscoveryError("; ".join(reasons))


def discover(
    api_key: str | None = None,
    api_base: str | None = None,
    *,
    timeout: float = TIMEOUT,
    client: httpx.Client | None = None,
) -> Discovery:
    """The live list, or the catalog with the reason in ``note``. Never raises for a failed discovery."""
    try:
        models, endpoint = fetch_live_models(api_key, api_base, timeout=timeout, client=client)
    except DiscoveryError as exc:
        return Discovery(catalog_models(), "catalog", None, str(exc))
    return Discovery(models, "live", endpoint)


def model_cost_entries(models: list[LiveModel]) -> dict[str, dict[str, Any]]:
    """``litellm.register_model`` entries: catalog models keep the catalog's capabilities, live facts win."""
    return {
        f"{PROVIDER}/{m.id}": model_info(m.id, m.max_input_tokens, m.max_output_tokens, m.supports_vision)
        for m in models
    }


def register_live_models(api_key: str | None = None, api_base: str | None = None) -> list[str]:
    """Register the account's models with LiteLLM (provider codebuddy, chat mode, known windows); their ids.

    When discovery fails the static catalog is registered instead, a warning says why, and the catalog's ids
    are returned. Blocking (network): in async code run it with ``asyncio.to_thread``.
    """
    found = discover(api_key, api_base)
    if found.source != "live":
        logger.warning("CodeBuddy: live model discovery failed, using the built-in catalog: %s", found.note)
        register_catalog()
    else:
        litellm.register_model(model_cost_entries(found.models))
    return [m.id for m in found.models]
