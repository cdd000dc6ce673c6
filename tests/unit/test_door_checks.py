"""The proxy's doors without a proxy: the shape checks, the client-credential refusal and its opt-ins, the failure
hook's answers, and the log filter (the end-to-end proof is tests/proxy/test_doors.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import litellm
import pytest
import yaml

import litellm_codebuddy
from litellm_codebuddy.doors import ProxyDoors, client_credentials, problem
from litellm_codebuddy.doors.logs import LITELLM_LOGGERS, ClientErrorsOnOneLine, install, one_line

ROOT = Path(__file__).resolve().parents[2]
USER = {"role": "user", "content": "hi"}


@pytest.fixture(autouse=True)
def _no_filter_left() -> Any:
    """Making a ProxyDoors installs the log filter: take it off again, so other tests see LiteLLM's own log."""
    yield
    for name in LITELLM_LOGGERS:
        for found in [f for f in logging.getLogger(name).filters if isinstance(f, ClientErrorsOnOneLine)]:
            logging.getLogger(name).removeFilter(found)


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


# ------------------------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [USER]},
        {"messages": []},  # empty: the provider's to answer
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, IMAGE]}]},
        {
            "messages": [
                USER,
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
            ]
        },
        {"model": "codebuddy/gpt-5.5"},  # no messages: LiteLLM's to answer
    ],
)
def test_good_chat_bodies_pass(body: dict[str, Any]) -> None:
    assert problem("acompletion", body) is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"messages": "hi"}, "`messages` must be an array of message objects, got a string"),
        ({"messages": {"role": "user"}}, "got an object"),
        ({"messages": [1, 2]}, "`messages[0]` must be a message object with a `role`, got a number"),
        ({"messages": [USER, None]}, "`messages[1]` must be a message object with a `role`, got null"),
        ({"messages": [{"content": "hi"}]}, "`messages[0].role` must be a string, got null"),
        ({"messages": [{"role": 7, "content": "hi"}]}, "`messages[0].role` must be a string, got a number"),
        ({"messages": [{"role": "user", "content": 42}]}, "`messages[0].content` must be a string or an array"),
        ({"messages": [{"role": "user", "content": True}]}, "got a boolean"),
        ({"messages": [{"role": "user", "content": [1]}]}, "`messages[0].content[0]` must be a content part"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "`messages[0].content[0].type` must be"),
    ],
)
def test_bad_chat_bodies_name_the_field(body: dict[str, Any], says: str) -> None:
    found = problem("acompletion", body)
    assert found is not None and says in found


def test_anthropic_messages() -> None:
    good = {
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            USER,
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        ],
    }
    assert problem("anthropic_messages", good) is None
    assert problem("anthropic_messages", {"system": "be brief", "messages": [USER]}) is None
    assert "`system` must be a string or an array" in str(problem("anthropic_messages", {"system": 42}))
    assert "`messages` must be an array" in str(problem("anthropic_messages", {"messages": "hi"}))


def test_responses_input() -> None:
    for good in ("hi", None, [USER], [{"type": "function_call_output", "call_id": "c", "output": "ok"}]):
        assert problem("aresponses", {"input": good}) is None
    assert "`input` must be a string or an array" in str(problem("aresponses", {"input": 42}))
    assert "`input[1]` must be an input item object" in str(problem("aresponses", {"input": [USER, "x"]}))
    assert "`input[0].content` must be" in str(problem("aresponses", {"input": [{"role": "user", "content": 42}]}))


@pytest.mark.parametrize("route", ["acompletion", "anthropic_messages", "aresponses"])
def test_stream_must_be_a_boolean(route: str) -> None:
    for good in (True, False, None):
        assert problem(route, {"stream": good}) is None
    assert "`stream` must be true or false, got a string" in str(problem(route, {"stream": "yes"}))
    assert "got a number" in str(problem(route, {"stream": 1}))


def test_other_routes_are_not_judged() -> None:
    assert problem("aembedding", {"messages": "hi"}) is None


def test_client_credentials() -> None:
    assert client_credentials({"api_key": "ck_x", "api_base": "http://x"}) == ["api_key"]
    assert client_credentials({"api_key": None}) == []
    assert client_credentials({"model": "m"}) == []


# ------------------------------------------------------------------------------------------------ the hook


@pytest.fixture
def running_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A stand-in for the running proxy's module globals the hook reads (``general_settings``, ``llm_router``)."""
    import litellm.proxy

    fake = types.SimpleNamespace(general_settings={}, llm_router=None)
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", fake)
    monkeypatch.setattr(litellm.proxy, "proxy_server", fake, raising=False)
    return fake


class _Router:
    def __init__(self, allowed: list[str]) -> None:
        self.allowed = allowed

    def get_model_list(self, model_name: str | None = None) -> list[dict[str, Any]]:
        return [{"litellm_params": {"model": model_name, "configurable_clientside_auth_params": self.allowed}}]


def _pre_call(data: dict[str, Any], call_type: str = "acompletion") -> Any:
    return asyncio.run(ProxyDoors().async_pre_call_hook(None, None, data, call_type))


def test_pre_call_refuses_a_bad_shape_with_400() -> None:
    fastapi = pytest.importorskip("fastapi")
    with pytest.raises(fastapi.HTTPException) as info:
        _pre_call({"model": "codebuddy/gpt-5.5", "messages": "hi"})
    assert info.value.status_code == 400 and "`messages` must be an array" in str(info.value.detail)
    body = {"model": "codebuddy/gpt-5.5", "messages": [USER]}
    assert _pre_call(body) is body


def test_pre_call_refuses_a_client_key_unless_allowed(running_proxy_settings: types.SimpleNamespace) -> None:
    fastapi = pytest.importorskip("fastapi")
    body = {"model": "codebuddy/gpt-5.5", "messages": [USER], "api_key": "ck_client"}
    with pytest.raises(fastapi.HTTPException) as info:
        _pre_call(body)
    assert info.value.status_code == 400 and "`api_key` is not allowed" in str(info.value.detail)
    running_proxy_settings.llm_router = _Router(["api_base"])  # another field allowed: still refused
    with pytest.raises(fastapi.HTTPException):
        _pre_call(body)
    running_proxy_settings.llm_router = _Router(["api_key"])
    assert _pre_call(body) is body
    running_proxy_settings.llm_router = None
    running_proxy_settings.general_settings = {"allow_client_side_credentials": True}
    assert _pre_call(body) is body


def _failure(exc: Exception) -> Any:
    return asyncio.run(ProxyDoors().async_post_call_failure_hook({}, exc, None))


def test_failure_hook_answers_a_wrong_key_without_a_database_401() -> None:
    pytest.importorskip("fastapi")
    from litellm.proxy._types import ProxyErrorTypes, ProxyException

    wrong = ProxyException(message="No connected db.", type=ProxyErrorTypes.no_db_connection, code=400, param=None)
    answer = _failure(wrong)
    assert answer.status_code == 401 and "master key" in answer.detail
    # the database's own outage (503) is LiteLLM's to answer
    outage = ProxyException(message="db down", type=ProxyErrorTypes.no_db_connection, code=503, param=None)
    assert _failure(outage) is None


def test_failure_hook_keeps_tracebacks_from_clients() -> None:
    pytest.importorskip("fastapi")
    exc = litellm.APIConnectionError(
        message="'int' object is not iterable\nTraceback (most recent call last):\n  File \"/srv/x.py\", line 1",
        llm_provider="codebuddy",
        model="gpt-5.5",
    )
    answer = _failure(exc)
    assert answer.status_code == 500
    assert "Traceback" not in answer.detail and "/srv" not in answer.detail
    assert "'int' object is not iterable" in answer.detail
    plain = litellm.BadRequestError(message="bad", model="m", llm_provider="codebuddy")
    assert _failure(plain) is None


def test_importing_the_package_touches_no_logger() -> None:
    code = (
        "import logging, litellm\n"
        "def filters():\n"
        "    return [list(logging.getLogger(n).filters) for n in ('LiteLLM Proxy', 'LiteLLM Router', 'LiteLLM', '')]\n"
        "before = filters()\n"
        "import litellm_codebuddy\n"
        "print(filters() == before)\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.strip() == "True"


def test_proxy_doors_is_made_on_first_use_only() -> None:
    assert "proxy_doors" not in vars(litellm_codebuddy)
    assert litellm_codebuddy.proxy_doors is litellm_codebuddy.proxy_doors
    assert isinstance(litellm_codebuddy.proxy_doors, ProxyDoors)
    with pytest.raises(AttributeError):
        litellm_codebuddy.no_such_name  # noqa: B018


# ------------------------------------------------------------------------------------------------ the log


def _record(msg: str, args: Any = None, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("LiteLLM Proxy", logging.ERROR, __file__, 1, msg, args, exc_info)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_a_client_error_loses_its_traceback_and_its_line_breaks() -> None:
    exc = _raised(litellm.BadRequestError(message="bad\n\nLiteLLM: model group failed", model="m", llm_provider="x"))
    record = _record("Exception occured - %s", (exc,), exc)
    assert ClientErrorsOnOneLine().filter(record)
    assert record.exc_info is None and record.args is None
    assert "\n" not in record.getMessage() and "model group failed" in record.getMessage()
    formatted = logging.Formatter().format(record)
    assert "Traceback" not in formatted


def test_a_client_error_in_the_arguments_only() -> None:
    exc = litellm.AuthenticationError(message="refused\nTraceback (most recent call last):\n x", model="m",
                                      llm_provider="x")  # fmt: skip
    record = _record("failed - %s", (exc,))
    ClientErrorsOnOneLine().filter(record)
    assert record.getMessage() == "failed - litellm.AuthenticationError: refused"


def test_a_refused_key_is_one_line() -> None:
    """LiteLLM's auth failure log: a plain exception (no status) with its traceback, the address on a second line."""
    exc = _raised(Exception("No api key passed in."))
    record = _record("auth(): Exception occured - %s\nRequester IP Address:%s%s", (str(exc), "127.0.0.1", ""), exc)
    record.requester_ip = "127.0.0.1"
    ClientErrorsOnOneLine().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == "auth(): Exception occured - No api key passed in. Requester IP Address:127.0.0.1"
    outage = _raised(litellm.ServiceUnavailableError(message="db down", model="m", llm_provider="x"))
    record = _record("auth(): %s\nRequester IP Address:%s", (str(outage), "127.0.0.1"), outage)
    record.requester_ip = "127.0.0.1"
    ClientErrorsOnOneLine().filter(record)
    assert record.exc_info is not None  # a 5xx keeps its traceback


def test_server_errors_keep_their_traceback() -> None:
    exc = _raised(litellm.InternalServerError(message="boom\nmore", model="m", llm_provider="x"))
    record = _record("Exception occured - %s", (exc,), exc)
    ClientErrorsOnOneLine().filter(record)
    assert record.exc_info is not None and "\n" in record.getMessage()
    plain = _record("no exception\nsecond line")
    ClientErrorsOnOneLine().filter(plain)
    assert plain.getMessage() == "no exception\nsecond line"


def test_install_filters_litellms_loggers_once_and_never_the_root() -> None:
    install()
    install()
    for name in LITELLM_LOGGERS:
        assert sum(isinstance(f, ClientErrorsOnOneLine) for f in logging.getLogger(name).filters) == 1
    assert not any(isinstance(f, ClientErrorsOnOneLine) for f in logging.getLogger().filters)


def test_one_line() -> None:
    assert one_line("a\n\n  b\nTraceback (most recent call last):\n  c") == "a b"


@pytest.mark.parametrize("config", ["proxy_config.yaml", "proxy_team.yaml", "proxy_replicas.yaml"])
def test_every_shipped_config_opens_the_doors(config: str) -> None:
    settings = yaml.safe_load((ROOT / config).read_text(encoding="utf-8"))["litellm_settings"]
    assert "litellm_codebuddy.proxy_doors" in settings["callbacks"]
