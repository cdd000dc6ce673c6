"""The incremental SSE decoder: any split of the bytes gives the same events."""

from __future__ import annotations

import pytest

from litellm_codebuddy.provider.sse import SSEDecodeError, SSEDecoder

STREAM = (
    b": keep-alive comment\r\n"
    b'data: {"a": "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80"}\r\n\r\n'
    b"event: message\n"
    b"id: 7\n"
    b"data: line one\n"
    b"data:line two\n"
    b"data:  two spaces kept \n"
    b"\n"
    b"retry: 100\r"
    b"data: cr only\r\r"
    b"data\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    '{"a": "héllo 世界 😀"}',
    "line one\nline two\n two spaces kept ",
    "cr only",
    "",
    "[DONE]",
]


def decode(parts: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    events: list[str] = []
    for part in parts:
        events.extend(decoder.feed(part))
    events.extend(decoder.flush())
    return events


def test_whole_stream() -> None:
    assert decode([STREAM]) == EXPECTED


def test_every_single_split_point() -> None:
    for i in range(len(STREAM) + 1):
        assert decode([STREAM[:i], STREAM[i:]]) == EXPECTED, f"split at byte {i}"


def test_every_pair_of_split_points() -> None:
    n = len(STREAM)
    for i in range(0, n + 1, 3):
        for j in range(i, n + 1, 5):
            assert decode([STREAM[:i], STREAM[i:j], STREAM[j:]]) == EXPECTED, (i, j)


def test_byte_by_byte() -> None:
    assert decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_empty_chunks_change_nothing() -> None:
    parts: list[bytes] = []
    for i in range(len(STREAM)):
        parts += [b"", STREAM[i : i + 1]]
    assert decode(parts) == EXPECTED


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_line_endings(ending: bytes) -> None:
    stream = b"data: a" + ending + b"data: b" + ending + ending + b"data: c" + ending + ending
    assert decode([stream]) == ["a\nb", "c"]
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == ["a\nb", "c"]


def test_cr_at_chunk_end_then_lf_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    # the LF completes the CRLF of the line above: it must not count as a blank line by itself
    assert decoder.feed(b"\ndata: y\r") == []
    assert decoder.feed(b"\n\r\n") == ["x\ny"]


def test_cr_at_chunk_end_then_cr_is_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\r") == ["x"]


def test_events_returned_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n\ndata: tw") == ["one"]
    assert decoder.feed(b"o\n") == []
    assert decoder.feed(b"\n") == ["two"]


def test_comment_lines_ignored() -> None:
    assert decode([b": ping\n\n:\n\ndata: x\n: between\ndata: y\n\n"]) == ["x\ny"]


def test_only_one_space_removed_nothing_stripped() -> None:
    assert decode([b"data:   padded  \t\n\n"]) == ["  padded  \t"]
    assert decode([b"data:no-space\n\n"]) == ["no-space"]
    assert decode([b"data: \n\n"]) == [""]


def test_split_multibyte_characters() -> None:
    text = "é世😀"
    raw = b"data: " + text.encode() + b"\n\n"
    for i in range(len(raw) + 1):
        assert decode([raw[:i], raw[i:]]) == [text]


def test_invalid_utf8_raises() -> None:
    decoder = SSEDecoder()
    with pytest.raises(SSEDecodeError, match="UTF-8"):
        decoder.feed(b"data: \xff\xfe bad\n\n")


def test_invalid_utf8_is_a_value_error() -> None:
    assert issubclass(SSEDecodeError, ValueError)


def test_flush_unterminated_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: partial") == []
    assert decoder.flush() == ["partial"]
    assert decoder.flush() == []


def test_flush_unterminated_multiline_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\ndata: b\n") == []
    assert decoder.flush() == ["a\nb"]


def test_flush_after_complete_events_gives_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\n") == ["a"]
    assert decoder.flush() == []


def test_decoder_reusable_after_flush() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.flush()
    assert decoder.feed(b"\ndata: b\n\n") == ["b"]


def test_unknown_fields_ignored() -> None:
    assert decode([b"event: x\nid: 1\nretry: 5\nfoo: bar\ndata: d\n\n"]) == ["d"]
