"""Listening on the hub's request, without the wake word (`anima-listen`, docs/protocol.md).

The hub asks through the endpoint service: for a follow-up question, a conversation handed over
to this satellite, or the answer to a question it just announced. The satellite's microphone
loop takes the request (`take`) and starts a pipeline at speech-to-text; the transcript Home
Assistant sends back answers the request (`heard`), and an `error` fails it.

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import asyncio

#: How long one request may wait for Home Assistant's transcript: the satellite streams at most
#: 15 s after it starts listening, and transcription takes a few more.
HEARD_TIMEOUT_S = 30.0


class NotHeardError(Exception):
    """Nothing was heard: no satellite connection, no transcript, or an error from the hub."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ListenRequests:
    """The one request to listen of a satellite connection (a newer one replaces it)."""

    def __init__(self) -> None:
        self._pending: bool | None = None  # `respond` of a request not yet taken
        self._heard: asyncio.Future[str] | None = None
        self._started = False  # its pipeline runs: the next transcript is its answer

    async def ask(self, respond: bool) -> str:
        """Ask the microphone loop to listen; return the transcript."""
        self._fail("replaced", "A newer request to listen replaced this one")
        self._pending, self._started = respond, False
        heard: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._heard = heard
        try:
            async with asyncio.timeout(HEARD_TIMEOUT_S):
                return await heard
        except TimeoutError:
            raise NotHeardError("not_heard", "No transcript came in time") from None
        finally:
            if self._heard is heard:  # not replaced by a newer request meanwhile
                self._pending, self._heard, self._started = None, None, False

    def take(self) -> bool | None:
        """Return `respond` of a request waiting to start (once), else None."""
        respond, self._pending = self._pending, None
        self._started = self._started or respond is not None
        return respond

    def heard(self, text: str) -> None:
        """Home Assistant sent a transcript: the answer, if a request's pipeline runs."""
        if self._started and self._heard is not None and not self._heard.done():
            self._heard.set_result(text)

    def failed(self, code: str, text: str) -> None:
        """Home Assistant's pipeline failed (it heard nothing), if a request's pipeline runs."""
        if self._started:
            self._fail(code, text)

    def _fail(self, code: str, text: str) -> None:
        if self._heard is not None and not self._heard.done():
            self._heard.set_exception(NotHeardError(code, text))
