"""The provider wing: what LiteLLM calls (:class:`~.handler.CodeBuddyLLM`) and the pure pieces it wires.

- :mod:`.call`: LiteLLM's handler arguments read once into a typed, immutable :class:`~.call.Call`;
- :mod:`.request`: the request the gateway accepts (system message, roles, tools, images, parameters), pure;
- :mod:`.sse`, :mod:`.stream`, :mod:`.pump`: bytes to SSE events to LiteLLM chunks (or one response), pure;
- :mod:`.errors`: the gateway's failures as LiteLLM exceptions carrying what it said, and the table of codes;
- :mod:`.transport`, :mod:`.coalesce`, :mod:`.ready`: the pooled HTTP clients, and where a stream's bytes come from;
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
  ``pump.armed`` tells the source when it may merge: after the first chunk of a stream, at once for a plain
  answer)::

      for raw in source:                 # async for, on the async path
          yield from pump.push(raw)
          if not pump.reading():
              break
      yield from pump.end()

**The optimisations** (how many bytes each ``raw`` holds, and what the HTTP clients cost). None changes what the
caller gets, only how many chunks it comes in; each can be switched off or falls back by itself:

- *ready pieces* (:mod:`.ready`, on by default): after the first chunk, a piece takes every further read that is
  already received, so a consumer that fell behind (a busy proxy) catches up in one chunk instead of one per event.
  No timer, nothing held: a piece ends when the next read could wait for the network. :class:`.ready.Gather` is the
  decision, written once for both paths.
- *the coalescing window* (:mod:`.window`, :mod:`.coalesce`; ``coalesce_ms``, ``auto`` in the shipped proxy
  configs): after the first chunk, reads that arrive within the window of the oldest one waiting go out together; a
  reader thread (sync) or task (async) reads while the consumer waits; :class:`.coalesce.Backlog` is the
  bookkeeping both share. ``auto`` sizes the window from how many reads per second the process's streams receive
  (0 when idle, up to 40 ms when busy). The first chunk is never held, nothing waits longer than the window, the
  end of the stream goes at once. Async streams with a window are read through LiteLLM's aiohttp transport (where
  LiteLLM itself would use it): the reader needs no readiness probe, and aiohttp costs about a third of httpx's CPU
  per event over TLS.
- *pooled and sharded clients* (:mod:`.transport`): one pooled client per TLS setting (sync) and per event loop
  (async); async requests spread over pools of 10 (:class:`.transport.ShardedAsyncClient`), because httpcore's
  pool does work proportional to connections x idle connections on every request and close.

Why the optimisations are safe: bytes always come through httpx's public iterators, in order; the window only
decides when to hand on what a reader already read; readiness only decides whether to read again *now*. A wrong
"not ready" ends a piece early (one more chunk); a wrong "ready" makes the piece wait for the next read (a delay up
to the next event). Nothing is reordered, dropped or repeated; a read that fails hands on what came before it, then
raises; closing the stream closes the response (and the connection) at once.

**What the ready pieces read that is not public**, reached through ``response.stream`` and the response's
``network_stream`` extension, each checked for type and presence first:

==============  ==========================================================================================
library         fields
==============  ==========================================================================================
httpx           ``ResponseStream._httpcore_stream`` (the hop from httpx's body to httpcore's)
httpcore        ``PoolByteStream._stream``, ``HTTP11ConnectionByteStream._connection``, then on the HTTP/1.1
                connection ``_h11_state`` (the h11 connection) and ``_network_stream`` (must be the response's
                ``network_stream``); async, ``AnyIOStream._stream`` (the anyio stream)
h11             ``Connection._receive_buffer._data`` (a bytearray) and ``Connection._reader``: a chunked reader's
                ``_bytes_in_chunk``, ``_reading_trailer``, ``_bytes_to_discard`` (a count before h11 0.15,
                bytes since), a content-length reader's ``_remaining``
anyio           ``TLSStream._read_bio`` and ``_ssl_object`` (TLS records received, not yet decrypted); the
                asyncio backend's ``SocketStream._protocol.read_queue`` (bytes the event loop already read)
==============  ==========================================================================================

Public calls it relies on: ``get_extra_info("is_readable" | "socket" | "ssl_object")`` on httpcore's network
stream, ``ssl.SSLSocket.pending()`` (sync TLS: OpenSSL reads records from the socket as it needs them, so the rest
is in the socket), ``ssl.SSLObject.pending()`` and ``ssl.MemoryBIO.pending`` (async TLS). The hop through
:class:`.transport._Counted` is ours (``stream``). The coalescing window and the transport read nothing private
(the window's aiohttp client comes from LiteLLM's ``AsyncHTTPHandler.create_aiohttp_transport``).

**Proven versions.** ``./test.sh`` runs the fault tests (``tests/faults/test_ready.py``) at both ends of the declared
ranges: httpx 0.28.0, httpcore 1.0.0, h11 0.13.0 (the oldest pass) and what resolves today (httpx 0.29.0, httpcore
1.0.9, h11 0.16.0, with anyio 4.16.0 in both, when this was written; ``pip list`` in a pass's virtualenv says what
ran). The window's aiohttp transport is LiteLLM's (aiohttp 3.14.5 with LiteLLM 1.108.7 here);
``tests/unit/test_transport.py`` fails when LiteLLM stops offering it, and the window then reads through httpx.

**A library that changes these fields**: where the h11 connection or its reader is not found or looks different
(also HTTP/2, a custom transport, respx mocks, a compressed body), :func:`.ready.probe` returns None and the body
goes on one read per piece: correct, slower (LiteLLM pays its per-chunk cost for every event). Where only a layer
below h11 looks different (another anyio, the trio backend), that layer's bytes are not seen and pieces end
earlier, also correct. Either way ``test_probe_finds_every_layer_it_knows_on_the_installed_libraries`` fails (it
names the layers found on plain HTTP and TLS, sync and async), and the "fell behind" tests fail because the backlog
no longer comes in one chunk; the streams themselves stay right.
"""

from .handler import CodeBuddyLLM

__all__ = ["CodeBuddyLLM"]
