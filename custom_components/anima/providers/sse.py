"""Server-sent events decoding for streamed provider answers; no I/O of its own.

Only what streamed chat needs from https://html.spec.whatwg.org/multipage/server-sent-events.html:
the `data` of each event. Lines end with LF or CRLF; comment lines (starting with ':') and fields
other than `data` are ignored; several `data` lines of one event are joined with LF.

A line or an event longer than `MAX_EVENT_BYTES` is refused (ProviderResponseError): a server
that sends one line without end, or data lines without the blank line that ends their event,
would otherwise fill the memory. One chunk of an answer is a few hundred bytes; a whole answer
sent as one event stays far below the bound.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from typing import Final

from .base import ProviderResponseError

#: The longest line, and the most data of one event, accepted.
MAX_EVENT_BYTES: Final = 1 << 20


class SSEDecoder:
    """Turns the bytes of an event stream, in chunks of any size, into event data."""

    def __init__(self) -> None:
        self._partial = bytearray()  # the line begun and not yet ended
        self._data: list[str] = []
        self._size = 0  # bytes of the event's data so far

    def feed(self, chunk: bytes) -> list[str]:
        """Return the data of the events that `chunk` completes."""
        first, newline, rest = chunk.partition(b"\n")
        self._partial += first
        if not newline:  # only the current line grows: nothing else to look at
            _bound(len(self._partial), "line")
            return []
        lines = [bytes(self._partial), *rest.split(b"\n")]
        self._partial = bytearray(lines.pop())
        _bound(len(self._partial), "line")
        events: list[str] = []
        for raw in lines:
            _bound(len(raw), "line")
            line = raw.removesuffix(b"\r").decode("utf-8", errors="replace")
            if not line:  # a blank line ends the event
                if self._data:
                    events.append("\n".join(self._data))
                    self._data, self._size = [], 0
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                if name == "data":
                    self._data.append(value.removeprefix(" "))
                    self._size += len(raw)
                    _bound(self._size, "event")
        return events

    def close(self) -> list[str]:
        """Return the last event at the end of the stream, even without its blank line."""
        return self.feed(b"\n\n")


def _bound(size: int, what: str) -> None:
    if size > MAX_EVENT_BYTES:
        raise ProviderResponseError(f"A stream {what} is longer than {MAX_EVENT_BYTES} bytes")


async def iter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncGenerator[str]:
    """Yield the data of each event of a byte stream as soon as the event is complete."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for data in decoder.feed(chunk):
            yield data
    for data in decoder.close():
        yield data
