"""Images end to end: the real ``litellm`` proxy with the project's proxy_config.yaml in front of the fake, driven
with the ``openai`` client's ``images.generate`` and ``images.edit``."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import openai
import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.images import CREDITS_PER_IMAGE, png

from support.proxy import UPSTREAM_KEY, Proxy, marker, running_proxy

IMAGE_MODEL = "codebuddy/hunyuan-image-v3.0"
CREDIT_COST = 0.01


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCodeBuddy]:
    with FakeCodeBuddy(api_key=UPSTREAM_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeCodeBuddy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {"CODEBUDDY_API_KEY": UPSTREAM_KEY, "CODEBUDDY_API_BASE": fake.base_url, "CODEBUDDY_CREDIT_COST": "0.01"}
    with running_proxy(tmp_path_factory.mktemp("images-proxy"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def client(proxy: Proxy) -> Iterator[openai.OpenAI]:
    with proxy.client() as c:
        yield c


def image_request(fake: FakeCodeBuddy, word: str) -> dict:
    found = [r for r in list(fake.requests) if isinstance(r.body, dict) and word in str(r.body.get("prompt"))]
    assert found, f"no image request with {word!r} reached the fake"
    return found[-1]


def test_the_image_model_is_listed(client: openai.OpenAI) -> None:
    assert IMAGE_MODEL in {m.id for m in client.models.list().data}


def test_generate_with_size_and_n(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    raw = client.images.with_raw_response.generate(model=IMAGE_MODEL, prompt=f"a fox {word}", size="512x512", n=2)
    result = raw.parse()
    assert len(result.data) == 2 and result.created > 0
    for item in result.data:
        assert base64.b64decode(item.b64_json or "")[:8] == b"\x89PNG\r\n\x1a\n"
    # n and size reach the gateway although LiteLLM keeps them from a custom provider: read from the proxy's body
    rec = image_request(fake, word)
    assert rec.path == "/v2/images/generations"
    assert rec.body == {"model": "hunyuan-image-v3.0", "prompt": f"a fox {word}", "size": "512x512", "n": 2}
    assert rec.headers["x-api-key"] == UPSTREAM_KEY
    # the credit on the answer, and its cost as the proxy's response cost (spend)
    assert result.usage is not None and result.usage.model_extra["credit"] == 2 * CREDITS_PER_IMAGE
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(2 * CREDITS_PER_IMAGE * CREDIT_COST)


def test_an_upstream_error_reaches_the_client_with_its_status(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model=IMAGE_MODEL, prompt=f"a fox {word} FAKE:code=11135")
    assert caught.value.status_code == 400 and "11135" in str(caught.value)
    assert UPSTREAM_KEY not in str(caught.value)


def test_edit_through_the_wildcard(client: openai.OpenAI, fake: FakeCodeBuddy) -> None:
    word = marker()
    picture = png(b"in")
    result = client.images.edit(
        model="codebuddy/hunyuan-image-v2.0-general-edit",
        image=("in.png", picture, "image/png"),
        prompt=f"make it blue {word}",
        size="256x256",
    )
    assert base64.b64decode(result.data[0].b64_json or "")[:8] == b"\x89PNG\r\n\x1a\n"
    rec = image_request(fake, word)
    assert rec.path == "/v2/images/edits"
    assert rec.body["image"] == ["data:image/png;base64," + base64.b64encode(picture).decode()]
    assert rec.body["size"] == "256x256" and rec.body["model"] == "hunyuan-image-v2.0-general-edit"
