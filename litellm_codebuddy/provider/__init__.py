"""The provider wing: what LiteLLM calls (:class:`~.handler.CodeBuddyLLM`) and the pure pieces it wires.

- :mod:`.call`: LiteLLM's handler arguments read once into a typed, immutable :class:`~.call.Call`;
- :mod:`.request`: the request the gateway accepts (system message, roles, tools, images, parameters), pure;
- :mod:`.sse`, :mod:`.stream`, :mod:`.pump`: bytes to SSE events to LiteLLM chunks (or one response), pure;
- :mod:`.errors`: the gateway's failures as LiteLLM exceptions carrying what it said, and the table of codes;
- :mod:`.transport`, :mod:`.coalesce`, :mod:`.window`: the pooled HTTP clients, and where a stream's bytes come
  from;
- :mod:`.promptcount`: the local prompt count (only when the gateway's usage has no ``prompt_tokens``);
- :mod:`.handler`: the four entry points; it only moves bytes.

The streaming path
==================

The gateway only streams, so every call (streamed to its caller or not) goes the same way: bytes from httpx, SSE
events, LiteLLM chunks.

**The design** (what the answer depends on; pure, no I/O, tested without a network):

- :class:`.sse.SSEDecoder`: push-style; bytes in, the ``data`` payloads of complete events out, any split;
- :class:`.stream.StreamState`: payloads in, LiteLLM chunks out (one delta chunk and at most one finishing chunk per
  batch of payloads, however many events the batch holds), errors mid-stream, usage, the finish;
- :class:`.pump.Pump`: the decoder and the state together, and when to stop reading (``[DONE]``, then a small drain
  so the connection goes back to the pool);
- the handler's loop (``_chunks_sync`` / ``_chunks_async``), the same three calls on both paths (and
  ``pump.armed`` tells the coalescing window when it may merge: after the first chunk of a stream, at once for a
  plain answer)::

      for raw in source:                 # async for, on the async path
          yield from pump.push(raw)
          if not pump.reading():
              break
      yield from pump.end()

**Where the bytes come from** (how many bytes each ``raw`` holds, and what the HTTP clients cost). None of it
changes what the caller gets, only how many chunks it comes in:

- *sync*: httpx's public ``Response.iter_bytes()``, one piece per read as httpx hands it over (over HTTP/1.1, one
  piece per HTTP chunk the server wrote);
- *async*: ``Response.aiter_bytes()`` of an ``httpx.AsyncClient`` on LiteLLM's aiohttp transport
  (``AsyncHTTPHandler.create_aiohttp_transport``), where LiteLLM itself would use it: each read hands over
  everything the connection holds (up to 16 KB), so a consumer that fell behind (a busy proxy) catches up in a few
  chunks instead of one per event, and aiohttp costs about a third of httpx's CPU per event over TLS. Where LiteLLM
  would not use aiohttp (``disable_aiohttp_transport``, HTTP/2), the body comes through httpx's pooled clients
  (:class:`.transport.ShardedAsyncClient`: async requests spread over pools of 10, because httpcore's pool does work
  proportional to connections x idle connections on every request and close);
- *the coalescing window* (:mod:`.window`, :mod:`.coalesce`; ``coalesce_ms``, ``auto`` in the shipped proxy
  configs): after the first chunk, reads that arrive within the window of the oldest one waiting go out together; a
  reader thread (sync) or task (async) reads while the consumer waits; :class:`.coalesce.Backlog` is the
  bookkeeping both share. ``auto`` sizes the window from how many reads per second the process's streams receive
  (0 when idle, up to 40 ms when busy). The first chunk is never held, nothing waits longer than the window, the
  end of the stream goes at once.

Why this is safe: bytes always come through httpx's public iterators, in order; the window only decides when to
hand on what a reader already read. Nothing is reordered, dropped or repeated; a read that fails hands on what came
before it, then raises; closing the stream closes the response (and the connection) at once.

**Public APIs only.** Nothing in this package reads a private attribute of httpx, httpcore, h11, anyio, asyncio,
aiohttp, json or LiteLLM: the JSON goes through ``json.JSONEncoder.encode`` and ``json.JSONDecoder.raw_decode`` /
``json.loads``, the prompt count through ``litellm.token_counter``, the aiohttp client through LiteLLM's
``AsyncHTTPHandler.should_use_aiohttp_transport`` and ``create_aiohttp_transport``, the sync coalescer's close
through httpx's public ``network_stream`` extension (``get_extra_info("socket")``). A library that changes its
internals therefore leaves every call as it is: ``tests/faults/test_public_only.py`` runs plain, streamed, sync
and async calls, over HTTP and TLS, with and without the window, with representative private names of h11,
httpcore, httpx, anyio, json and LiteLLM hidden from everything outside their library (as a release that renamed
them would leave them), and ``tests/unit/test_public_api.py`` fails on any ``x._name`` in this package that is not
its own.
"""

from .handler import CodeBuddyLLM

__all__ = ["CodeBuddyLLM"]
