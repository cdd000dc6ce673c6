"""The provider keeps working when the libraries below it change their internals: with private names of h11,
httpcore, httpx, anyio, json and LiteLLM "renamed" (hidden from every module outside the library that owns them,
as a new release that renames them would leave them: the library itself still finds them), plain and streamed
calls, sync and async, over HTTP and TLS, with and without the coalescing window, against the fake (thin usage:
the prompt is counted locally) all succeed with the right answer.

The names are ones the provider once read (provider/ready.py, the JSON fast paths, the prompt count's internals);
with only h11's ``ChunkedReader._reading_trailer`` renamed, that provider failed every call."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import types
from collections.abc import Iterator
from typing import Any

import litellm
import pytest

from fake_codebuddy import FakeCodeBuddy

KEY = "ck_public.test"
MODEL = "codebuddy/gpt-5.5"

# (library, module, class or None for the module itself, private names a release could rename)
RENAMED: list[tuple[str, str, str | None, tuple[str, ...]]] = [
    ("h11", "h11._readers", "ChunkedReader", ("_reading_trailer",)),
    ("h11", "h11._readers", "ChunkedReader", ("_bytes_to_discard",)),
    ("h11", "h11._readers", "ChunkedReader", ("_bytes_in_chunk",)),
    ("h11", "h11._readers", "ContentLengthReader", ("_remaining",)),
    ("h11", "h11._connection", "Connection", ("_receive_buffer", "_reader")),
    ("h11", "h11._receivebuffer", "ReceiveBuffer", ("_data",)),
    ("httpcore", "httpcore._sync.http11", "HTTP11Connection", ("_h11_state", "_network_stream")),
    ("httpcore", "httpcore._async.http11", "AsyncHTTP11Connection", ("_h11_state", "_network_stream")),
    ("httpcore", "httpcore._sync.http11", "HTTP11ConnectionByteStream", ("_connection",)),
    ("httpcore", "httpcore._async.http11", "HTTP11ConnectionByteStream", ("_connection",)),
    ("httpcore", "httpcore._sync.connection_pool", "PoolByteStream", ("_stream",)),
    ("httpcore", "httpcore._async.connection_pool", "PoolByteStream", ("_stream",)),
    ("httpcore", "httpcore._backends.anyio", "AnyIOStream", ("_stream",)),
    ("httpx", "httpx._transports.default", "ResponseStream", ("_httpcore_stream",)),
    ("httpx", "httpx._transports.default", "AsyncResponseStream", ("_httpcore_stream",)),
    ("anyio", "anyio.streams.tls", "TLSStream", ("_read_bio", "_ssl_object")),
    ("anyio", "anyio._backends._asyncio", "SocketStream", ("_protocol",)),
    ("json", "json.encoder", None, ("c_make_encoder",)),
    ("json", "json.scanner", None, ("c_make_scanner",)),
    ("json", "json.decoder", "JSONDecoder", ("scan_once",)),
    ("litellm", "litellm.litellm_core_utils.token_counter", None, ("_count_messages", "_count_extra")),
    ("litellm", "litellm.litellm_core_utils.token_counter", None, ("_MessageCountParams",)),
]
LIBRARIES = sorted({entry[0] for entry in RENAMED})


def _outsider(owner: str) -> bool:
    """Whether the code asking for a name (two frames up: past the guard) is outside ``owner``'s package."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    name = caller.f_globals.get("__name__", "") if caller is not None else ""
    return str(name).split(".")[0] != owner


def _hide_on_class(monkeypatch: pytest.MonkeyPatch, cls: type, names: frozenset[str], owner: str) -> None:
    original = cls.__getattribute__

    def guarded(self: Any, name: str) -> Any:
        if name in names and _outsider(owner):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return original(self, name)

    monkeypatch.setattr(cls, "__getattribute__", guarded)


def _hide_on_module(
    monkeypatch: pytest.MonkeyPatch, module: types.ModuleType, names: frozenset[str], owner: str
) -> None:
    class Renamed(type(module)):  # type: ignore[misc]
        def __getattribute__(self, name: str) -> Any:
            if name in names and _outsider(owner):
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            return super().__getattribute__(name)

    monkeypatch.setattr(module, "__class__", Renamed)


def rename(monkeypatch: pytest.MonkeyPatch, libraries: set[str], only: int | None = None) -> int:
    """Hide the private names of ``libraries`` (or of the ``only``-th entry of :data:`RENAMED`) from everything
    outside them; how many classes and modules were changed."""
    places: dict[tuple[str, str, str | None], set[str]] = {}
    for index, (library, module_name, class_name, names) in enumerate(RENAMED):
        if library in libraries and (only is None or index == only):
            places.setdefault((library, module_name, class_name), set()).update(names)
    changed = 0
    for (library, module_name, class_name), names in places.items():  # one guard per place: guards do not stack
        module = importlib.import_module(module_name)
        if class_name is None:
            _hide_on_module(monkeypatch, module, frozenset(names), library)
        else:
            cls = getattr(module, class_name, None)
            if cls is None:  # another release's layout: nothing to rename there
                continue
            _hide_on_class(monkeypatch, cls, frozenset(names), library)
        changed += 1
    return changed


def test_a_renamed_name_is_gone_for_outsiders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The renaming works as a release's would: the library still finds its names, nobody else does."""
    import json
    import json.encoder

    import h11

    assert rename(monkeypatch, set(LIBRARIES)) >= 14
    reader = h11._readers.ChunkedReader()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        reader._reading_trailer  # noqa: B018
    with pytest.raises(AttributeError):
        json.encoder.c_make_encoder  # noqa: B018
    assert json.dumps({"a": [1, "é"]}, separators=(",", ":")) == '{"a":[1,"\\u00e9"]}'
    assert json.loads('{"a": [1, 2]}') == {"a": [1, 2]}
    conn = h11.Connection(our_role=h11.CLIENT)  # h11 reads its own renamed names
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert isinstance(conn.next_event(), h11.Response)
    assert bytes(conn.next_event().data) == b"abc"  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy() as instance:
        yield instance


@pytest.fixture(scope="module")
def tls_fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(tls=True) as instance:
        yield instance


def _call(fake: FakeCodeBuddy, how: str, **kw: Any) -> tuple[str, Any]:
    """(the answer's text, its usage) of one call made ``how``."""
    kw = {"model": MODEL, "messages": [{"role": "user", "content": "hi FAKE:events=30"}], "api_key": KEY, **kw}
    kw["api_base"] = fake.base_url
    if fake.ca_file is not None:
        kw["ssl_verify"] = str(fake.ca_file)
    if how == "sync plain":
        response = litellm.completion(**kw)
        return response.choices[0].message.content, response.usage
    if how == "async plain":
        response = asyncio.run(litellm.acompletion(**kw))
        return response.choices[0].message.content, response.usage
    if how == "sync stream":
        chunks = list(litellm.completion(stream=True, stream_options={"include_usage": True}, **kw))
    else:

        async def run() -> list[Any]:
            stream = await litellm.acompletion(stream=True, stream_options={"include_usage": True}, **kw)
            return [chunk async for chunk in stream]

        chunks = asyncio.run(run())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = next((c.usage for c in reversed(chunks) if getattr(c, "usage", None)), None)
    return text, usage


HOW = ["sync plain", "async plain", "sync stream", "async stream"]
EXPECTED = "".join(f"w{i} " for i in range(30))
ONE_BY_ONE = [f"{module}.{cls or ''}:{','.join(names)}" for _, module, cls, names in RENAMED]


def _check(fake: FakeCodeBuddy, how: str) -> None:
    text, usage = _call(fake, how)
    assert text == EXPECTED
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0  # thin usage: the prompt was counted locally
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("libraries", [*LIBRARIES, "all"])
def test_every_call_goes_through_with_private_names_renamed(
    fake: FakeCodeBuddy, libraries: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rename(monkeypatch, set(LIBRARIES) if libraries == "all" else {libraries})
    _check(fake, how)


@pytest.mark.parametrize("how", ["sync stream", "async stream"])
@pytest.mark.parametrize("entry", range(len(RENAMED)), ids=ONE_BY_ONE)
def test_streams_go_through_with_one_class_renamed(
    fake: FakeCodeBuddy, entry: int, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rename at a time: code that finds the rest of a layout as it expects and then trips on the one renamed
    field (the provider that read h11's ``ChunkedReader._reading_trailer``) fails here."""
    assert rename(monkeypatch, set(LIBRARIES), only=entry) in (0, 1)
    _check(fake, how)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("window", [None, "auto", 20], ids=["no window", "auto", "20ms"])
def test_over_tls_and_through_the_window_too(
    tls_fake: FakeCodeBuddy, window: Any, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rename(monkeypatch, set(LIBRARIES))
    kw = {} if window is None else {"coalesce_ms": window}
    text, _ = _call(tls_fake, how, **kw)
    assert text == EXPECTED
