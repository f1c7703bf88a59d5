"""Server-sent events decoding for streamed provider answers; no I/O of its own.

Only what streamed chat needs from https://html.spec.whatwg.org/multipage/server-sent-events.html:
the `data` of each event. Lines end with LF or CRLF; comment lines (starting with ':') and fields
other than `data` are ignored; several `data` lines of one event are joined with LF.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable


class SSEDecoder:
    """Turns the bytes of an event stream, in chunks of any size, into event data."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Return the data of the events that `chunk` completes."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        events: list[str] = []
        for raw in lines:
            line = raw.removesuffix(b"\r").decode("utf-8", errors="replace")
            if not line:  # a blank line ends the event
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                if name == "data":
                    self._data.append(value.removeprefix(" "))
        return events

    def close(self) -> list[str]:
        """Return the last event at the end of the stream, even without its blank line."""
        return self.feed(b"\n\n")


async def iter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncGenerator[str]:
    """Yield the data of each event of a byte stream as soon as the event is complete."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for data in decoder.feed(chunk):
            yield data
    for data in decoder.close():
        yield data
