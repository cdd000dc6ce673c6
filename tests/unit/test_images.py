"""Images, pure: the body per model family, the options LiteLLM lets through, the envelope, the ImageResponse and
its credit and cost; and the handler's four image entry points against a mocked upstream (respx)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import litellm
import pytest
import respx
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.utils import ImageResponse

from litellm_codebuddy.endpoint import USER_AGENT
from litellm_codebuddy.provider.images import (
    DEFAULT_SIZE,
    ImageAnswer,
    build_image_response,
    data_url,
    edit_body,
    family,
    generation_body,
    image_options,
    prepare_image_request,
    read_envelope,
)

from support.upstream import KEY

GENERATIONS = "https://www.codebuddy.ai/v2/images/generations"
EDITS = "https://www.codebuddy.ai/v2/images/edits"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
B64 = base64.b64encode(PNG).decode()

pytestmark = pytest.mark.usefixtures("home")


def envelope(*images: dict[str, Any], credit: Any = 4.0, code: Any = 0) -> dict[str, Any]:
    return {
        "code": code,
        "msg": "success",
        "request_id": "req-1",
        "data": {"data": list(images), "usage": {"credit": credit}},
    }


def answered(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


# ---------------------------------------------------------------- the body per family


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("hunyuan-image-v3.0", "hunyuan"),
        ("hunyuan-image-v2.0-general-edit", "hunyuan"),
        ("HunYuan-Image-v3.0", "other"),  # the official client's test is case-sensitive
        ("gemini-3-pro-image", "gemini"),
        ("gpt-image-2", "other"),
        ("image-hunyuan", "other"),
    ],
)
def test_family_by_the_ids_prefix(model: str, expected: str) -> None:
    assert family(model) == expected


def test_hunyuan_body_defaults() -> None:
    body = generation_body("hunyuan-image-v3.0", "a fox", {})
    assert body == {"model": "hunyuan-image-v3.0", "prompt": "a fox", "size": DEFAULT_SIZE, "n": 1}
    assert DEFAULT_SIZE == "1024x1024"


def test_hunyuan_body_with_its_options() -> None:
    options = {"size": "768x768", "n": 2, "footnote": "made with AI", "revise": True, "quality": "hd", "style": "x"}
    body = generation_body("hunyuan-image-v3.0", "a fox", options)
    # quality and style are not hunyuan's: left out, as the official client leaves them out
    assert body == {
        "model": "hunyuan-image-v3.0",
        "prompt": "a fox",
        "size": "768x768",
        "n": 2,
        "footnote": "made with AI",
        "revise": {"value": True},
    }


@pytest.mark.parametrize(("given", "sent"), [(False, False), ({"value": True}, True), ("false", False), ("true", True)])
def test_revise_is_sent_as_an_object(given: Any, sent: bool) -> None:
    assert generation_body("hunyuan-image-v3.0", "p", {"revise": given})["revise"] == {"value": sent}


def test_gemini_body_is_model_prompt_size_only() -> None:
    options = {"n": 2, "quality": "hd", "style": "vivid", "background": "transparent", "footnote": "f"}
    assert generation_body("gemini-3-pro-image", "a fox", options) == {
        "model": "gemini-3-pro-image",
        "prompt": "a fox",
        "size": "1024x1024",
    }


def test_other_body_asks_for_base64_and_carries_the_given_options() -> None:
    assert generation_body("gpt-image-2", "a fox", {}) == {
        "model": "gpt-image-2",
        "prompt": "a fox",
        "size": "1024x1024",
        "response_format": "b64_json",
    }
    options = {"n": 3, "quality": "high", "style": "natural", "background": "transparent", "response_format": "url"}
    body = generation_body("gpt-image-2", "a fox", options)
    assert body["response_format"] == "b64_json"  # the official client always asks for base64
    assert {k: body[k] for k in ("n", "quality", "style", "background")} == {
        "n": 3,
        "quality": "high",
        "style": "natural",
        "background": "transparent",
    }


@pytest.mark.parametrize(
    ("model", "prompt", "options", "words"),
    [
        ("", "a fox", {}, "model id is empty"),
        ("hunyuan-image-v3.0", "  ", {}, "prompt is empty"),
        ("hunyuan-image-v3.0", None, {}, "prompt is empty"),
        ("hunyuan-image-v3.0", "a fox", {"n": 0}, "n must be"),
        ("hunyuan-image-v3.0", "a fox", {"n": "two"}, "n must be"),
        ("hunyuan-image-v3.0", "a fox", {"n": 1.5}, "n must be"),
        ("gpt-image-2", "a fox", {"n": True}, "n must be"),
        ("hunyuan-image-v3.0", "a fox", {"size": 1024}, "size must be a string"),
    ],
)
def test_bad_input_is_a_bad_request(model: str, prompt: Any, options: dict[str, Any], words: str) -> None:
    with pytest.raises(litellm.BadRequestError, match=words):
        generation_body(model, prompt, options)


def test_edit_body_adds_the_images_and_input_fidelity() -> None:
    url = data_url(PNG)
    body = edit_body("hunyuan-image-v2.0-general-edit", "make it blue", [url], {"input_fidelity": "high", "n": 1})
    assert body == {
        "model": "hunyuan-image-v2.0-general-edit",
        "prompt": "make it blue",
        "size": "1024x1024",
        "n": 1,
        "image": [url],
        "input_fidelity": "high",
    }
    with pytest.raises(litellm.BadRequestError, match="at least one image"):
        edit_body("hunyuan-image-v2.0-general-edit", "make it blue", [], {})


# ---------------------------------------------------------------- where the options come from


def test_options_precedence_proxy_body_then_optional_params_then_extra_body() -> None:
    proxy_body = {"size": "256x256", "n": 2, "quality": "low", "prompt": "ignored", "model": "ignored"}
    params = {"n": 3, "footnote": "f", "extra_body": {"n": 4, "style": "vivid"}, "metadata": {"x": 1}}
    assert image_options(params, proxy_body) == {
        "size": "256x256",
        "n": 4,
        "quality": "low",
        "style": "vivid",
        "footnote": "f",
    }


def test_options_leave_out_none_and_unknown_keys() -> None:
    assert image_options({"size": None, "user": "u", "extra_body": "not a dict"}, None) == {}
    assert image_options(None) == {}


@pytest.mark.parametrize(
    ("content", "given", "kind"),
    [
        (PNG, None, "image/png"),
        (b"\xff\xd8\xff\xe0rest", None, "image/jpeg"),
        (b"GIF89a...", None, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp"),
        (b"unknown", None, "image/png"),
        (PNG, "application/octet-stream", "image/png"),
        (b"\xff\xd8\xff", "image/webp", "image/webp"),
    ],
)
def test_data_url_type(content: bytes, given: str | None, kind: str) -> None:
    url = data_url(content, given)
    assert url == f"data:{kind};base64,{base64.b64encode(content).decode()}"


# ---------------------------------------------------------------- the request


def test_request_url_and_headers() -> None:
    body = generation_body("hunyuan-image-v3.0", "a fox", {})
    req = prepare_image_request("hunyuan-image-v3.0", body, KEY, "http://127.0.0.1:9/v2/chat/completions")
    assert req.url == "http://127.0.0.1:9/v2/images/generations"
    assert req.headers["Authorization"] == f"Bearer {KEY}" and req.headers["X-API-Key"] == KEY
    assert req.headers["User-Agent"] == USER_AGENT
    assert json.loads(req.content) == body
    assert KEY not in repr(req)
    edit = prepare_image_request("m", body, KEY, "http://127.0.0.1:9/v2/", edit=True)
    assert edit.url == "http://127.0.0.1:9/v2/images/edits"


def test_bad_api_base_is_a_bad_request() -> None:
    with pytest.raises(litellm.BadRequestError, match="http"):
        prepare_image_request("m", {}, KEY, "ftp://example.invalid")


def test_loggable_body_shortens_the_images() -> None:
    url = data_url(PNG * 100)
    req = prepare_image_request("m", edit_body("m", "p", [url], {}), KEY, None, edit=True)
    assert req.loggable_body()["image"] == [f"data:image/png;base64,<{len(url)} characters>"]
    assert req.body["image"] == [url]  # the request itself is untouched


# ---------------------------------------------------------------- the envelope


def test_envelope_with_base64_and_urls() -> None:
    body = envelope({"b64_json": B64}, {"url": "https://example.invalid/a.png"}, credit=2.5)
    answer = read_envelope(200, {}, json.dumps(body).encode(), "m")
    assert answer == ImageAnswer([{"b64_json": B64}, {"url": "https://example.invalid/a.png"}], 2.5, "req-1")


@pytest.mark.parametrize(
    ("usage", "credit"), [({}, None), ({"credit": True}, None), ({"credit": "x"}, None), (None, None)]
)
def test_envelope_without_a_usable_credit(usage: Any, credit: Any) -> None:
    body = {"code": 0, "data": {"data": [{"b64_json": B64}], "usage": usage}}
    assert read_envelope(200, {}, json.dumps(body).encode(), "m").credit == credit


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (200, {"code": 14018, "msg": "insufficient credits", "request_id": "r-9"}, litellm.RateLimitError, "14018"),
        (200, {"code": 11103, "msg": "model backend not supported"}, litellm.NotFoundError, "11103"),
        (200, {"code": 11135, "msg": "invalid image data"}, litellm.BadRequestError, "11135"),
        (401, {"code": 401, "msg": "unauthorized: invalid API key"}, litellm.AuthenticationError, "401"),
        (500, {"code": 500, "msg": "Internal Server Error"}, litellm.InternalServerError, "500"),
        (200, {"code": 0, "data": {"data": []}}, litellm.APIError, "no image"),
        (200, envelope({"b64_json": B64}, {"revised_prompt": "x"}), litellm.APIError, "neither b64_json nor url"),
        (200, {"code": 0, "data": {"data": "nope"}}, litellm.APIError, "no image"),
        (200, {"hello": "world"}, litellm.ServiceUnavailableError, "unexpected answer"),
    ],
)
def test_envelope_errors_are_mapped(status: int, body: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        read_envelope(status, {}, json.dumps(body).encode(), "hunyuan-image-v3.0")
    if body.get("request_id"):
        assert body["request_id"] in str(caught.value)


def test_envelope_error_never_shows_the_key() -> None:
    body = {"code": 11101, "msg": f"bad key {KEY}"}
    with pytest.raises(litellm.BadRequestError) as caught:
        read_envelope(200, {}, json.dumps(body).encode(), "m", secrets=(KEY,))
    assert KEY not in str(caught.value)


def test_a_page_that_is_not_json_is_a_bad_gateway() -> None:
    with pytest.raises(litellm.ServiceUnavailableError) as caught:
        read_envelope(200, {"content-type": "text/html"}, b"<html>oops</html>", "m")
    assert caught.value.status_code == 503  # LiteLLM's class for a bad gateway


# ---------------------------------------------------------------- the response, credit and cost


def test_response_keeps_the_credit_and_prices_it() -> None:
    answer = ImageAnswer([{"b64_json": B64}, {"url": "https://example.invalid/b.png"}], 2.5, "req-7")
    before = int(time.time())
    response = build_image_response(ImageResponse(), answer, credit_cost=0.5)
    assert [(d.b64_json, d.url) for d in response.data] == [(B64, None), (None, "https://example.invalid/b.png")]
    assert response.created >= before
    assert response.usage.credit == 2.5
    assert response._hidden_params["codebuddy_credit"] == 2.5
    assert response._hidden_params["codebuddy_request_id"] == "req-7"
    assert response._hidden_params["response_cost"] == 1.25


def test_response_without_a_credit_cost_has_no_cost() -> None:
    response = build_image_response(None, ImageAnswer([{"b64_json": B64}], 2.5), credit_cost=None)
    assert "response_cost" not in response._hidden_params and response.usage.credit == 2.5
    no_credit = build_image_response(None, ImageAnswer([{"b64_json": B64}], None), credit_cost=1.0)
    assert "response_cost" not in no_credit._hidden_params


# ---------------------------------------------------------------- the handler (mocked upstream)


def sent(route: respx.Route, n: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[n].request.content)


def generate(mode: str, **kw: Any) -> ImageResponse:
    args = {"model": "codebuddy/hunyuan-image-v3.0", "prompt": "a fox", "api_key": KEY, **kw}
    if mode == "async":
        return asyncio.run(litellm.aimage_generation(**args))
    return litellm.image_generation(**args)


def edit(mode: str, **kw: Any) -> ImageResponse:
    args = {"model": "codebuddy/hunyuan-image-v2.0-general-edit", "prompt": "make it blue", "api_key": KEY, **kw}
    if mode == "async":
        return asyncio.run(litellm.aimage_edit(**args))
    return litellm.image_edit(**args)


SYNC_ASYNC = pytest.mark.parametrize("mode", ["sync", "async"])


@SYNC_ASYNC
def test_generation_through_litellm(mode: str, upstream: respx.MockRouter) -> None:
    route = upstream.post(GENERATIONS).mock(return_value=answered(envelope({"b64_json": B64}, credit=4)))
    response = generate(mode, footnote="made with AI", extra_body={"size": "512x512", "n": 1})
    assert isinstance(response, ImageResponse)
    assert response.data[0].b64_json == B64 and response.usage.credit == 4.0
    assert sent(route) == {
        "model": "hunyuan-image-v3.0",
        "prompt": "a fox",
        "size": "512x512",
        "n": 1,
        "footnote": "made with AI",
    }
    headers = route.calls[-1].request.headers
    assert headers["authorization"] == f"Bearer {KEY}" and headers["x-api-key"] == KEY
    assert headers["user-agent"] == USER_AGENT
    assert headers["x-private-data"] == "false"


@SYNC_ASYNC
def test_the_privacy_opt_out_reaches_image_requests(mode: str, upstream: respx.MockRouter) -> None:
    """``private_data`` (a deployment's line, as in proxy_team.yaml) sends ``X-Private-Data: true`` as on chat."""
    route = upstream.post(GENERATIONS).mock(return_value=answered(envelope({"b64_json": B64}, credit=4)))
    generate(mode, private_data=True)
    assert route.calls[-1].request.headers["x-private-data"] == "true"


@SYNC_ASYNC
def test_options_the_proxy_received_reach_the_gateway(mode: str, upstream: respx.MockRouter) -> None:
    """LiteLLM 1.108 keeps n and size from a custom provider (1.110 hands them on); the proxy's request body
    (``proxy_server_request``, which LiteLLM keeps on its logging object) still has them."""
    route = upstream.post(GENERATIONS).mock(return_value=answered(envelope({"b64_json": B64}, {"b64_json": B64})))
    received = {"url": "http://proxy/v1/images/generations", "body": {"prompt": "a fox", "size": "256x256", "n": 2}}
    response = generate(mode, proxy_server_request=received)
    assert len(response.data) == 2
    assert sent(route) == {"model": "hunyuan-image-v3.0", "prompt": "a fox", "size": "256x256", "n": 2}


@SYNC_ASYNC
def test_generation_error_is_the_mapped_exception(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(GENERATIONS).mock(return_value=answered({"code": 14018, "msg": "insufficient credits"}))
    with pytest.raises(litellm.RateLimitError, match="14018"):
        generate(mode)


@SYNC_ASYNC
def test_generation_timeout_is_litellms(mode: str, upstream: respx.MockRouter) -> None:
    upstream.post(GENERATIONS).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(litellm.Timeout):
        generate(mode, timeout=3)


def test_generation_without_a_key_sends_nothing(upstream: respx.MockRouter) -> None:
    route = upstream.post(GENERATIONS).mock(return_value=answered(envelope({"b64_json": B64})))
    with pytest.raises(litellm.AuthenticationError):
        litellm.image_generation(model="codebuddy/hunyuan-image-v3.0", prompt="a fox")
    assert not route.called


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(PNG, id="bytes"),
        pytest.param(io.BytesIO(PNG), id="file"),
        pytest.param(("a.png", PNG, "image/png"), id="tuple"),
        pytest.param([PNG, ("b.jpg", b"\xff\xd8\xffjpeg", None)], id="list"),
        pytest.param(data_url(PNG), id="data-url"),
        pytest.param("path", id="path"),
    ],
)
@SYNC_ASYNC
def test_edit_through_litellm(mode: str, image: Any, upstream: respx.MockRouter, tmp_path: Path) -> None:
    if image == "path":
        image = tmp_path / "in.png"
        image.write_bytes(PNG)
    route = upstream.post(EDITS).mock(return_value=answered(envelope({"b64_json": B64}, credit=5)))
    response = edit(mode, image=image, input_fidelity="high")
    assert response.data[0].b64_json == B64 and response.usage.credit == 5.0
    body = sent(route)
    expected = [data_url(PNG)]
    if isinstance(image, list):
        expected.append(data_url(b"\xff\xd8\xffjpeg"))
    assert body["image"] == expected and body["input_fidelity"] == "high"
    assert {k: body[k] for k in ("model", "prompt", "size", "n")} == {
        "model": "hunyuan-image-v2.0-general-edit",
        "prompt": "make it blue",
        "size": "1024x1024",
        "n": 1,
    }


@pytest.mark.parametrize("image", [12, b""], ids=["number", "empty"])
def test_edit_with_an_unreadable_image_is_a_bad_request(image: Any, upstream: respx.MockRouter) -> None:
    route = upstream.post(EDITS).mock(return_value=answered(envelope({"b64_json": B64})))
    with pytest.raises(litellm.BadRequestError, match="image"):
        edit("sync", image=image)
    assert not route.called


class ImageCosts(CustomLogger):
    def __init__(self) -> None:
        super().__init__()
        self.costs: dict[str, Any] = {}

    def _record(self, kwargs: Any) -> None:
        prompt = kwargs.get("standard_logging_object", {}).get("messages")
        self.costs[str(prompt)] = kwargs.get("standard_logging_object", {}).get("response_cost")

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs)


COSTS = ImageCosts()


def test_credit_cost_is_litellms_response_cost(upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    if COSTS not in litellm.callbacks:
        litellm.callbacks.append(COSTS)
    monkeypatch.setenv("CODEBUDDY_CREDIT_COST", "0.25")
    upstream.post(GENERATIONS).mock(return_value=answered(envelope({"b64_json": B64}, credit=4)))
    prompt = f"priced {uuid.uuid4().hex}"
    response = generate("sync", prompt=prompt)
    assert response._hidden_params["response_cost"] == 1.0
    deadline = time.monotonic() + 20
    while not any(prompt in k for k in COSTS.costs) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [v for k, v in COSTS.costs.items() if prompt in k] == [1.0]  # what the logging (and proxy spend) records


def test_without_a_credit_cost_the_cost_is_the_catalogs_zero(upstream: respx.MockRouter) -> None:
    upstream.post(GENERATIONS).mock(return_value=answered(envelope({"b64_json": B64}, credit=4)))
    response = generate("sync")
    assert response.usage.credit == 4.0
    assert response._hidden_params["response_cost"] == 0.0  # LiteLLM's own figure, from the catalog's 0.0 price
