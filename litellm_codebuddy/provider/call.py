"""One LiteLLM call, described once: the only place that reads LiteLLM's handler arguments.

LiteLLM hands a custom provider a dozen keyword arguments (``optional_params``, ``litellm_params``, ``headers``,
``timeout``, ``client``, ``logging_obj``, ...). :meth:`Call.from_litellm` reads them into a typed, immutable
:class:`Call`, and never writes into LiteLLM's dicts: the handler and the pure pieces take what they need from it.
The key is not resolved here (that may read the stored login: the handler does it, off the event loop when async).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx
import litellm

from ..endpoint import PRIVATE_DATA_ENV, switch
from .cache_key import auto_cache_key
from .params import DEFAULT_POLICY, Policy, smaller_limit
from .window import Window, coalesce_window

__all__ = ["Call", "private_data"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Call:
    """What one call asks for, as the handler needs it. ``repr`` shows no key, client or LiteLLM object."""

    model: str
    messages: Any
    params: Mapping[str, Any]
    """LiteLLM's ``optional_params``: the body parameters (read-only)"""
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict, repr=False)
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(DEFAULT_TIMEOUT))
    verify: bool | str = True
    """TLS verification: a bool, or a CA bundle path (``ssl_verify``, the LiteLLM way)"""
    coalesce: Window = field(default_factory=Window)
    """the coalescing window (:mod:`.window`; none unless asked for)"""
    policy: Policy = DEFAULT_POLICY
    """the caller's switches for what is sent: the derived cache key, ``drop_params``, JSON-schema validation, the
    privacy opt-out"""
    routed: bool = False
    """called by a LiteLLM Router (the proxy, or a Router in the SDK): its metadata names a model group"""
    client: Any = field(default=None, repr=False, compare=False)
    logging_obj: Any = field(default=None, repr=False, compare=False)
    model_response: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_litellm(
        cls,
        model: str,
        messages: Any,
        optional_params: Mapping[str, Any] | None = None,
        litellm_params: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        api_base: str | None = None,
        headers: Mapping[str, Any] | None = None,
        timeout: Any = None,
        client: Any = None,
        logging_obj: Any = None,
        model_response: Any = None,
        *,
        stream: bool = False,
        **_unused: Any,
    ) -> Call:
        """``stream``: the call streams to its caller (only then is the coalescing window read). Arguments LiteLLM
        passes that the provider has no use for (``custom_prompt_dict``, ``print_verbose``, ``encoding``,
        ``logger_fn``, ``acompletion``, ...) are ignored."""
        deployment = litellm_params or {}
        # what the caller asked for before LiteLLM merged max_tokens and max_completion_tokens (params.py)
        asked = getattr(logging_obj, "model_call_details", {}).get("optional_params")
        params = MappingProxyType(dict(smaller_limit(optional_params or {}, asked)))
        metadata = deployment.get("metadata")
        return cls(
            model=model,
            messages=messages,
            params=params,
            api_key=api_key,
            api_base=api_base,
            headers=MappingProxyType(dict(headers or {})),
            timeout=_timeout(timeout),
            verify=_verify(deployment.get("ssl_verify")),
            coalesce=coalesce_window(params.get("coalesce_ms"), deployment.get("coalesce_ms"), model)
            if stream
            else Window(),
            policy=_policy(params, deployment, stream=stream),
            routed=isinstance(metadata, Mapping) and bool(metadata.get("model_group")),
            client=client,
            logging_obj=logging_obj,
            model_response=model_response,
        )


def _policy(params: Mapping[str, Any], deployment: Mapping[str, Any], *, stream: bool) -> Policy:
    """The switches: a per-call value first, then the deployment's, then LiteLLM's process-wide setting."""
    drop = deployment.get("drop_params")
    validation = deployment.get("enable_json_schema_validation")
    if validation is None:
        validation = getattr(litellm, "enable_json_schema_validation", False)
    return Policy(
        auto_cache_key=auto_cache_key(params.get("auto_prompt_cache_key"), deployment.get("auto_prompt_cache_key")),
        drop_params=drop is True or str(drop).lower() == "true" or litellm.drop_params is True,
        validates_json=validation is True and not stream,  # LiteLLM checks whole answers only
        private_data=private_data(params.get("private_data"), deployment.get("private_data")),
    )


def private_data(call_value: Any = None, deployment_value: Any = None) -> bool:
    """Whether to opt out of the use of the requests to improve models (``X-Private-Data: true``): ``private_data``
    of the call or of the deployment, or ``CODEBUDDY_PRIVATE_DATA``. An opt-out anywhere wins, so a call's False
    never undoes the process's opt-out (through a Router, LiteLLM gives a call's own arguments precedence over its
    deployment's ``litellm_params``: docs/teams.md). A value that is not true or false is ignored, with a warning."""
    raw = os.environ.get(PRIVATE_DATA_ENV, "")
    for value, where in ((call_value, "private_data"), (deployment_value, "private_data"), (raw, PRIVATE_DATA_ENV)):
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        on = switch(value)
        if on is None:
            logger.warning("CodeBuddy: %s=%r is not true or false; ignored", where, str(value)[:20])
        elif on:
            return True
    return False


def _timeout(timeout: Any) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    try:
        seconds = float(timeout) if timeout is not None else DEFAULT_TIMEOUT
    except (TypeError, ValueError):
        seconds = DEFAULT_TIMEOUT
    return httpx.Timeout(seconds)


def _verify(value: Any) -> bool | str:
    if value is None:
        value = getattr(litellm, "ssl_verify", True)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value if isinstance(value, (bool, str)) else True
