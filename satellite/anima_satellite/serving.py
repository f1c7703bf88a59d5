"""Wyoming servers for peers that may lie: bounded events, time-outs, an allow-list, a limit.

Every port of the satellite (and the formant voice) is served through `GuardedServer`:

- an allow-list of peer addresses, checked when a connection is accepted, before any byte is
  read (the Wyoming port carries no secret, so the address is what it can check);
- at most `max_connections` at once: a new connection replaces the one that has proved least
  (never sent a valid event, or never authenticated), oldest first, so idle connections cannot
  lock the owner out and cannot use up the process's open files;
- `protocol.read_event` with the port's `WireLimits`: a header, data or payload larger than
  allowed closes the connection before it is buffered;
- an idle time-out (no complete event for `idle_timeout`: a slow-loris sending a byte a second
  is closed too) and a write time-out (a peer that does not read what it asked for);
- one log line per offending peer and reason a minute (`Complaints`), never a traceback.

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
import contextlib
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
import logging
import signal
import time
from typing import Any
from urllib.parse import urlparse

from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.server import AsyncEventHandler

from .protocol import WireError, WireLimits, read_event

_LOGGER = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network
#: The default allow-list: this machine only.
LOOPBACK: tuple[Network, ...] = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
#: How long an `error` sent to an offending peer may take before the connection just closes.
REFUSAL_TIMEOUT = 1.0


def allowed_network(text: str) -> Network:
    """Parse an allow-list entry: an address (`192.168.1.10`) or a network (`192.168.1.0/24`)."""
    return ip_network(text.strip(), strict=False)


def _address(host: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return address


class Complaints:
    """One log line per peer and reason every `window` seconds; the rest are counted."""

    def __init__(self, window: float = 60.0, remembered: int = 256) -> None:
        """Remember at most `remembered` peers (the oldest is forgotten first)."""
        self.window, self.remembered = window, remembered
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def note(self, server: str, peer: str, reason: str, detail: str) -> None:
        """Log what `peer` did and what became of it, unless that was logged a moment ago."""
        now, key = time.monotonic(), (peer, reason)
        last, suppressed = self._seen.get(key, (-self.window, 0))
        if now - last < self.window:
            self._seen[key] = (last, suppressed + 1)
            return
        self._seen.pop(key, None)
        self._seen[key] = (now, 0)
        if len(self._seen) > self.remembered:
            del self._seen[next(iter(self._seen))]
        more = f" ({suppressed} more like it since)" if suppressed else ""
        _LOGGER.warning("%s: %s %s%s", server, peer, detail, more)


@dataclass(frozen=True)
class Guard:
    """The bounds of one port."""

    name: str
    limits: WireLimits
    #: Peers that may connect; None: anyone (a port that authenticates its clients itself).
    allow: tuple[Network, ...] | None = LOOPBACK
    max_connections: int = 8
    idle_timeout: float = 60.0
    write_timeout: float = 10.0
    complaints: Complaints = field(default_factory=Complaints, compare=False, repr=False)

    def admits(self, peer: str) -> bool:
        """Whether a peer at this address may connect (a Unix socket's peer always may)."""
        if self.allow is None or not peer:
            return True
        address = _address(peer)
        return address is not None and any(address in network for network in self.allow)


class StalledPeerError(ConnectionError):
    """The peer did not read what was written to it within the write time-out."""


class GuardedHandler(AsyncEventHandler):
    """One connection, read with bounds; `handle_event` sees only well-formed events."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, guard: Guard
    ) -> None:
        """Serve one peer within `guard`."""
        super().__init__(reader, writer)
        self.guard = guard
        peer = writer.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else "local"
        self.last_event = time.monotonic()
        #: Whether the peer proved itself (a valid event, or authentication where there is
        #: one): the connection limit drops unproved connections first.
        self.trusted = False
        self.closing = False

    async def connected(self) -> None:
        """Speak first, before the first event is read (a service that challenges its client)."""

    async def run(self) -> None:
        """Read events until the peer leaves, misbehaves or `handle_event` returns False."""
        self._is_running = True
        try:
            await self.connected()
            while self._is_running:
                try:
                    async with asyncio.timeout(self.guard.idle_timeout):
                        event = await read_event(self.reader, self.guard.limits)
                except TimeoutError:
                    self.complain("idle", f"closed: no event for {self.guard.idle_timeout:g} s")
                    break
                except WireError as err:
                    self.complain(err.code, f"closed: {err}")
                    await self.refuse(err.code, str(err))
                    break
                if event is None:
                    break
                self.last_event = time.monotonic()
                if not await self.handle_event(event):
                    break
        except StalledPeerError:
            pass  # said when it happened
        except ConnectionError as err:
            _LOGGER.debug("%s: %s went away: %s", self.guard.name, self.peer, err)
        finally:
            self.closing = True
            try:
                await self.disconnect()
            finally:
                self.writer.close()

    async def write_event(self, event: Event) -> None:
        """Send an event; a peer that does not read it in time is dropped."""
        try:
            async with asyncio.timeout(self.guard.write_timeout):
                await async_write_event(event, self.writer)
        except TimeoutError:
            self.complain("stalled", f"closed: read nothing for {self.guard.write_timeout:g} s")
            self.abort()
            raise StalledPeerError(f"{self.peer} stopped reading") from None

    async def refuse(self, code: str, text: str) -> None:
        """Tell an offending peer why it is closed, if it listens at once."""
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(REFUSAL_TIMEOUT):
                await async_write_event(Error(text=text, code=code).event(), self.writer)

    def complain(self, reason: str, detail: str) -> None:
        """Log (once a minute per peer and reason) what the peer did and what became of it."""
        self.guard.complaints.note(self.guard.name, self.peer, reason, detail)

    def abort(self) -> None:
        """Drop the connection now, and whatever is still buffered for it."""
        self.closing = True
        self.writer.transport.abort()


HandlerFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], GuardedHandler]


class GuardedServer:
    """A Wyoming server (tcp:// or unix://) that admits, bounds and limits its connections."""

    def __init__(self, guard: Guard, factory: HandlerFactory) -> None:
        """Serve connections with handlers from `factory`, within `guard`."""
        self.guard, self.factory = guard, factory
        self.handlers: dict[asyncio.Task[None], GuardedHandler] = {}

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self.guard.admits(host):
            self.guard.complaints.note(
                self.guard.name, host, "refused", "refused: not in the allow-list"
            )
            writer.transport.abort()
            return
        live = [handler for handler in self.handlers.values() if not handler.closing]
        if len(live) >= self.guard.max_connections:
            oldest = min(live, key=lambda handler: (handler.trusted, handler.last_event))
            oldest.complain(
                "replaced", f"closed: more than {self.guard.max_connections} connections at once"
            )
            oldest.abort()
        handler = self.factory(reader, writer)
        task = asyncio.create_task(handler.run(), name=f"{self.guard.name} {handler.peer}")
        self.handlers[task] = handler
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.handlers.pop(task, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            _LOGGER.error("%s: a connection failed", self.guard.name, exc_info=error)

    async def serve(self, uri: str) -> None:
        """Serve until cancelled; then close every connection."""
        parsed = urlparse(uri)
        limit = self.guard.limits.header
        if parsed.scheme == "tcp" and parsed.hostname is not None and parsed.port is not None:
            server = await asyncio.start_server(
                self._accept, parsed.hostname, parsed.port, limit=limit
            )
        elif parsed.scheme == "unix":
            server = await asyncio.start_unix_server(self._accept, parsed.path, limit=limit)
        else:
            raise ValueError(f"{uri}: give tcp://HOST:PORT or unix://PATH")
        try:
            async with server:
                await server.serve_forever()
        finally:
            await self.close()

    async def close(self) -> None:
        """End every connection."""
        tasks = list(self.handlers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_until_one_stops(servers: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run the servers until one returns or SIGTERM comes (systemd stops the unit); then stop."""
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    tasks = [asyncio.create_task(server) for server in servers]
    tasks.append(asyncio.create_task(_until(stopped)))
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()  # a server's error ends the process with it


async def _until(event: asyncio.Event) -> None:
    await event.wait()
