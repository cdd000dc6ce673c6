"""Register the account's models when a LiteLLM proxy worker starts (opt-in).

LiteLLM's proxy runs the functions named in ``LITELLM_WORKER_STARTUP_HOOKS`` (``module:function``, comma
separated) in each worker's start-up, before it loads its config, and fails the start when one raises. So::

    LITELLM_WORKER_STARTUP_HOOKS=litellm_codebuddy:proxy_startup litellm --config config.yaml

asks CodeBuddy for the account's models (:func:`~.discovery.discover`) and registers their limits and flags with
LiteLLM. LiteLLM cannot list the models of a custom provider's wildcard (``/model/info`` expands ``codebuddy/*``
only for its built-in providers), so once the proxy's router exists each model that has no deployment of its own
gets one, a copy of the ``codebuddy/*`` deployment's ``litellm_params`` under its own name with its
``model_info``: ``/model/info`` and ``/v1/models`` then list them. The discovery is bounded by
``CODEBUDDY_DISCOVERY_BUDGET`` seconds (default 5); when it fails or runs out of time the built-in catalog is used
instead, a warning says why, and the proxy starts all the same: :func:`proxy_startup` never raises.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import litellm

from ..endpoint import PROVIDER
from .discovery import LiveModel, discover, model_cost_entries, model_list, remember

__all__ = ["BUDGET_ENV", "DEFAULT_BUDGET", "budget_from_env", "new_deployments", "proxy_startup"]

logger = logging.getLogger(__name__)

BUDGET_ENV = "CODEBUDDY_DISCOVERY_BUDGET"
DEFAULT_BUDGET = 5.0
_MAX_BUDGET = 60.0
_ROUTER_WAIT = 60.0  # how long the added deployments wait for the proxy's router (it is built after the hooks)
_WILDCARD = f"{PROVIDER}/*"
_pending: set[asyncio.Task[None]] = set()  # the running deployment tasks (kept referenced until they finish)


def budget_from_env() -> float:
    """``CODEBUDDY_DISCOVERY_BUDGET`` in seconds (0 < budget <= 60), else the default (with a warning if unusable)."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET
    try:
        budget = float(raw)
    except ValueError:
        budget = -1.0
    if not 0 < budget <= _MAX_BUDGET:
        logger.warning(
            "CodeBuddy: %s=%r is not a number of seconds in (0, 60]; using %g", BUDGET_ENV, raw[:20], DEFAULT_BUDGET
        )
        return DEFAULT_BUDGET
    return budget


def new_deployments(models: list[LiveModel], deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deployments to add for ``models`` given the router's ``deployments``: one per model without a
    deployment of its own, with the ``codebuddy/*`` deployment's ``litellm_params`` (none without one). Pure."""
    wildcard = next(
        (d for d in deployments if (d.get("litellm_params") or {}).get("model") == _WILDCARD),
        None,
    )
    if wildcard is None:
        return []
    taken = {d.get("model_name") for d in deployments}
    added = []
    for entry in model_list(models):
        if entry["model_name"] in taken:
            continue
        params = {**wildcard["litellm_params"], "model": entry["litellm_params"]["model"]}
        added.append({**entry, "litellm_params": params})
    return added


async def _deploy_when_ready(models: list[LiveModel]) -> None:
    """Add the models' deployments once the proxy's router is built (the hook runs before the config is read)."""
    try:
        from litellm.proxy import proxy_server
        from litellm.types.router import Deployment

        deadline = time.monotonic() + _ROUTER_WAIT
        while proxy_server.llm_router is None:
            if time.monotonic() > deadline:
                logger.warning("CodeBuddy: the proxy's router did not appear; the account's models are not listed")
                return
            await asyncio.sleep(0.05)
        router = proxy_server.llm_router
        added = new_deployments(models, [dict(d) for d in router.get_model_list() or []])
        for entry in added:
            router.add_deployment(Deployment(**entry))
        if added:
            proxy_server.llm_model_list = router.get_model_list()
        logger.info("CodeBuddy: %d of the account's models added as deployments", len(added))
    except Exception as exc:  # listing is a convenience: a failure here never breaks the proxy
        logger.warning("CodeBuddy: could not add the account's models as deployments: %s: %s", type(exc).__name__, exc)


async def proxy_startup() -> None:
    """The proxy start-up hook: the account's models registered (or the catalog's), never raises, never waits
    longer than the budget."""
    budget = budget_from_env()
    try:
        # discover bounds itself; wait_for is a second fence (a thread still running then ends on its own)
        found = await asyncio.wait_for(asyncio.to_thread(discover, budget=budget), timeout=budget + 2)
        if found.source != "live":
            logger.warning("CodeBuddy: live model discovery failed, using the built-in catalog: %s", found.note)
        litellm.register_model(model_cost_entries(found.models))
        if found.source == "live":
            remember(found.models)
    except Exception as exc:  # whatever happens, the proxy starts
        logger.warning(
            "CodeBuddy: registering the account's models at start-up failed, using the built-in catalog: %s: %s",
            type(exc).__name__,
            exc,
        )
        return
    logger.info("CodeBuddy: %d models registered at proxy start-up (%s)", len(found.models), found.source)
    if found.source == "live":
        task = asyncio.get_running_loop().create_task(_deploy_when_ready(found.models))
        _pending.add(task)
        task.add_done_callback(_pending.discard)
