"""The official client's scenarios (``test_official_client.py``) through our provider: the same prompt, sent with
``litellm.completion(model="codebuddy/...")`` to the same fake (in-process, on a free loopback port: no namespace
needed), gives the user the same outcome: the answer, the tool calls, the error and its text.

Where the outcomes differ on purpose, the test says so: the official client shows the soft block's notice as an
answer (and adds its own), the provider raises ContentPolicyViolationError; a stream cut short is an error to both
(the client after 3 retries: "No response received from model"); a business error under HTTP 200 is no answer
to the client and the error of its code to the provider.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import litellm
import pytest

import litellm_codebuddy  # noqa: F401  (registers the codebuddy/ provider)
from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.codes import business_message
from litellm_codebuddy.account.discovery import fetch_live_models

from support.official import KEY, OFFICIAL_X, tiny_png
from support.proxy import marker

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
#: the two tools of the official client's tool turn (``--tools Read,Glob``), their required properties only
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "Read",
            "parameters": {
                "type": "object",
                "properties": {"file_path": {"type": "string"}},
                "required": ["file_path"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "Glob",
            "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]},
        },
    },
]


def complete(fake: FakeCodeBuddy, messages: list[dict[str, Any]], **kw: Any) -> Any:
    return litellm.completion(
        model=kw.pop("model", "codebuddy/gpt-5.5"),
        api_base=fake.base_url,
        api_key=KEY,
        messages=[SYSTEM, *messages],
        num_retries=0,
        **kw,
    )


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-5.4"])
def test_a_plain_turn(fake: FakeCodeBuddy, model: str) -> None:
    word = marker()
    response = complete(fake, [{"role": "user", "content": f"say {word}"}], model=f"codebuddy/{model}")
    assert response.choices[0].message.content == f"Echo: say {word}"
    (request,) = fake.requests
    assert request.headers["authorization"] == f"Bearer {KEY}" and request.headers["x-api-key"] == KEY
    assert request.body["model"] == model and request.body["stream"] is True


def test_a_the_models_of_v3_config(fake: FakeCodeBuddy) -> None:
    """The provider's discovery reads the same ``/v3/config`` row the official client used: limits and effort."""
    fake.models_live = [OFFICIAL_X]
    models, endpoint = fetch_live_models(KEY, fake.base_url)
    assert endpoint.endswith("/v3/config")
    (model,) = models
    assert (model.id, model.max_input_tokens, model.max_output_tokens) == ("fake-official-x", 100_000, 7_777)
    assert model.default_effort == "medium"


def test_b_reasoning_shown(fake: FakeCodeBuddy) -> None:
    word = marker()
    response = complete(
        fake,
        [{"role": "user", "content": f"think {word}"}],
        reasoning_effort="low",
        allowed_openai_params=["reasoning_effort"],
    )
    assert response.choices[0].message.reasoning_content == f"Thinking about: think {word}"
    assert fake.requests[-1].body["reasoning_effort"] == "low"


def test_c_tool_turn_with_two_parallel_calls(fake: FakeCodeBuddy) -> None:
    word = marker()
    asked = [{"role": "user", "content": f"look {word} PARALLEL"}]
    message = (
        complete(fake, asked, tools=TOOLS, reasoning_effort="high", allowed_openai_params=["reasoning_effort"])
        .choices[0]
        .message
    )
    calls = message.tool_calls
    assert [call.function.name for call in calls] == ["Read", "Glob"] and len({call.id for call in calls}) == 2
    assert [json.loads(call.function.arguments) for call in calls] == [{"file_path": "test"}, {"pattern": "test"}]
    results = ["<tool_use_error>File does not exist.</tool_use_error>", "No files found"]
    follow_up: list[dict[str, Any]] = [
        *asked,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump() for call in calls]},
        *(
            {"role": "tool", "tool_call_id": call.id, "content": text}
            for call, text in zip(calls, results, strict=True)
        ),
    ]
    answer = complete(fake, follow_up, tools=TOOLS).choices[0].message.content
    assert answer == "Tool results: " + "; ".join(results)


@pytest.mark.parametrize(
    ("spec", "error", "said"),
    [
        ("code=6001 status=429 retry_after=2", litellm.RateLimitError, business_message(6001)[0]),
        ("code=6001 status=429 retry_policy=false", litellm.RateLimitError, "retry_policy"),
        ("code=6001 status=429 retry_policy=true", litellm.RateLimitError, business_message(6001)[0]),
        ("code=6004 status=429", litellm.RateLimitError, "您的使用量已超出频率限制"),
        # under HTTP 200 the official client sees no answer; the provider still reads the code
        ("code=6004 status=200", litellm.RateLimitError, "您的使用量已超出频率限制"),
        ("code=14018 status=429", litellm.RateLimitError, "insufficient credits: your credits are exhausted"),
        ("code=11115 status=400", litellm.ContextWindowExceededError, "input length too long"),
        ("refuse=channel", litellm.ContentPolicyViolationError, "Illegal API invocation from an unapproved channel"),
        ("refuse=softblock", litellm.ContentPolicyViolationError, "content-safety"),
        ("cut=3", litellm.APIConnectionError, "stream ended without [DONE] or a finish_reason"),
    ],
)
def test_d_errors(fake: FakeCodeBuddy, spec: str, error: type[Exception], said: str) -> None:
    """Each error the official client reports is an error here too, of the class LiteLLM's machinery acts on, and
    it carries the gateway's own words."""
    with pytest.raises(error) as caught:
        # a prompt of its own: the provider answers a request the gateway forbade retrying itself, for a while
        complete(fake, [{"role": "user", "content": f"say hi {marker()}"}], extra_headers={"X-Fake-Fault": spec})
    assert said in str(caught.value)


def test_e_image_in_the_prompt(fake: FakeCodeBuddy) -> None:
    word = marker()
    image = base64.b64encode(tiny_png()).decode()
    content = [
        {"type": "text", "text": f"what is this {word}"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
    ]
    response = complete(fake, [{"role": "user", "content": content}])
    assert response.choices[0].message.content == f"Echo: what is this {word} [images: 1]"
    parts = fake.requests[-1].body["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}} in parts
