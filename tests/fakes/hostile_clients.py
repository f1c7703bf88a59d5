"""Hostile Wyoming clients over real TCP: what a liar on the network sends to a satellite.

Each probe opens real connections to a `Target` (the satellite's Wyoming port, its endpoint
service, or the formant voice), misbehaves in one way, and returns a `ProbeResult`: whether the
server closed on it (and how fast), what it sent back, and whether a well-behaved client was
served right after. `probe_all` runs every probe that fits the target, one after the other, and
calls `after_each` between them (the fault benchmark samples the satellite's memory there):

    results = await probe_all(Target("127.0.0.1", 10700, SATELLITE), after_each=sample_rss)

The probes: garbage bytes, a header line without end, huge announced `data_length` and
`payload_length`, endless reply audio, a slow-loris (one byte a second), many idle connections,
a reader that never reads, and for the endpoint service requests without (or with a replayed)
proof of the pairing key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import json
import socket
import time

from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event, async_write_event
from wyoming.info import Describe
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize

from custom_components.anima.protocol import (
    AUTH,
    CAPTURE,
    EndpointError,
    WireError,
    WireLimits,
    read_event,
)
from custom_components.anima.providers.endpoint import EndpointClient

SATELLITE, SERVICE, FORMANT = "satellite", "service", "formant"
#: How a probe reads what the server sends: generously, it is the server under test.
_READ_LIMITS = WireLimits(header=1 << 20, data=1 << 20, other_payload=16 << 20)
#: What the probes that stream send at most before they give up on the server closing.
MAX_SENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Target:
    """A server to probe, what kind it is and how long to wait for it to act."""

    host: str
    port: int
    kind: str = SATELLITE
    #: The endpoint service's pairing key, for the well-behaved client (SERVICE only).
    key: str | None = None
    #: Longest a probe waits for the server to close on it (above its idle time-out for the
    #: slow-loris and idle probes).
    patience: float = 15.0


@dataclass
class ProbeResult:
    """What happened to one probe."""

    name: str
    #: The server ended the connection (what a bounded server does).
    closed_by_server: bool
    #: Until it did, or until the probe gave up.
    seconds: float
    sent_bytes: int = 0
    #: Event types the server sent back, and the `code` of its `error` events.
    received: list[str] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    #: A well-behaved client was answered right after (None: not checked).
    served_after: bool | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """The server closed on the probe and kept serving others."""
        return self.closed_by_server and self.served_after is not False


async def _open(
    target: Target, receive_buffer: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if receive_buffer is None:
        return await asyncio.open_connection(target.host, target.port)
    sock = socket.socket(socket.AF_INET6 if ":" in target.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # a stall comes soon
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (target.host, target.port))
    except OSError:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _until_closed(reader: asyncio.StreamReader, seconds: float, result: ProbeResult) -> bool:
    """Read (and note) what the server sends until it closes: True, or False after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while (event := await read_event(reader, _READ_LIMITS)) is not None:
                result.received.append(event.type)
                if event.type == "error":
                    result.error_codes.append(str(event.data.get("code")))
    except TimeoutError:
        return False
    except (ConnectionError, WireError):
        return True
    return True


async def well_behaved(target: Target, timeout: float = 5.0) -> bool:
    """Whether an honest client is answered at once."""
    if target.kind == SERVICE:
        try:
            await EndpointClient(
                target.host, target.port, key=target.key, timeout=timeout
            ).describe()
        except EndpointError:
            return False
        return True
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await _open(target)
            try:
                await async_write_event(Describe().event(), writer)
                while (event := await read_event(reader, _READ_LIMITS)) is not None:
                    if event.type == "info":
                        return True
            finally:
                await _close(writer)
    except (TimeoutError, OSError, WireError):
        return False
    return False


async def _send_then_wait(
    target: Target, name: str, data: bytes, *, after_challenge: bool = False
) -> ProbeResult:
    """Send `data` once (after the service's challenge, if asked), then wait for the close."""
    started = time.monotonic()
    result = ProbeResult(name, closed_by_server=False, seconds=0.0, sent_bytes=len(data))
    reader, writer = await _open(target)
    try:
        if after_challenge:
            try:
                async with asyncio.timeout(target.patience):
                    challenge = await read_event(reader, _READ_LIMITS)
            except TimeoutError:
                challenge = None  # a service that does not challenge: answer it all the same
            result.received.append(challenge.type if challenge else "no challenge")
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        result.closed_by_server = await _until_closed(reader, target.patience, result)
    finally:
        result.seconds = time.monotonic() - started
        await _close(writer)
    return result


async def _stream_until_closed(
    target: Target, name: str, first: bytes, more: Callable[[], bytes]
) -> ProbeResult:
    """Send `first`, then `more()` as fast as the server takes it, until it closes."""
    started = time.monotonic()
    result = ProbeResult(name, closed_by_server=False, seconds=0.0)
    reader, writer = await _open(target)
    reading = asyncio.create_task(_until_closed(reader, target.patience, result))
    try:
        async with asyncio.timeout(target.patience):
            writer.write(first)
            result.sent_bytes = len(first)
            while not reading.done() and result.sent_bytes < MAX_SENT_BYTES:
                data = more()
                writer.write(data)
                await writer.drain()
                result.sent_bytes += len(data)
    except ConnectionError:
        result.closed_by_server = True
    except TimeoutError:
        pass
    finally:
        result.closed_by_server = result.closed_by_server or await reading
        result.seconds = time.monotonic() - started
        await _close(writer)
    return result


def _header(event_type: str, **fields: object) -> bytes:
    return json.dumps({"type": event_type, **fields}).encode() + b"\n"


# --- the probes ------------------------------------------------------------------------------


async def garbage(target: Target) -> ProbeResult:
    """Bytes that are no Wyoming event."""
    return await _send_then_wait(target, "garbage", b"\x00\xff\xfe not wyoming {]\n\x01\x02\n")


async def endless_header(target: Target) -> ProbeResult:
    """A header line that never ends."""
    return await _stream_until_closed(
        target, "endless_header", b'{"type": "' + b"a" * 4096, lambda: b"a" * 65536
    )


async def huge_data_length(target: Target) -> ProbeResult:
    """A header announcing 2 GB of data, then the bytes of it."""
    return await _stream_until_closed(
        target,
        "huge_data_length",
        _header("describe", data_length=2_000_000_000) + b'{"x": "',
        lambda: b"x" * 65536,
    )


async def huge_payload_length(target: Target) -> ProbeResult:
    """An audio chunk announcing a 2 GB payload, then the bytes of it."""
    header = _header("audio-chunk", data_length=0, payload_length=2_000_000_000)
    return await _stream_until_closed(target, "huge_payload_length", header, lambda: bytes(65536))


async def endless_audio(target: Target) -> ProbeResult:
    """`audio-start`, then audio chunks that never stop (no `audio-stop`)."""
    start = _encode(AudioStart(22050, 2, 1).event())
    chunk = _encode(AudioChunk(22050, 2, 1, bytes(8192)).event())
    return await _stream_until_closed(target, "endless_audio", start, lambda: chunk)


async def slow_loris(target: Target) -> ProbeResult:
    """A header line sent one byte a second, never finished."""
    started = time.monotonic()
    result = ProbeResult("slow_loris", closed_by_server=False, seconds=0.0)
    reader, writer = await _open(target)
    reading = asyncio.create_task(_until_closed(reader, target.patience, result))
    line = b'{"type": "describe", "data": {"note": "' + b"a" * 100_000
    try:
        for byte in line:
            if reading.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            result.sent_bytes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reading), 1.0)
    except ConnectionError:
        result.closed_by_server = True
    finally:
        result.closed_by_server = result.closed_by_server or await reading
        result.seconds = time.monotonic() - started
        await _close(writer)
    return result


async def many_idle(target: Target, count: int = 200) -> ProbeResult:
    """`count` connections that send nothing; an honest client must still be served."""
    started = time.monotonic()
    result = ProbeResult(f"many_idle_{count}", closed_by_server=False, seconds=0.0)
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(count):
            with contextlib.suppress(OSError):
                opened.append(await _open(target))
        result.served_after = await well_behaved(target)
        ended = await asyncio.gather(*(_drained_to_close(reader, 0.5) for reader, _ in opened))
        closed = sum(ended)
        result.closed_by_server = closed > 0
        result.detail = f"{len(opened)} opened, {closed} closed by the server"
    finally:
        for _, writer in opened:
            writer.transport.abort()
        result.seconds = time.monotonic() - started
    return result


async def never_reads(target: Target) -> ProbeResult:
    """Ask for a stream (the microphone, long speech) and never read it."""
    if target.kind == FORMANT:
        text = " ".join(f"This is sentence {n} of a long story nobody hears." for n in range(300))
        request = Synthesize(text=text).event()
    else:
        request = RunSatellite().event()
    started = time.monotonic()
    result = ProbeResult("never_reads", closed_by_server=False, seconds=0.0)
    reader, writer = await _open(target, receive_buffer=4096)
    try:
        await async_write_event(request, writer)
        await asyncio.sleep(target.patience)  # not reading: the server's writes pile up
        result.closed_by_server = await _drained_to_close(reader, 2.0)
    finally:
        result.seconds = time.monotonic() - started
        await _close(writer)
    return result


async def _drained_to_close(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Read what the server buffered: True if its end (or a reset) comes within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1 << 20):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def unauthenticated(target: Target) -> ProbeResult:
    """Ask the endpoint service for a frame without proving the key."""
    return await _send_then_wait(target, "unauthenticated", _encode(Event(CAPTURE)))


async def replayed_proof(target: Target) -> ProbeResult:
    """Answer the challenge with a proof that is not for this connection."""
    stale = {"nonce": "00" * 16, "proof": "ab" * 32}  # as if recorded from another connection
    data = _encode(Event(AUTH, stale)) + _encode(Event(CAPTURE))
    return await _send_then_wait(target, "replayed_proof", data, after_challenge=True)


def _encode(event: Event) -> bytes:
    header: dict[str, object] = {"type": event.type}
    data = json.dumps(event.data).encode() if event.data else b""
    if data:
        header["data_length"] = len(data)
    if event.payload:
        header["payload_length"] = len(event.payload)
    return json.dumps(header).encode() + b"\n" + data + (event.payload or b"")


Probe = Callable[[Target], Awaitable[ProbeResult]]
_COMMON: tuple[Probe, ...] = (garbage, endless_header, huge_data_length, huge_payload_length)
PROBES: dict[str, tuple[Probe, ...]] = {
    SATELLITE: (*_COMMON, endless_audio, slow_loris, many_idle, never_reads),
    SERVICE: (*_COMMON, unauthenticated, replayed_proof, slow_loris, many_idle),
    FORMANT: (*_COMMON, slow_loris, many_idle, never_reads),
}


async def run_probe(probe: Probe, target: Target) -> ProbeResult:
    """Run one probe, then check that an honest client is served (unless the probe did)."""
    try:
        result = await probe(target)
    except OSError as err:  # the server is gone, or refused the connection outright
        result = ProbeResult(probe.__name__, closed_by_server=False, seconds=0.0)
        result.detail = f"could not probe: {err}"
    if result.served_after is None:
        result.served_after = await well_behaved(target)
    return result


async def probe_all(
    target: Target,
    *,
    after_each: Callable[[ProbeResult], Awaitable[None] | None] | None = None,
) -> list[ProbeResult]:
    """Run every probe that fits the target, one after the other; each is checked for service.

    `after_each` is called after each probe (and its check), e.g. to sample memory.
    """
    results: list[ProbeResult] = []
    for probe in PROBES[target.kind]:
        result = await run_probe(probe, target)
        results.append(result)
        if after_each is not None and (pending := after_each(result)) is not None:
            await pending
    return results
