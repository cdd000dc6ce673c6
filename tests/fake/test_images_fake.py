"""Images against the built-in fake: its ``/v2/images/*`` endpoints on their own (plain httpx), then
``litellm.image_generation`` / ``aimage_generation`` / ``image_edit`` / ``aimage_edit`` through the provider."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from typing import Any

import httpx
import litellm
import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.images import CREDITS_PER_IMAGE, png
from litellm_codebuddy.endpoint import USER_AGENT

KEY = "ck_test.images"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-API-Key": KEY}
MODEL = "hunyuan-image-v3.0"
EDIT_MODEL = "hunyuan-image-v2.0-general-edit"

pytestmark = pytest.mark.usefixtures("home")


def pixels(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw rows) of a PNG, every chunk's CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == height * (1 + width * 3)
    return width, height, rows


def post(fake: FakeCodeBuddy, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(f"{fake.base_url}/images/{path}", json=body, headers=HEADERS if headers is None else headers)


# ---------------------------------------------------------------- the fake's endpoints


def test_png_is_a_valid_deterministic_8x8_image() -> None:
    assert pixels(png(b"a fox"))[:2] == (8, 8)
    assert png(b"a fox") == png(b"a fox") and png(b"a fox") != png(b"a cat")


def test_generation_envelope(fake: FakeCodeBuddy) -> None:
    r = post(fake, "generations", {"model": MODEL, "prompt": "a fox", "size": "1024x1024", "n": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 0 and body["request_id"]
    images = [base64.b64decode(i["b64_json"]) for i in body["data"]["data"]]
    assert len(images) == 2 and images[0] != images[1]
    assert all(pixels(i)[:2] == (8, 8) for i in images)
    assert body["data"]["usage"] == {"credit": 2 * CREDITS_PER_IMAGE}
    again = post(fake, "generations", {"model": MODEL, "prompt": "a fox", "n": 2}).json()
    assert again["data"]["data"] == body["data"]["data"]  # the same prompt, the same pictures
    assert fake.requests[-1].path == "/v2/images/generations"


@pytest.mark.parametrize(
    ("headers", "why"),
    [({}, "missing Authorization"), ({"Authorization": f"Bearer {KEY}"}, "missing X-API-Key")],
)
def test_auth_as_chat(fake: FakeCodeBuddy, headers: dict[str, str], why: str) -> None:
    r = post(fake, "generations", {"model": MODEL, "prompt": "a fox"}, headers=headers)
    assert r.status_code == 401 and why in r.json()["msg"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": MODEL}, 11101),
        ({"model": "", "prompt": "a fox"}, 11101),
        ({"model": MODEL, "prompt": "a fox", "size": "big"}, 11101),
        ({"model": MODEL, "prompt": "a fox", "n": 0}, 11101),
        ({"model": MODEL, "prompt": "a fox", "n": 5}, 11101),
    ],
)
def test_generation_errors(fake: FakeCodeBuddy, body: dict[str, Any], code: int) -> None:
    """A body the image service cannot read: the envelope's code under HTTP 200."""
    r = post(fake, "generations", body)
    assert r.status_code == 200 and r.json()["code"] == code


@pytest.mark.parametrize(("code", "status"), [(14018, 429), (11103, 400)])
def test_directed_codes_come_under_their_own_status(fake: FakeCodeBuddy, code: int, status: int) -> None:
    """``FAKE:code=N`` answers as it does on chat: the code under the status the official client handles it at."""
    r = post(fake, "generations", {"model": MODEL, "prompt": f"a fox FAKE:code={code}"})
    assert r.status_code == status and r.json()["code"] == code


def test_directives_from_the_header_and_set_fault(fake: FakeCodeBuddy) -> None:
    r = post(fake, "generations", {"model": MODEL, "prompt": "a fox"}, headers={**HEADERS, "X-Fake-Fault": "http=503"})
    assert r.status_code == 503
    fake.set_fault("code=6004 status=429")
    try:
        r = post(fake, "generations", {"model": MODEL, "prompt": "a fox"})
    finally:
        fake.set_fault(None)
    assert r.status_code == 429 and r.json()["code"] == 6004


def test_directive_words_are_not_part_of_the_picture(fake: FakeCodeBuddy) -> None:
    plain = post(fake, "generations", {"model": MODEL, "prompt": "a fox"}).json()
    directed = post(fake, "generations", {"model": MODEL, "prompt": "a fox FAKE:slow=0"}).json()
    assert directed["data"]["data"] == plain["data"]["data"]


def test_edit_envelope_and_its_image_check(fake: FakeCodeBuddy) -> None:
    url = "data:image/png;base64," + base64.b64encode(png(b"in")).decode()
    r = post(fake, "edits", {"model": EDIT_MODEL, "prompt": "blue", "image": [url]})
    assert r.json()["code"] == 0 and len(r.json()["data"]["data"]) == 1
    other = post(fake, "edits", {"model": EDIT_MODEL, "prompt": "blue", "image": [url, url]}).json()
    assert other["data"]["data"] != r.json()["data"]["data"]  # the pictures depend on the images sent
    assert post(fake, "edits", {"model": EDIT_MODEL, "prompt": "blue"}).json()["code"] == 11101
    assert post(fake, "edits", {"model": EDIT_MODEL, "prompt": "blue", "image": ["x"]}).json()["code"] == 11135


def test_other_methods_are_refused(fake: FakeCodeBuddy) -> None:
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{fake.base_url}/images/generations", headers=HEADERS).status_code == 405


# ---------------------------------------------------------------- through LiteLLM


def generate(fake: FakeCodeBuddy, mode: str, prompt: str = "a red fox", **kw: Any) -> Any:
    args = {"model": f"codebuddy/{MODEL}", "prompt": prompt, "api_base": fake.base_url, "api_key": KEY, **kw}
    if mode == "async":
        return asyncio.run(litellm.aimage_generation(**args))
    return litellm.image_generation(**args)


SYNC_ASYNC = pytest.mark.parametrize("mode", ["sync", "async"])


@SYNC_ASYNC
def test_sdk_generation(fake: FakeCodeBuddy, mode: str) -> None:
    response = generate(fake, mode, footnote="made with AI", revise=False, extra_body={"n": 2, "size": "512x512"})
    assert isinstance(response, litellm.ImageResponse) and response.created > 0
    assert len(response.data) == 2
    assert all(pixels(base64.b64decode(d.b64_json))[:2] == (8, 8) for d in response.data)
    assert response.usage.credit == 2 * CREDITS_PER_IMAGE
    rec = fake.requests[-1]
    assert rec.body == {
        "model": MODEL,
        "prompt": "a red fox",
        "size": "512x512",
        "n": 2,
        "footnote": "made with AI",
        "revise": {"value": False},
    }
    assert rec.headers["authorization"] == f"Bearer {KEY}" and rec.headers["x-api-key"] == KEY
    assert rec.headers["user-agent"] == USER_AGENT


@SYNC_ASYNC
def test_sdk_generation_other_family(fake: FakeCodeBuddy, mode: str) -> None:
    generate(fake, mode, model="codebuddy/gpt-image-2", background="transparent")
    assert fake.requests[-1].body == {
        "model": "gpt-image-2",
        "prompt": "a red fox",
        "size": "1024x1024",
        "response_format": "b64_json",
        "background": "transparent",
    }


@SYNC_ASYNC
@pytest.mark.parametrize(
    ("directive", "error", "status"),
    [
        ("FAKE:code=14018", litellm.RateLimitError, 429),
        ("FAKE:code=11103", litellm.NotFoundError, 404),
        ("FAKE:http=500", litellm.InternalServerError, 500),
        ("FAKE:code=11101", litellm.BadRequestError, 400),
    ],
)
def test_sdk_generation_errors(
    fake: FakeCodeBuddy, mode: str, directive: str, error: type[Exception], status: int
) -> None:
    with pytest.raises(error) as caught:
        generate(fake, mode, prompt=f"a fox {directive}", num_retries=0)
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert KEY not in str(caught.value)


def test_sdk_wrong_key_is_an_authentication_error(fake: FakeCodeBuddy) -> None:
    fake.api_key = KEY
    with pytest.raises(litellm.AuthenticationError):
        generate(fake, "sync", api_key="ck_wrong")


def test_sdk_timeout(fake: FakeCodeBuddy) -> None:
    with pytest.raises(litellm.Timeout):
        generate(fake, "sync", prompt="a fox FAKE:slow=3", timeout=0.5)


def test_sdk_credit_cost(fake: FakeCodeBuddy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDDY_CREDIT_COST", "0.01")
    response = generate(fake, "sync", extra_body={"n": 3})
    assert response._hidden_params["codebuddy_credit"] == 3 * CREDITS_PER_IMAGE
    assert response._hidden_params["response_cost"] == pytest.approx(3 * CREDITS_PER_IMAGE * 0.01)


@SYNC_ASYNC
def test_sdk_edit(fake: FakeCodeBuddy, mode: str) -> None:
    picture = png(b"in")
    args = {
        "model": f"codebuddy/{EDIT_MODEL}",
        "image": picture,
        "prompt": "make it blue",
        "api_base": fake.base_url,
        "api_key": KEY,
        "input_fidelity": "high",
    }
    response = asyncio.run(litellm.aimage_edit(**args)) if mode == "async" else litellm.image_edit(**args)
    assert pixels(base64.b64decode(response.data[0].b64_json))[:2] == (8, 8)
    assert response.usage.credit == CREDITS_PER_IMAGE
    body = fake.requests[-1].body
    assert fake.requests[-1].path == "/v2/images/edits"
    assert body["image"] == ["data:image/png;base64," + base64.b64encode(picture).decode()]
    assert body["input_fidelity"] == "high" and body["n"] == 1 and body["size"] == "1024x1024"


def test_sdk_edit_with_bad_image_data(fake: FakeCodeBuddy) -> None:
    with pytest.raises(litellm.BadRequestError, match="11135"):
        litellm.image_edit(
            model=f"codebuddy/{EDIT_MODEL}",
            image="data:image/png;base64,!!!",
            prompt="make it blue",
            api_base=fake.base_url,
            api_key=KEY,
        )
