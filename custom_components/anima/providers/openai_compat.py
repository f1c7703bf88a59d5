"""Client for OpenAI-compatible HTTP APIs: model list, streamed chat, transcription, speech.

No Home Assistant imports: the caller passes the aiohttp session (Home Assistant's shared one).
Every failure surfaces as a ProviderError subclass, and no error message ever contains the key.

Time-outs fit the call: listing models and checking the key (what validates a connection) have
a short total limit; chat streams, transcription and speech have none from the client, since a
slow answer that keeps coming is no failure (the router bounds each attempt with its chain's
first-token and total limits); only a socket silent for `idle_timeout` is given up as dead.

A chat stream that ends before its `[DONE]` line and before any finish_reason raises
ProviderConnectionError, like a stream aiohttp reports as truncated: the answer was cut off in
transit (a dropped connection, a proxy timing out), which trying again may fix. Anything the
provider did send that breaks the protocol (a line that is not JSON) is a ProviderResponseError.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import aclosing, asynccontextmanager, contextmanager
import functools
import json
import logging
import math
import re
from typing import Any, Final

import aiohttp
from yarl import URL

from .audio import wav_bytes
from .base import (
    AudioChunk,
    AudioFormat,
    ChatDelta,
    ChatRequest,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderContextError,
    ProviderError,
    ProviderRateLimitError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    Transcript,
    Usage,
)
from .openai_chat import MAX_DETAIL, ChatStream, chat_payload, error_detail
from .sse import iter_sse_data

DEFAULT_STT_MODEL = "whisper-1"
DEFAULT_TTS_MODEL = "tts-1"
DEFAULT_TTS_VOICE = "alloy"
#: What /audio/speech returns for response_format "pcm": 24 kHz, 16-bit, mono.
SPEECH_FORMAT = AudioFormat(rate=24000, width=2, channels=1)
#: Languages (ISO 639-1) OpenAI's Whisper-based transcription and speech models handle.
SPEECH_LANGUAGES = [
    "af",
    "ar",
    "az",
    "be",
    "bg",
    "bs",
    "ca",
    "cs",
    "cy",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fa",
    "fi",
    "fr",
    "gl",
    "he",
    "hi",
    "hr",
    "hu",
    "hy",
    "id",
    "is",
    "it",
    "ja",
    "kk",
    "kn",
    "ko",
    "lt",
    "lv",
    "mi",
    "mk",
    "mr",
    "ms",
    "ne",
    "nl",
    "no",
    "pl",
    "pt",
    "ro",
    "ru",
    "sk",
    "sl",
    "sr",
    "sv",
    "sw",
    "ta",
    "th",
    "tl",
    "tr",
    "uk",
    "ur",
    "vi",
    "zh",
]
_DONE = "[DONE]"
#: Seconds without a byte on an open connection after which it is given up as dead. Long, as a
#: local model reading a big prompt or a reasoning model may think for minutes before it speaks.
IDLE_TIMEOUT: Final = 300.0
#: The most of a response read whole (the model list, a transcript): OpenRouter's list of
#: hundreds of models is about 1 MB. Of an error's body, only its start: the message is short.
MAX_BODY_BYTES: Final = 8 * 1024 * 1024
MAX_ERROR_BODY_BYTES: Final = 64 * 1024
_LOGGER = logging.getLogger(__name__)


class OpenAICompatClient:
    """Talks to one OpenAI-compatible service (OpenAI, Ollama, vLLM, DashScope, ...)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        idle_timeout: float = IDLE_TIMEOUT,
        first_token_timeout: float | None = None,
    ) -> None:
        """Use `session` for `base_url` (ending in /v1 or the like).

        `timeout` bounds the checks (listing models, the key) overall and the connecting of
        every call; `idle_timeout` how long any call's socket may stay silent;
        `first_token_timeout` the wait for the first event of a chat stream.
        """
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._check_timeout = aiohttp.ClientTimeout(total=timeout)
        self._call_timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=idle_timeout)
        self._first_token_timeout = first_token_timeout

    @property
    def base_url(self) -> str:
        """The service's base URL, without a trailing slash."""
        return self._base_url

    async def list_models(self) -> list[str]:
        """Return the sorted ids of the models the service lists.

        An address without a model list (404, a web page, JSON of another API) raises
        ProviderResponseError: the base URL is wrong, which the user can fix.
        """
        try:
            with self._errors():
                async with self._request("GET", "/models", self._check_timeout) as response:
                    body = await _read(response, MAX_BODY_BYTES)
        except ProviderRequestError as err:
            if err.status not in (404, 405):
                raise
            raise self._not_openai_compatible(f"HTTP {err.status}") from None
        try:
            listing = json.loads(body)
        except ValueError:
            raise self._not_openai_compatible("the model list is not JSON") from None
        models = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(models, list):
            raise self._not_openai_compatible("the model list has no OpenAI `data` list")
        return sorted(
            {m["id"] for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)}
        )

    async def check_key(self, path: str) -> None:
        """Check the key on `path`, for services whose /models answers without one.

        Raises ProviderAuthError when the key is refused.
        """
        with self._errors():
            async with self._request("GET", path, self._check_timeout) as response:
                await _read(response, MAX_ERROR_BODY_BYTES, whole=False)

    def _not_openai_compatible(self, reason: str) -> ProviderResponseError:
        """Log (once, with the URL and never the key) and return the error of a wrong address."""
        url = URL(self._base_url).with_user(None).with_query(None)
        _LOGGER.warning("%s/models is not an OpenAI-compatible API: %s", url, reason)
        return ProviderResponseError(f"Not an OpenAI-compatible API: {reason}")

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Stream the answer: text as it arrives, complete tool calls, then usage."""
        payload = chat_payload(request)
        stream = ChatStream()
        done = False
        with self._errors():
            async with (
                asyncio.timeout(self._first_token_timeout) as first_event,
                self._request(
                    "POST", "/chat/completions", self._call_timeout, json=payload
                ) as response,
                aclosing(iter_sse_data(response.content.iter_any())) as events,
            ):
                async for data in events:
                    first_event.reschedule(None)  # only the first event is bounded
                    if data.strip() == _DONE:
                        done = True
                        break
                    for delta in stream.feed(data):
                        yield delta
            if not done and stream.finish_reason is None:
                raise ProviderConnectionError("The answer stream ended before it was complete")
            if calls := stream.take_tool_calls():
                yield ChatDelta(tool_calls=calls)
        images = sum(len(m.images) for m in request.messages if m.role == "user")
        yield ChatDelta(usage=stream.usage(images), finish_reason=stream.finish_reason)

    async def transcribe(
        self,
        audio: AsyncIterable[bytes],
        audio_format: AudioFormat,
        *,
        model: str | None = None,
        language: str | None = None,
    ) -> Transcript:
        """Upload the PCM audio as a WAV file and return what the service heard.

        `language` may be a BCP 47 tag ("en-US"); OpenAI takes its ISO 639-1 part ("en").
        """
        pcm = bytearray()
        async for chunk in audio:
            pcm += chunk
        form = aiohttp.FormData()
        form.add_field(
            "file",
            wav_bytes(bytes(pcm), audio_format),
            filename="audio.wav",
            content_type="audio/wav",
        )
        form.add_field("model", model or DEFAULT_STT_MODEL)
        if language:
            form.add_field("language", language.partition("-")[0].lower())
        form.add_field("response_format", "json")
        with self._errors():
            async with self._request(
                "POST", "/audio/transcriptions", self._call_timeout, data=form
            ) as response:
                body = await _read(response, MAX_BODY_BYTES)
        try:
            text = json.loads(body)["text"]
        except (ValueError, TypeError, KeyError):
            raise ProviderResponseError("The transcription has no `text`") from None
        if not isinstance(text, str):
            raise ProviderResponseError("The transcription's `text` is not a string")
        return Transcript(text.strip(), Usage(audio_seconds=audio_format.seconds(len(pcm))))

    async def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        model: str | None = None,
        language: str | None = None,
    ) -> AsyncIterator[AudioChunk]:
        """Stream 24 kHz 16-bit mono PCM for `text`, in chunks of whole samples.

        `language` is not sent: OpenAI's speech endpoint reads the language from the text.
        """
        payload = {
            "model": model or DEFAULT_TTS_MODEL,
            "input": text,
            "voice": voice or DEFAULT_TTS_VOICE,
            "response_format": "pcm",
        }
        frame = SPEECH_FORMAT.width * SPEECH_FORMAT.channels
        rest, sent = b"", False
        with self._errors():
            async with self._request(
                "POST", "/audio/speech", self._call_timeout, json=payload
            ) as response:
                async for data in response.content.iter_any():
                    data = rest + data  # noqa: PLW2901
                    whole = len(data) - len(data) % frame
                    rest = data[whole:]
                    if whole:
                        sent = True
                        yield AudioChunk(data[:whole], SPEECH_FORMAT)
            if not sent:
                raise ProviderResponseError("The speech answer has no audio")

    # --- plumbing ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _request(
        self, method: str, path: str, timeout: aiohttp.ClientTimeout, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request; yield the response if its status is a success."""
        url = self._base_url + path
        send = functools.partial(
            self._session.request, method, url, headers=self._headers, timeout=timeout, **kwargs
        )
        try:
            response = await send()
        except aiohttp.ServerDisconnectedError:
            # The pooled connection was closed by the server before it answered: llama-server
            # closes every connection after a streamed answer, though it says keep-alive. The
            # request almost surely never reached it: send it once more, on a fresh connection.
            response = await send()
        async with response:
            if response.status >= 400:
                body = await _read(response, MAX_ERROR_BODY_BYTES, whole=False)
                raise _status_error(response.status, path, response.headers, body)
            yield response

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Map every failure of a call to a ProviderError whose message hides the API key."""
        try:
            yield
        except ProviderError as err:
            err.args = tuple(self._redact(a) if isinstance(a, str) else a for a in err.args)
            raise
        except TimeoutError:
            raise ProviderTimeoutError("The provider did not answer in time") from None
        except aiohttp.ClientError as err:  # refused, reset, truncated body, invalid URL
            message = f"The connection to the provider failed: {type(err).__name__}: {err}"
            raise ProviderConnectionError(self._redact(message)) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


async def _read(response: aiohttp.ClientResponse, limit: int, *, whole: bool = True) -> bytes:
    """Read the body, at most `limit` bytes of it.

    Past that, only its start (`whole` False) or ProviderResponseError; the rest is never read
    (the connection is closed instead).
    """
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            if whole:
                raise ProviderResponseError(f"The answer is larger than {limit} bytes")
            return bytes(body[:limit])
    return bytes(body)


def _status_error(status: int, path: str, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """Return the error for an HTTP error status, with the provider's own message if any."""
    message = f"HTTP {status} from {path}"
    try:
        detail = error_detail(json.loads(body))
    except ValueError:
        detail = None
    if detail:
        message = f"{message}: {detail[:MAX_DETAIL]}"
    if status in (401, 403):
        return ProviderAuthError(message)
    if status == 429:
        return ProviderRateLimitError(message, _retry_after(headers.get("Retry-After")))
    if status >= 500:
        return ProviderServerError(message, status)
    if _CONTEXT_EXCEEDED.search(body[:2000].decode(errors="replace")):
        return ProviderContextError(message, status)
    return ProviderRequestError(message, status)


#: How services say a request exceeds the model's context: OpenAI's `context_length_exceeded`,
#: llama-server's `exceed_context_size_error`, vLLM's and DeepSeek's "maximum context length".
_CONTEXT_EXCEEDED = re.compile(
    r"context[_ ](length|size|window)|exceed_context|maximum context", re.IGNORECASE
)


def _retry_after(value: str | None) -> float | None:
    """Return the seconds of a Retry-After header (HTTP dates are not supported)."""
    try:
        seconds = float(value or "")
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
