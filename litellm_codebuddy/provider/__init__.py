"""The provider wing: what LiteLLM calls (:class:`~.handler.CodeBuddyLLM`) and the pure pieces it wires.

- :mod:`.call`: LiteLLM's handler arguments read once into a typed, immutable :class:`~.call.Call`;
- :mod:`.request`: the request the gateway accepts (system message, roles, tools, images, parameters), pure;
- :mod:`.sse`, :mod:`.stream`, :mod:`.pump`: bytes to SSE events to LiteLLM chunks (or one response), pure;
- :mod:`.errors`: the gateway's failures as LiteLLM exceptions carrying what it said, and the table of codes;
- :mod:`.transport`, :mod:`.coalesce`: the pooled HTTP clients, and where a stream's bytes come from;
- :mod:`.handler`: the four entry points; it only moves bytes.
"""

from .handler import CodeBuddyLLM

__all__ = ["CodeBuddyLLM"]
