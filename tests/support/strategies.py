"""Hypothesis strategies for requests a client could send: real conversations, with one field made hostile now and
then, and values of every kind (lone surrogates, bytes, NaN, schemas nested hundreds deep).

Used by the property suites of the request side (``tests/unit/test_properties.py``, pure) and of the SDK against
the fake (``tests/fake/test_properties_fake.py``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["Deep", "conversations", "junk", "messages", "nested", "params", "weighted"]

# text of every kind: ASCII, CJK, emoji (surrogate pairs in JSON), and lone surrogates (not Unicode text)
text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.text(alphabet=st.sampled_from('ab \n中文😀\ud800\udfff\\"\x00'), max_size=12),
)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)
junk = st.one_of(json_value, st.binary(max_size=8), st.just(float("nan")), st.just(b"\xff\xfe"))


class Deep(dict):  # type: ignore[type-arg]
    """A schema nested ``depth`` deep, shown by its depth (Hypothesis would print it level by level)."""

    depth = 0

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(f"nested({self.depth})")

    def __repr__(self) -> str:
        return f"nested({self.depth})"


def nested(depth: int, key: str = "properties") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object"}
    for _ in range(depth):
        node = {"type": "object", key: {"x": node}}
    deep = Deep(node)
    deep.depth = depth
    return deep


image_part = st.builds(
    lambda url, detail, shape: (
        {"type": "image_url", "image_url": url}
        if shape == "bare"
        else {"type": "image_url", "image_url": {"url": url, **({"detail": detail} if detail else {})}}
    ),
    st.one_of(st.just("https://img.example/a.png"), st.just("data:image/png;base64,iVBORw0KGgo="), text, junk),
    st.sampled_from([None, "low", "high", "auto"]),
    st.sampled_from(["dict", "bare"]),
)
text_part = st.builds(
    lambda t, mark: {"type": "text", "text": t, **({"cache_control": {"type": "ephemeral"}} if mark else {})},
    st.one_of(text, junk),
    st.booleans(),
)
other_part = st.one_of(
    st.just({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}),
    st.just({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}),
    st.just({"type": "refusal", "refusal": "no"}),
    st.builds(lambda kind: {"type": kind}, text),
    st.dictionaries(text, json_value, max_size=2),
    junk,
)
part = st.one_of(text_part, text_part, image_part, other_part)
content = st.one_of(text, text, st.lists(part, max_size=3), st.none(), junk)
call_ids = st.sampled_from(["call_1", "call_2", "", None])
tool_call = st.one_of(
    st.builds(
        lambda call_id, name, args: {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}},
        call_ids,
        st.sampled_from(["get_weather", "f"]),
        st.sampled_from(["{}", '{"city": "Paris"}', ""]),
    ),
    junk,
)


def message_of(role: Any, body: Any, calls: Any, call_id: Any, name: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role}
    if body != "<absent>":
        msg["content"] = body
    if calls is not None:
        msg["tool_calls"] = calls
    if call_id is not None:
        msg["tool_call_id"] = call_id
    if name is not None:
        msg["name"] = name
    return msg


message = st.builds(
    message_of,
    st.one_of(st.sampled_from(["system", "developer", "user", "user", "assistant", "tool", "function"]), junk),
    st.one_of(content, st.just("<absent>")),
    st.one_of(st.none(), st.lists(tool_call, max_size=2)),
    st.one_of(st.none(), call_ids),
    st.one_of(st.none(), text),
)
good_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
good_content = st.one_of(
    good_text,
    st.lists(
        st.one_of(
            st.builds(lambda t: {"type": "text", "text": t}, good_text),
            st.builds(lambda t: {"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}, good_text),
        ),
        max_size=2,
    ),
)
user_content = st.one_of(
    good_content,
    st.lists(st.one_of(st.builds(lambda t: {"type": "text", "text": t}, good_text), image_part), max_size=3),
)


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A conversation a client could really send (system and developer messages anywhere, consecutive assistant
    turns, tool calls and their results, names, empty messages), then maybe one field of it made hostile."""
    out: list[dict[str, Any]] = []
    calls = 0
    for _ in range(draw(st.integers(1, 6))):
        role = draw(st.sampled_from(["system", "developer", "user", "user", "assistant", "tool"]))
        if role == "tool":
            if not calls:
                continue
            out.append(
                {"role": "tool", "tool_call_id": f"call_{draw(st.integers(1, calls))}", "content": draw(good_text)}
            )
        elif role == "assistant" and draw(st.booleans()):
            calls += 1
            call = {"id": f"call_{calls}", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            out.append(
                {"role": "assistant", "content": draw(st.sampled_from([None, "", "let me look"])), "tool_calls": [call]}
            )
        else:
            msg = {"role": role, "content": draw(user_content if role == "user" else good_content)}
            if draw(st.booleans()):
                msg["name"] = draw(st.sampled_from(["alice", "bob"]))
            out.append(msg)
    if not out:
        out.append({"role": "user", "content": "hi"})
    if draw(st.integers(0, 3)) == 0:  # one field made hostile
        i = draw(st.integers(0, len(out) - 1))
        out[i] = {**out[i], draw(st.sampled_from(["content", "role", "tool_calls", "tool_call_id"])): draw(junk)}
    return out


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each picked in proportion to its weight."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


messages = weighted(
    (7, conversations()),
    (1, st.lists(message, min_size=1, max_size=5)),
    (1, st.lists(st.one_of(message, junk), max_size=3)),
    (1, junk),
)
schema = st.one_of(
    st.just({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    st.just({"$defs": {"C": {"type": "string"}}, "type": "object", "properties": {"c": {"$ref": "#/$defs/C"}}}),
    st.just({"allOf": [{"properties": {"a": {"type": "string"}}}, {"required": ["a"]}], "type": "object"}),
    st.just({"type": "object", "properties": {"me": {"$ref": "#"}}}),
    st.integers(1, 40).map(nested),
    st.integers(600, 1200).map(nested),
    st.integers(600, 1200).map(lambda d: nested(d, "$defs")),
    json_value,
)
tool = st.one_of(
    st.builds(
        lambda name, params, typed: {
            **({"type": "function"} if typed else {}),
            "function": {"name": name, "description": "d", "parameters": params},
        },
        st.one_of(st.sampled_from(["get_weather", "f"]), text),
        schema,
        st.booleans(),
    ),
    junk,
)
tool_choice = st.one_of(
    st.none(),
    st.sampled_from(["none", "auto", "required", "banana", ""]),
    st.just({"type": "function", "function": {"name": "get_weather"}}),
    st.just({"type": "function", "function": {"name": "missing"}}),
    junk,
)
good_params = st.fixed_dictionaries(
    {},
    optional={
        "tools": st.lists(tool, max_size=3).filter(lambda ts: all(isinstance(t, dict) for t in ts)),
        "tool_choice": st.sampled_from(["none", "auto", "required"]),
        "max_tokens": st.integers(1, 100_000),
        "temperature": st.floats(0, 2),
        "reasoning_effort": st.sampled_from(["low", "medium", "high", "xhigh", "max"]),
        "user": good_text,
        "stop": st.lists(good_text, max_size=2),
    },
)
hostile_params = st.fixed_dictionaries(
    {},
    optional={
        "tools": st.one_of(st.lists(tool, max_size=3), junk),
        "tool_choice": tool_choice,
        "max_tokens": st.one_of(st.integers(-5, 100_000), junk),
        "max_completion_tokens": st.one_of(st.integers(0, 100), junk),
        "temperature": st.one_of(st.floats(0, 2), junk),
        "reasoning_effort": st.one_of(st.sampled_from(["low", "medium", "high", "xhigh", "max", "none", "huge"]), junk),
        "prompt_cache_key": st.one_of(text, junk),
        "user": st.one_of(text, junk),
        "stop": st.one_of(st.lists(text, max_size=2), junk),
        "extra_body": st.one_of(st.dictionaries(st.sampled_from(["seed", "tool_choice", "top_p"]), json_value), junk),
        "parallel_tool_calls": st.one_of(st.booleans(), junk),
    },
)
params = weighted((3, good_params), (1, hostile_params))
