"""Small real socket servers for Wyoming failure cases: empty, silent and garbage peers."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.server import AsyncEventHandler, AsyncServer

from tests.fixtures.speech_servers import free_port


def closed_port() -> int:
    """A loopback port where nothing listens."""
    return free_port()


class _Server:
    """A loopback TCP server running while the `async with` block lasts."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self._server.close_clients()
        await self._server.wait_closed()


class SilentServer(_Server):
    """Accepts connections and never answers."""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()


class GarbageServer(_Server):
    """Answers anything with an HTTP error page, as a web server on the wrong port would."""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nBad Request")
        await writer.drain()
        writer.close()


class _EmptyInfoHandler(AsyncEventHandler):
    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(Info().event())
        return True


class EmptyWyomingServer:
    """A real Wyoming server that offers no speech-to-text, text-to-speech or wake word."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server = AsyncServer.from_uri(f"tcp://127.0.0.1:{self.port}")

    async def __aenter__(self) -> Self:
        await self._server.start(_EmptyInfoHandler)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()
