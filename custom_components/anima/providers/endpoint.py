"""The hub's client of an endpoint's service: frames, earcons, listening, what it offers.

One short connection per request, bounded by a time-out and by the protocol's limits, so a
lying endpoint cannot flood Home Assistant; the endpoint's key proves the hub, and the service
proves it back, before any request is answered.
"""

from __future__ import annotations

import asyncio
import contextlib

from wyoming.error import Error
from wyoming.event import Event, async_write_event

from ..protocol import (
    AUTH,
    AUTHED,
    BAD_EVENT,
    CAPTURE,
    CHALLENGE,
    DESCRIBE,
    EARCON,
    EARCON_PLAYED,
    FRAME,
    HEARD,
    HUB_LIMITS,
    INFO,
    INVALID_KEY,
    LISTEN,
    UNVERIFIED,
    EndpointError,
    EndpointInfo,
    Frame,
    WireError,
    hub_proof,
    is_nonce,
    new_nonce,
    parse_key,
    proofs_match,
    read_event,
    service_proof,
)


class EndpointClient:
    """The hub's side: one short connection per request, each bounded by `timeout`.

    `key` is the endpoint's key (base64, as `anima-satellite --print-key` shows it); without
    it the service answers every request with `unauthorized`.
    """

    def __init__(
        self, host: str, port: int, *, key: str | None = None, timeout: float = 5.0
    ) -> None:
        """Talk to the endpoint service at host:port."""
        self.host, self.port, self.timeout = host, port, timeout
        self._key = key

    def __repr__(self) -> str:
        """Name the service, never the key."""
        return f"EndpointClient({self.host}:{self.port})"

    @classmethod
    def at(cls, address: str, key: str | None = None) -> EndpointClient:
        """Reach the service at `host:port` (as the hub stores it) with the endpoint's key."""
        host, _, port = address.rpartition(":")
        return cls(host, int(port), key=key)

    async def describe(self) -> EndpointInfo:
        """Ask what the endpoint offers."""
        return EndpointInfo.from_event(await self._ask(Event(DESCRIBE), INFO))

    async def capture(self, max_side: int | None = None) -> Frame:
        """Take a frame from the endpoint's camera."""
        event = await self._ask(Event(CAPTURE, {"max_side": max_side}), FRAME)
        return Frame.from_event(event)

    async def play_earcon(self, name: str) -> None:
        """Have the endpoint play one of its earcons (no audio goes over the network)."""
        await self._ask(Event(EARCON, {"name": name}), EARCON_PLAYED)

    async def listen(self, *, respond: bool, timeout: float) -> str:
        """Have the satellite listen now, without its wake word; return what was heard.

        `respond`: Home Assistant answers it as a turn (a follow-up, a handoff); else it is only
        transcribed (the answer to a question). Waits at most `timeout` seconds.
        """
        event = await self._ask(Event(LISTEN, {"respond": respond}), HEARD, timeout=timeout)
        return str((event.data or {}).get("text") or "")

    def _key_bytes(self) -> bytes | None:
        if self._key is None:
            return None
        try:
            return parse_key(self._key)
        except ValueError as err:
            raise EndpointError(INVALID_KEY, str(err)) from None

    async def _ask(self, request: Event, answer: str, *, timeout: float | None = None) -> Event:
        key = self._key_bytes()
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, limit=HUB_LIMITS.header
                )
                try:
                    return await self._converse(reader, writer, key, request, answer)
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        except TimeoutError as err:
            raise EndpointError("timeout", f"{where} did not answer") from err
        except WireError as err:
            raise EndpointError(BAD_EVENT, f"{where}: {err}") from err
        except (OSError, ValueError) as err:
            raise EndpointError("unreachable", f"{where}: {err}") from err

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        key: bytes | None,
        request: Event,
        answer: str,
    ) -> Event:
        hub_nonce = new_nonce()
        expected: str | None = None  # the service's proof, once its challenge has come
        verified = key is None  # unpaired: nothing to verify, the service will refuse anyway
        if key is None:
            await async_write_event(request, writer)
        while (event := await read_event(reader, HUB_LIMITS)) is not None:
            if Error.is_type(event.type):
                error = Error.from_event(event)
                raise EndpointError(error.code or "error", error.text)
            if event.type == CHALLENGE and key is not None and expected is None:
                service_nonce = event.data.get("nonce")
                if not isinstance(service_nonce, str) or not is_nonce(service_nonce):
                    raise EndpointError(BAD_EVENT, "the endpoint's challenge has no nonce")
                proof = hub_proof(key, service_nonce, hub_nonce)
                await async_write_event(Event(AUTH, {"nonce": hub_nonce, "proof": proof}), writer)
                await async_write_event(request, writer)
                expected = service_proof(key, service_nonce, hub_nonce)
            elif event.type == AUTHED and expected is not None:
                if not proofs_match(expected, event.data.get("proof")):
                    raise EndpointError(UNVERIFIED, "the endpoint did not prove it has the key")
                verified = True
            elif event.type == answer and verified:
                answered: Event = event
                return answered
        raise EndpointError("closed", f"{self.host}:{self.port} closed the connection")
