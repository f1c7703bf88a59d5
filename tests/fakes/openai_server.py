"""A fake OpenAI-compatible service on loopback that answers in api.openai.com's wire format.

    server = FakeOpenAIServer()               # or use the `openai_server` fixture
    await server.start()
    server.reply(Reply.text("Hello there", usage=(12, 5)))
    ... a client on server.base_url with server.api_key streams "Hello", " there" ...
    assert server.requests[-1].json["model"] == "gpt-4.1-mini"
    await server.close()

Chat answers stream as OpenAI's server-sent chunk objects (a role chunk, content or tool call
fragments, a finish chunk, the usage chunk with empty choices when the request asked for
`stream_options.include_usage`, then `data: [DONE]`); requests without `stream` get one
`chat.completion` object. Errors use OpenAI's body {"error": {"message", "type", "param",
"code"}}, and every endpoint answers 401 when the bearer key does not match `api_key` (unless it
is None). Replies are scripted per endpoint, first in first out; when none is queued, chat echoes
the last user message, transcription hears DEFAULT_TRANSCRIPT and speech is a tone. Speech comes
in the `response_format` asked for (mp3 by default, as OpenAI's; `speech_formats.py`); the
Responses API (`/v1/responses`, `openai_responses.py`), which Home Assistant core's own OpenAI
integration uses, streams its typed events.

Chat requests are refused (HTTP 400, OpenAI's messages) where api.openai.com refuses them, so a
client that regresses fails its test: `max_tokens` or a temperature for a reasoning model
(o-series, gpt-5), a strict JSON schema whose objects do not require every property or allow
additional ones, a `tool` message that answers no preceding assistant tool call, an assistant
tool call without the tool messages that answer it. With `openrouter_auth` the server checks
keys as OpenRouter does: /models answers anyone, GET /key needs the key.

Misbehaving servers, each as such a server sends it: error statuses (`Reply.error`,
`rate_limited`), a slow first token, a line that is not JSON (`malformed`), an error event
mid-stream (`error_event`), a dropped connection (`disconnect`), a web page with HTTP 200
(`web_page`), an answer without end (`endless`) or of tens of megabytes (`giant`), one line
without end (`endless_line`), tool call arguments that are not JSON (a str `arguments`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
import io
import itertools
import json
import math
import re
import socket
import struct
import time
from types import TracebackType
from typing import Any, Literal, Self
import wave

from aiohttp import web

from .openai_responses import (
    input_text,
    refusal as responses_refusal,
    response_events,
    response_object,
)
from .speech_formats import CONTENT_TYPES, encode

DEFAULT_API_KEY = "sk-test-3f9a1c7e5b2d4a6f8e0c"
DEFAULT_MODELS = ("gpt-4.1-mini", "gpt-4o-mini", "text-embedding-3-small", "tts-1", "whisper-1")
DEFAULT_TRANSCRIPT = "Turn on the kitchen light."
#: /v1/audio/speech with response_format "pcm": 24 kHz, 16-bit little-endian, mono.
SPEECH_RATE = 24000

type Endpoint = Literal["chat", "responses", "transcriptions", "speech"]
#: What GET /v1/models answers: the model list, a web page, JSON of another API, or an error.
type ModelsReply = Literal["ok", "html", "not_openai_json"] | int

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {  # status: (type, code)
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_BROKEN_JSON = '{"id": "chatcmpl-broken", "choices": ['  # cut off: not JSON
#: OpenAI's reasoning models: no max_tokens, no temperature but the default (gpt-5-chat is none).
_REASONING_MODEL = re.compile(r"^(o[1-9]([-.]|$)|gpt-5(?![^/]*-chat))")
#: The message of llama-server's mid-stream error when it cannot parse the model's tool call.
LLAMA_OUTPUT_ERROR = "Failed to parse input at pos 0: peg-native format"
_HTML = "<!doctype html><html><head><title>Router login</title></head><body>Hi</body></html>"


@dataclass(frozen=True, slots=True)
class FakeToolCall:
    """A tool call a scripted reply makes."""

    name: str
    #: An object, sent as its JSON; or text sent as it is (a model that wrote broken JSON).
    arguments: dict[str, Any] | str
    id: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer; build it with the class methods.

    Streams wait `first_token_delay` seconds before their first chunk and `chunk_delay` before
    each further one (1 / chunk_delay is the tokens per second of a text answer); any reply
    can be paced with `dataclasses.replace(reply, chunk_delay=...)`.
    """

    status: int = 200
    #: Content deltas, one per chunk (word-sized, as OpenAI's tokens).
    pieces: tuple[str, ...] = ()
    calls: tuple[FakeToolCall, ...] = ()
    #: (prompt_tokens, completion_tokens); None estimates them from the request.
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None  # None: "tool_calls" when there are some, else "stop"
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    message: str | None = None  # of an error
    retry_after: float | None = None
    #: Index of the stream event replaced by a line that is not JSON.
    malformed_at: int | None = None
    #: Index of the stream event replaced by an error event (`data: {"error": ...}`), the last.
    error_event_at: int | None = None
    #: Of the prompt tokens, those reported as read from the prompt cache.
    cached_tokens: int = 0
    #: Number of stream events (or audio chunks) sent before the connection is dropped.
    disconnect_after: int | None = None
    pcm: bytes | None = None
    #: Bytes per audio chunk; odd on purpose, so clients must realign 16-bit samples.
    chunk_size: int = 4801
    #: Speech: stream this many times faster than it plays, whatever its format (0: by
    #: `chunk_delay` alone), as a voice that makes audio at its own pace.
    speech_speedup: float = 0.0
    #: Times the text pieces are streamed over (0: without end, never finishing).
    repeat: int = 1
    #: Index of the stream event replaced by one data line of `line_bytes` that never ends
    #: (no newline); the connection then closes.
    endless_line_at: int | None = None
    line_bytes: int = 100 * 1024 * 1024
    #: A web page answered with HTTP 200 instead of the stream (a captive portal, a proxy).
    page: str | None = None
    #: Before stream event `paused_at`, wait until `resume` is set: a model still writing
    #: while a test watches what happens meanwhile.
    paused_at: int | None = None
    resume: asyncio.Event | None = None

    @classmethod
    def text(
        cls,
        text: str,
        *,
        usage: tuple[int, int] | None = None,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
        finish_reason: str = "stop",
    ) -> Reply:
        """Answer `text` (chat) or hear it (transcription)."""
        return cls(
            pieces=tuple(re.findall(r"\s*\S+|\s+$", text)),
            usage=usage,
            first_token_delay=first_token_delay,
            chunk_delay=chunk_delay,
            finish_reason=finish_reason,
        )

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: dict[str, Any] | str,
        *,
        text: str = "",
        usage: tuple[int, int] | None = None,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> Reply:
        """Call one tool (after saying `text`, if any)."""
        return cls.tool_calls(
            [(name, arguments)],
            text=text,
            usage=usage,
            first_token_delay=first_token_delay,
            chunk_delay=chunk_delay,
        )

    @classmethod
    def tool_calls(
        cls,
        calls: Sequence[tuple[str, dict[str, Any] | str]],
        *,
        text: str = "",
        usage: tuple[int, int] | None = None,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> Reply:
        """Call several tools in one answer (parallel tool calls)."""
        return cls(
            pieces=cls.text(text).pieces,
            calls=tuple(
                FakeToolCall(name, arguments, f"call_fake{n}{name.replace('_', '')[:8]}")
                for n, (name, arguments) in enumerate(calls)
            ),
            usage=usage,
            first_token_delay=first_token_delay,
            chunk_delay=chunk_delay,
        )

    @classmethod
    def error(
        cls, status: int, message: str | None = None, *, retry_after: float | None = None
    ) -> Reply:
        """Answer HTTP `status` with OpenAI's error body (and a Retry-After header if given)."""
        return cls(status=status, message=message, retry_after=retry_after)

    @classmethod
    def rate_limited(cls, retry_after: float | None = 2) -> Reply:
        """Answer 429, asking the client to wait `retry_after` seconds."""
        return cls.error(429, "Rate limit reached for requests", retry_after=retry_after)

    @classmethod
    def malformed(cls, after_chunks: int = 1) -> Reply:
        """Stream `after_chunks` good events, then a data line that is not JSON."""
        return cls(pieces=("This", " answer", " breaks"), malformed_at=after_chunks)

    @classmethod
    def error_event(cls, after_chunks: int = 1, message: str = LLAMA_OUTPUT_ERROR) -> Reply:
        """Stream `after_chunks` good events, then an error event (llama-server's by default)."""
        return cls(
            pieces=("This", " answer", " breaks"), error_event_at=after_chunks, message=message
        )

    @classmethod
    def disconnect(cls, after_chunks: int = 2, text: str = "Hello there, I was saying") -> Reply:
        """Stream `after_chunks` events of `text` (or audio chunks), then drop the connection."""
        return cls(pieces=cls.text(text).pieces, disconnect_after=after_chunks)

    @classmethod
    def endless(cls, text: str = "and on ") -> Reply:
        """Stream `text` again and again, never finishing (a model in a loop, ignoring limits)."""
        return cls(pieces=cls.text(text).pieces, repeat=0)

    @classmethod
    def giant(cls, megabytes: float = 50, text: str = "This answer goes on and on. ") -> Reply:
        """Stream `text` over and over, about `megabytes` MB on the wire, then finish."""
        pieces = cls.text(text).pieces
        per_round = len(pieces) * 230  # bytes of one chunk event, about
        return cls(pieces=pieces, repeat=max(1, round(megabytes * 1e6 / per_round)))

    @classmethod
    def endless_line(cls, after_chunks: int = 1, size: int = 100 * 1024 * 1024) -> Reply:
        """Stream `after_chunks` good events, then one data line of `size` bytes without end."""
        return cls(pieces=("This", " breaks"), endless_line_at=after_chunks, line_bytes=size)

    @classmethod
    def web_page(cls, html: str = _HTML) -> Reply:
        """Answer HTTP 200 with a web page (a router's login page on the service's address)."""
        return cls(page=html)

    @classmethod
    def audio(cls, pcm: bytes, *, chunk_size: int = 4801, chunk_delay: float = 0.0) -> Reply:
        """Answer a speech request with `pcm`, streamed in `chunk_size` pieces."""
        return cls(pcm=pcm, chunk_size=chunk_size, chunk_delay=chunk_delay)


@dataclass(frozen=True, slots=True)
class RecordedImage:
    """An image part of a chat request, as the server decoded it."""

    mime_type: str | None
    detail: str | None
    size: int  # bytes after base64 decoding
    width: int | None  # None when Pillow cannot decode it
    height: int | None


@dataclass(slots=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    #: The Authorization header as sent, or None.
    authorization: str | None
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    images: list[RecordedImage] = field(default_factory=list)
    #: Bytes of the streamed answer written before it ended or the client went away.
    sent_bytes: int = 0
    #: When it arrived (time.monotonic(), the event loop's clock).
    at: float = field(default_factory=time.monotonic)

    @property
    def has_auth(self) -> bool:
        """Whether an Authorization header was sent."""
        return self.authorization is not None


class FakeOpenAIServer:
    """An OpenAI-compatible HTTP service on 127.0.0.1 with scripted replies."""

    def __init__(self, api_key: str | None = DEFAULT_API_KEY) -> None:
        """Create the server; `api_key` None accepts requests without a key."""
        self.api_key = api_key
        self.models: list[str] = list(DEFAULT_MODELS)
        self.models_reply: ModelsReply = "ok"
        #: Seconds every endpoint waits before answering (a slow service).
        self.response_delay = 0.0
        #: Check keys as OpenRouter does: /models answers anyone, GET /key needs the key.
        self.openrouter_auth = False
        #: The chat reply when none is queued; None echoes the last user message.
        self.default_reply: Reply | None = None
        #: Answers a request no queued reply answers, from its JSON body or (transcriptions) its
        #: form fields; None: the default.
        self.responder: Callable[[Endpoint, dict[str, Any]], Reply | None] | None = None
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str, deque[Reply]] = {
            "chat": deque(),
            "responses": deque(),
            "transcriptions": deque(),
            "speech": deque(),
        }
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._ids = itertools.count(1)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("The server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The base URL a client uses, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def reply(self, *replies: Reply, endpoint: Endpoint = "chat") -> None:
        """Queue replies for the next requests to `endpoint`."""
        self._queues[endpoint].extend(replies)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/key", self._key)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- endpoints --------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        _, refusal = await self._receive(request)
        if refusal is not None and not self.openrouter_auth:
            return refusal
        match self.models_reply:
            case int(status):
                return _error(status, retry_after=1 if status == 429 else None)
            case "html":
                return web.Response(text=_HTML, content_type="text/html")
            case "not_openai_json":  # Ollama's /api/tags shape
                return web.json_response({"models": [{"name": m} for m in self.models]})
        data = [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "fake"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _key(self, request: web.Request) -> web.StreamResponse:
        """OpenRouter's GET /key: the key's limits and usage (other services have no such path)."""
        if not self.openrouter_auth:
            return await self._unknown(request)
        record, refusal = await self._receive(request)
        if refusal is not None:
            return refusal
        label = (record.authorization or "")[7:17] + "..."
        data = {"label": label, "limit": None, "usage": 0, "is_free_tier": False}
        return web.json_response({"data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        record, refusal = await self._receive(request)
        if refusal is not None:
            return refusal
        body = record.json
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is a required property", param="messages")
        if not isinstance(body.get("model"), str):
            return _error(400, "you must provide a model parameter", param="model")
        if (refused := _refusal(body)) is not None:
            message, param, code = refused
            return _error(400, message, param=param, code=code)
        record.images = _images(body["messages"])
        reply = (
            self._next("chat", body) or self.default_reply or Reply.text(_echo(body["messages"]))
        )
        if reply.status >= 400:
            return _error(reply.status, reply.message, retry_after=reply.retry_after)
        if reply.page is not None:
            return web.Response(text=reply.page, content_type="text/html")
        if body.get("stream"):
            events = _chat_events(body, reply, next(self._ids))
            return await self._stream(request, events, reply, record=record)
        await asyncio.sleep(reply.first_token_delay)
        if reply.disconnect_after is not None:
            return _drop(request)
        if reply.malformed_at is not None:
            return web.Response(text=_BROKEN_JSON, content_type="application/json")
        return web.json_response(_completion(body, reply, next(self._ids)))

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        record, refusal = await self._receive(request, form=True)
        if refusal is not None:
            return refusal
        if "model" not in record.form:
            return _error(400, "you must provide a model parameter", param="model")
        try:
            with wave.open(io.BytesIO(record.files["file"])) as wav:
                seconds = wav.getnframes() / wav.getframerate()
        except (KeyError, EOFError, wave.Error):
            return _error(
                400, "Invalid file format. Supported formats: ['wav', 'mp3', ...]", param="file"
            )
        reply = self._next("transcriptions", dict(record.form)) or Reply.text(DEFAULT_TRANSCRIPT)
        if reply.status >= 400:
            return _error(reply.status, reply.message, retry_after=reply.retry_after)
        await asyncio.sleep(reply.first_token_delay)
        if reply.disconnect_after is not None:
            return _drop(request)
        text = "".join(reply.pieces)
        if record.form.get("response_format") == "text":
            return web.Response(text=text + "\n")
        usage = {"type": "duration", "seconds": math.ceil(seconds)}
        return web.json_response({"text": text, "usage": usage})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        record, refusal = await self._receive(request)
        if refusal is not None:
            return refusal
        body = record.json
        for required in ("model", "input", "voice"):
            if not isinstance(body, dict) or not isinstance(body.get(required), str):
                return _error(400, f"'{required}' is a required property", param=required)
        response_format = body.get("response_format", "mp3")
        if response_format not in CONTENT_TYPES:
            return _error(
                400,
                f"Invalid value: '{response_format}'. Supported values are: "
                + ", ".join(f"'{name}'" for name in CONTENT_TYPES),
                param="response_format",
            )
        reply = self._next("speech", body) or Reply.audio(tone(max(0.2, 0.05 * len(body["input"]))))
        if reply.status >= 400:
            return _error(reply.status, reply.message, retry_after=reply.retry_after)
        pcm = reply.pcm or b""
        audio = await encode(pcm, response_format, SPEECH_RATE)
        size = reply.chunk_size
        chunks = [audio[i : i + size] for i in range(0, len(audio), size)]
        if reply.speech_speedup and chunks:
            seconds = len(pcm) / (2 * SPEECH_RATE)
            delay = seconds / reply.speech_speedup / len(chunks)
            reply = replace(reply, chunk_delay=delay)
        content_type = CONTENT_TYPES[response_format]
        return await self._stream(request, chunks, reply, content_type=content_type, record=record)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        """The Responses API (Home Assistant core's OpenAI integration uses it)."""
        record, refusal = await self._receive(request)
        if refusal is not None:
            return refusal
        body = record.json
        if (refused := responses_refusal(body)) is not None:
            return _error(400, refused[0], param=refused[1])
        reply = (
            self._next("responses", body)
            or self.default_reply
            or Reply.text(input_text(body) or "Hello")
        )
        if reply.status >= 400:
            return _error(reply.status, reply.message, retry_after=reply.retry_after)
        if body.get("stream"):
            events = response_events(body, reply, next(self._ids))
            return await self._stream(request, events, reply, record=record)
        await asyncio.sleep(reply.first_token_delay)
        return web.json_response(response_object(body, reply, next(self._ids)))

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        await self._receive(request)
        return _error(404, f"Invalid URL ({request.method} {request.path})", code=None)

    # --- plumbing ---------------------------------------------------------------------------

    async def _receive(
        self, request: web.Request, *, form: bool = False
    ) -> tuple[RecordedRequest, web.Response | None]:
        """Record the request; return it and the error answer if the key is wrong."""
        record = RecordedRequest(request.method, request.path, request.headers.get("Authorization"))
        self.requests.append(record)
        if form and request.content_type.startswith("multipart/"):
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    record.files[name] = value.file.read()
                else:
                    record.form[name] = value if isinstance(value, str) else value.decode()
        elif request.can_read_body:
            try:
                record.json = await request.json()
            except ValueError:
                return record, _error(400, "We could not parse the JSON body of your request.")
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        return record, self._auth_error(record.authorization)

    def _auth_error(self, authorization: str | None) -> web.Response | None:
        if self.api_key is None or authorization == f"Bearer {self.api_key}":
            return None
        if not authorization:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return _error(401, message, code=None)
        key = authorization.removeprefix("Bearer ").strip()
        masked = key[:3] + "*" * max(len(key) - 7, 0) + key[-4:] if len(key) > 8 else "****"
        return _error(
            401,
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
        )

    def _next(self, endpoint: Endpoint, body: dict[str, Any] | None = None) -> Reply | None:
        queue = self._queues[endpoint]
        if queue:
            return queue.popleft()
        if self.responder is not None and body is not None:
            return self.responder(endpoint, body)
        return None

    async def _stream(
        self,
        request: web.Request,
        events: Iterable[str] | Iterable[bytes] | Iterable[tuple[str, str]],
        reply: Reply,
        *,
        record: RecordedRequest,
        content_type: str = "text/event-stream; charset=utf-8",
    ) -> web.StreamResponse:
        """Send server-sent event data (str, or (event type, data)) or raw chunks (bytes), with
        the reply's timing: the first after `first_token_delay`, each other after `chunk_delay`.
        """
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )
        await response.prepare(request)

        async def send(data: bytes) -> None:
            await response.write(data)
            record.sent_bytes += len(data)

        try:
            for n, event in enumerate(events):
                if n == reply.disconnect_after:
                    return _drop(request, response)
                delay = reply.first_token_delay if n == 0 else reply.chunk_delay
                if delay:
                    await asyncio.sleep(delay)
                if n == reply.paused_at and reply.resume is not None:
                    await reply.resume.wait()
                if isinstance(event, bytes):
                    await send(event)
                elif isinstance(event, tuple):  # a typed event, as the Responses API sends
                    await send(f"event: {event[0]}\ndata: {event[1]}\n\n".encode())
                elif n == reply.error_event_at:  # as llama-server fails mid-answer
                    error = {"code": 500, "message": reply.message, "type": "server_error"}
                    await send(f"data: {json.dumps({'error': error})}\n\n".encode())
                    break
                elif n == reply.endless_line_at:  # a server gone mad: one line, never ended
                    await send(b"data: ")
                    block = b"x" * (1 << 20)
                    for start in range(0, reply.line_bytes, len(block)):
                        await send(block[: reply.line_bytes - start])
                    return _drop(request, response)
                else:
                    data = _BROKEN_JSON if n == reply.malformed_at else event
                    await send(f"data: {data}\n\n".encode())
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away (it timed out, or stopped reading)
        return response


def _refusal(body: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """Return (message, param, code) of OpenAI's 400 for a request it refuses, else None."""
    if _REASONING_MODEL.search(body["model"]):
        if "max_tokens" in body:
            return (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        if body.get("temperature", 1) != 1:
            return (
                f"Unsupported value: 'temperature' does not support {body['temperature']} with "
                "this model. Only the default (1) value is supported.",
                "temperature",
                "unsupported_value",
            )
    response_format = body.get("response_format") or {}
    json_schema = response_format.get("json_schema") or {}
    if json_schema.get("strict") and (problem := _not_strict(json_schema.get("schema"), ())):
        name = json_schema.get("name")
        return f"Invalid schema for response_format '{name}': {problem}", "response_format", None
    return _history_refusal(body["messages"])


def _not_strict(schema: Any, context: tuple[str, ...]) -> str | None:
    """Return why OpenAI's strict mode refuses `schema` (every object: all properties required,
    additionalProperties false), or None."""
    if not isinstance(schema, dict):
        return None
    where = f"In context={context!r}"
    types = schema.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types):
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        missing = [name for name in properties if name not in (schema.get("required") or [])]
        if missing:
            return (
                f"{where}, 'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'."
            )
        for name, sub in properties.items():
            if problem := _not_strict(sub, (*context, "properties", name)):
                return problem
    for key in ("anyOf", "items"):
        subs = schema.get(key)
        for n, sub in enumerate(subs if isinstance(subs, list) else [subs]):
            if problem := _not_strict(sub, (*context, key, str(n))):
                return problem
    return None


def _history_refusal(messages: list[Any]) -> tuple[str, str, None] | None:
    """OpenAI's rules for tool messages: each answers a call of the assistant message before it
    (other tool messages between), and every call of an assistant message is answered."""
    pending: set[str] = set()
    asked_at = 0
    for n, message in enumerate([*messages, {"role": "end"}]):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",  # sic, OpenAI's spelling
                    f"messages.[{n}].role",
                    None,
                )
            pending.discard(message["tool_call_id"])
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(pending))}",
                f"messages.[{asked_at}].role",
                None,
            )
        calls = message.get("tool_calls") if role == "assistant" else None
        if isinstance(calls, list):
            pending = {str(call.get("id")) for call in calls if isinstance(call, dict)}
            asked_at = n
    return None


def tone(seconds: float, rate: int = SPEECH_RATE, frequency: float = 440.0) -> bytes:
    """Return a sine tone as 16-bit little-endian mono PCM."""
    count = round(seconds * rate)
    samples = (round(8000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(count))
    return struct.pack(f"<{count}h", *samples)


def _error(
    status: int,
    message: str | None = None,
    *,
    retry_after: float | None = None,
    param: str | None = None,
    code: str | None = "",
) -> web.Response:
    """Return OpenAI's error answer; code "" picks the usual code of the status."""
    kind, usual_code = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    error = {
        "message": message or (f"The server had an error processing your request ({status})."),
        "type": kind,
        "param": param,
        "code": usual_code if code == "" else code,
    }
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return web.json_response({"error": error}, status=status, headers=headers)


def _drop(request: web.Request, response: web.StreamResponse | None = None) -> web.StreamResponse:
    """Close the connection without finishing the answer (a server gone mid-answer)."""
    if request.transport is not None:
        request.transport.close()
    return response or web.Response()


def _text_of(content: Any) -> str:
    """Return the text of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _echo(messages: list[Any]) -> str:
    """Return the text of the last user message (the default chat answer)."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return _text_of(users[-1].get("content")) if users else "Hello from the fake server."


def _images(messages: list[Any]) -> list[RecordedImage]:
    """Decode the image parts of the messages."""
    images: list[RecordedImage] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            image_url = part.get("image_url") or {}
            match = re.fullmatch(
                r"data:([^;,]+)(;base64)?,(.*)", image_url.get("url", ""), re.DOTALL
            )
            try:
                data = base64.b64decode(match.group(3), validate=True) if match else b""
            except binascii.Error:
                data = b""
            width, height = _image_size(data) or (None, None)
            mime = match.group(1) if match else None
            images.append(RecordedImage(mime, image_url.get("detail"), len(data), width, height))
    return images


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) if Pillow is installed and can decode the image."""
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError):
        return None


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """Return OpenAI's usage object: the scripted counts or an estimate."""
    if reply.usage is not None:
        prompt, completion = reply.usage
    else:
        messages = body["messages"]
        prompt = sum(
            len(_text_of(m.get("content")).split()) + 4 for m in messages if isinstance(m, dict)
        )
        prompt += 85 * len(_images(messages))
        pieces = len(reply.pieces) * max(reply.repeat, 1)
        completion = pieces + sum(len(_fragments(call)) for call in reply.calls)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _fragments(call: FakeToolCall) -> list[str]:
    """Split a call's JSON arguments in pieces of a few characters, as OpenAI streams them."""
    arguments = _arguments(call)
    return [arguments[i : i + 7] for i in range(0, len(arguments), 7)]


def _arguments(call: FakeToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _finish_reason(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.calls else "stop")


def _chat_events(body: dict[str, Any], reply: Reply, number: int) -> Iterator[str]:
    """Yield the data of each server-sent event of a streamed answer, as it is sent."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": f"chatcmpl-fake{number}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return json.dumps(base | {"choices": [choice]} | ({"usage": None} if include_usage else {}))

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    rounds = itertools.count() if reply.repeat == 0 else range(reply.repeat)
    for _ in rounds:
        for piece in reply.pieces:
            yield chunk({"content": piece})
    for index, call in enumerate(reply.calls):
        function = {"name": call.name, "arguments": ""}
        yield chunk(
            {
                "tool_calls": [
                    {"index": index, "id": call.id, "type": "function", "function": function}
                ]
            }
        )
        for piece in _fragments(call):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _finish_reason(reply))
    if include_usage:
        yield json.dumps(base | {"choices": [], "usage": _usage(body, reply)})
    yield "[DONE]"


def _completion(body: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
    """Return the `chat.completion` object of an answer that is not streamed."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(reply.pieces) or None,
        "refusal": None,
    }
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments(call)},
            }
            for call in reply.calls
        ]
    return {
        "id": f"chatcmpl-fake{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(reply),
            }
        ],
        "usage": _usage(body, reply),
    }
