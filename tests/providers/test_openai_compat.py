"""The OpenAI-compatible client against the fake service, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import replace
import io
import logging
import time
import traceback
from typing import Any
import wave

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image
import pytest

from custom_components.anima.providers.base import (
    MP3,
    AudioFormat,
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ImagePart,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderOutputError,
    ProviderRateLimitError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    ToolCall,
    ToolSpec,
    Usage,
)
from custom_components.anima.providers.openai_compat import SPEECH_FORMAT, OpenAICompatClient
from custom_components.anima.providers.sse import SSEDecoder
from tests.fakes.openai_server import (
    LLAMA_OUTPUT_ERROR,
    FakeOpenAIServer,
    ModelsReply,
    Reply,
    tone,
)
from tests.fakes.speech_formats import encode
from tests.fakes.wyoming_servers import closed_port

MODEL = "gpt-4.1-mini"
HELLO = ChatRequest(MODEL, (ChatMessage("user", "Hello"),))


async def collect(client: OpenAICompatClient, request: ChatRequest = HELLO) -> list[ChatDelta]:
    return [delta async for delta in client.stream_chat(request)]


async def stream_until_error(client: OpenAICompatClient) -> tuple[str, ProviderError]:
    """Return the text said before the stream failed, and the error."""
    said: list[str] = []
    try:
        async for delta in client.stream_chat(HELLO):
            said.append(delta.text)
    except ProviderError as err:
        return "".join(said), err
    raise AssertionError("the stream did not fail")


def text_of(deltas: list[ChatDelta]) -> list[str]:
    return [delta.text for delta in deltas if delta.text]


def image(width: int, height: int, kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 20)).save(buffer, kind)
    return buffer.getvalue()


# --- model list ---------------------------------------------------------------------------


async def test_models_are_listed_sorted_with_the_key_sent(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    openai_server.models = ["qwen-plus", "gpt-4.1-mini", "whisper-1"]
    client = OpenAICompatClient(session, openai_server.base_url + "/", openai_server.api_key)
    assert await client.list_models() == ["gpt-4.1-mini", "qwen-plus", "whisper-1"]
    assert openai_server.requests[-1].path == "/v1/models"
    assert openai_server.requests[-1].authorization == f"Bearer {openai_server.api_key}"


@pytest.mark.parametrize("api_key", [None, ""])
async def test_a_local_service_is_used_without_a_key(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession, api_key: str | None
) -> None:
    openai_server.api_key = None
    client = OpenAICompatClient(session, openai_server.base_url, api_key)
    assert "gpt-4.1-mini" in await client.list_models()
    assert not openai_server.requests[-1].has_auth


async def test_a_wrong_or_missing_key_is_an_auth_error(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    for key in ("sk-wrong-key-123456", None):
        client = OpenAICompatClient(session, openai_server.base_url, key)
        with pytest.raises(ProviderAuthError):
            await client.list_models()


@pytest.mark.parametrize("models_reply", ["html", "not_openai_json"])
async def test_a_service_that_is_not_openai_compatible_is_a_response_error(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer, models_reply: ModelsReply
) -> None:
    openai_server.models_reply = models_reply
    with pytest.raises(ProviderResponseError):
        await client.list_models()


async def test_a_base_url_without_the_api_path_is_not_openai_compatible(
    openai_server: FakeOpenAIServer,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The most common mistake: the address of the server, not of its API (no /v1): HTTP 404.
    base_url = openai_server.base_url.removesuffix("/v1")
    client = OpenAICompatClient(session, base_url, openai_server.api_key)
    with pytest.raises(ProviderResponseError, match="Not an OpenAI-compatible API: HTTP 404"):
        await client.list_models()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"{base_url}/models is not an OpenAI-compatible API" in warnings[0].getMessage()
    assert str(openai_server.api_key) not in caplog.text


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderResponseError),  # no model list here: not the API's address
        (429, ProviderRateLimitError),
        (500, ProviderServerError),
        (503, ProviderServerError),
    ],
)
async def test_http_statuses_map_to_errors(
    client: OpenAICompatClient,
    openai_server: FakeOpenAIServer,
    status: int,
    error: type[ProviderError],
) -> None:
    openai_server.models_reply = status
    with pytest.raises(error) as raised:
        await client.list_models()
    if isinstance(raised.value, ProviderServerError):
        assert raised.value.status == status
    if isinstance(raised.value, ProviderRateLimitError):
        assert raised.value.retry_after == 1.0


async def test_an_unreachable_service_is_a_connection_error(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    client = OpenAICompatClient(session, f"http://127.0.0.1:{closed_port()}/v1", "sk-x")
    with pytest.raises(ProviderConnectionError):
        await client.list_models()


async def test_a_slow_service_times_out(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    openai_server.response_delay = 2.0
    client = OpenAICompatClient(session, openai_server.base_url, openai_server.api_key, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        await client.list_models()
    assert time.monotonic() - started < 1.5


# --- chat ---------------------------------------------------------------------------------


async def test_text_streams_as_it_is_generated_and_ends_with_the_usage(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.text("One two three four", usage=(12, 5), chunk_delay=0.15))
    arrivals: list[tuple[float, ChatDelta]] = []
    async for delta in client.stream_chat(HELLO):
        arrivals.append((time.monotonic(), delta))
    deltas = [delta for _, delta in arrivals]

    assert text_of(deltas) == ["One", " two", " three", " four"]
    first_text = next(at for at, delta in arrivals if delta.text)
    assert arrivals[-1][0] - first_text > 0.5  # the first words came long before the end
    assert deltas[-1] == ChatDelta(
        usage=Usage(input_tokens=12, output_tokens=5), finish_reason="stop"
    )
    sent = openai_server.requests[-1].json
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": "user", "content": "Hello"}]


async def test_cached_prompt_tokens_are_read_from_the_usage(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(replace(Reply.text("Hi", usage=(2048, 3)), cached_tokens=1920))
    deltas = [delta async for delta in client.stream_chat(HELLO)]
    assert deltas[-1].usage == Usage(input_tokens=2048, output_tokens=3, cached_input_tokens=1920)


async def test_tool_call_fragments_become_one_call_with_parsed_arguments(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    arguments = {"question": "What is on the kitchen table?", "camera": "camera.kitchen"}
    reply = Reply.tool_call("anima__look", arguments, text="Let me look.")
    openai_server.reply(reply)
    deltas = await collect(client)

    assert "".join(text_of(deltas)) == "Let me look."
    calls = [call for delta in deltas for call in delta.tool_calls]
    assert calls == [ToolCall(reply.calls[0].id, "anima__look", arguments)]
    assert deltas[-1].finish_reason == "tool_calls"


async def test_parallel_tool_calls_keep_their_order(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(
        Reply.tool_calls(
            [("light_on", {"area": "kitchen"}), ("light_off", {"area": "hall", "fade": 2})]
        )
    )
    deltas = await collect(client)
    calls = [call for delta in deltas for call in delta.tool_calls]
    assert [(call.name, call.arguments) for call in calls] == [
        ("light_on", {"area": "kitchen"}),
        ("light_off", {"area": "hall", "fade": 2}),
    ]
    assert len({call.id for call in calls}) == 2


async def test_the_request_is_sent_in_openai_format(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    look = ToolCall("call_1", "anima__look", {"question": "who is there?"})
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    tool = ToolSpec("anima__look", "Look through a camera.", {"type": "object"})
    request = ChatRequest(
        MODEL,
        (
            ChatMessage("system", "You are a house."),
            ChatMessage("user", "Who is at the door?"),
            ChatMessage("assistant", tool_calls=(look,)),
            ChatMessage("tool", '{"seen": "a courier"}', tool_call_id="call_1"),
        ),
        tools=(tool,),
        temperature=0.2,
        max_tokens=300,
        json_schema=schema,
    )
    await collect(client, request)
    sent = openai_server.requests[-1].json
    assert sent["model"] == MODEL
    assert sent["messages"] == [
        {"role": "system", "content": "You are a house."},
        {"role": "user", "content": "Who is at the door?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "anima__look",
                        "arguments": '{"question": "who is there?"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"seen": "a courier"}'},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "anima__look",
                "description": "Look through a camera.",
                "parameters": {"type": "object"},
            },
        }
    ]
    assert (sent["temperature"], sent["max_tokens"]) == (0.2, 300)
    strict = schema | {"additionalProperties": False}
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "result", "schema": strict, "strict": True},
    }

    await collect(client)  # nothing optional set: nothing optional sent
    assert not {"tools", "temperature", "max_tokens", "response_format"} & set(
        openai_server.requests[-1].json
    )


async def test_images_are_sent_as_data_urls_and_counted(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    png, jpeg = image(640, 480, "PNG"), image(320, 240, "JPEG")
    request = ChatRequest(
        MODEL,
        (
            ChatMessage(
                "user",
                "What is on the table?",
                images=(ImagePart(png, "image/png", "low"), ImagePart(jpeg, "image/jpeg", "high")),
            ),
        ),
    )
    deltas = await collect(client, request)

    received = openai_server.requests[-1]
    assert [(i.mime_type, i.detail, i.width, i.height, i.size) for i in received.images] == [
        ("image/png", "low", 640, 480, len(png)),
        ("image/jpeg", "high", 320, 240, len(jpeg)),
    ]
    assert received.json["messages"][0]["content"][0] == {
        "type": "text",
        "text": "What is on the table?",
    }
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.images == 2


async def test_rate_limit_exposes_retry_after(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.rate_limited(retry_after=2), Reply.rate_limited(retry_after=None))
    with pytest.raises(ProviderRateLimitError) as raised:
        await collect(client)
    assert raised.value.retry_after == 2.0
    with pytest.raises(ProviderRateLimitError) as raised:
        await collect(client)
    assert raised.value.retry_after is None


async def test_server_errors_carry_their_status(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.error(503))
    with pytest.raises(ProviderServerError) as raised:
        await collect(client)
    assert raised.value.status == 503


async def test_a_refused_request_carries_the_providers_reason(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.error(400, "This model's maximum context length is 128000 tokens."))
    with pytest.raises(ProviderRequestError, match="maximum context length") as raised:
        await collect(client)
    assert raised.value.status == 400


async def test_a_slow_first_token_times_out(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    client = OpenAICompatClient(
        session, openai_server.base_url, openai_server.api_key, first_token_timeout=0.3
    )
    openai_server.reply(Reply.text("Finally.", first_token_delay=3.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        await collect(client)
    assert time.monotonic() - started < 2.0


async def test_first_token_timeout_does_not_cut_a_slow_but_steady_answer(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    client = OpenAICompatClient(
        session, openai_server.base_url, openai_server.api_key, first_token_timeout=0.1
    )
    openai_server.reply(Reply.text("Slow but steady", chunk_delay=0.2))
    assert "".join(text_of(await collect(client))) == "Slow but steady"


async def test_a_stream_may_last_longer_than_the_check_timeout(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    # `timeout` bounds checks such as the model list, never an answer that keeps coming.
    client = OpenAICompatClient(session, openai_server.base_url, openai_server.api_key, timeout=0.5)
    answer = "This answer takes longer than the check may"
    openai_server.reply(Reply.text(answer, first_token_delay=0.6, chunk_delay=0.15))
    assert "".join(text_of(await collect(client))) == answer


async def test_a_silent_socket_is_given_up_as_dead(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    client = OpenAICompatClient(
        session, openai_server.base_url, openai_server.api_key, idle_timeout=0.5
    )
    steady, stalled = (
        Reply.text("Slow but steady", chunk_delay=0.3),
        Reply.text("Gone", chunk_delay=5),
    )
    openai_server.reply(steady, stalled)
    assert "".join(text_of(await collect(client))) == "Slow but steady"  # 0.9 s, bytes flowing
    said, error = await stream_until_error(client)  # silent for 5 s after its first chunk
    assert isinstance(error, ProviderTimeoutError)
    assert said == ""


async def test_a_line_that_is_not_json_is_a_response_error(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.malformed(after_chunks=2))
    said, error = await stream_until_error(client)
    assert isinstance(error, ProviderResponseError)
    assert said == "This"


async def test_a_stream_cut_off_mid_answer_is_a_connection_error(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.disconnect(after_chunks=3, text="Hello there, I was saying"))
    said, error = await stream_until_error(client)
    assert isinstance(error, ProviderConnectionError)
    assert said == "Hello there,"  # what was said before the cut still arrived


# --- streams of other OpenAI-compatible servers -----------------------------------------------


@contextlib.asynccontextmanager
async def raw_stream(body: bytes) -> AsyncIterator[str]:
    """Serve `body` as the event stream of every chat completion; yield the base URL."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/v1"))
    finally:
        await server.close()


def event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


CONTENT = event('{"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}')
FINISH = event('{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}')


async def test_comments_and_a_missing_done_line_are_tolerated(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    # OpenRouter sends comment lines while it waits; some servers end without `data: [DONE]`.
    body = b": OPENROUTER PROCESSING\n\n" + CONTENT + FINISH
    async with raw_stream(body) as base_url:
        deltas = await collect(OpenAICompatClient(session, base_url, None))
    assert text_of(deltas) == ["Hi"]
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage == Usage()  # the server reported no usage


async def test_deepseeks_cache_hits_are_read_as_cached_tokens(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    usage = '{"prompt_tokens": 900, "completion_tokens": 4, "prompt_cache_hit_tokens": 768,'
    usage += ' "prompt_cache_miss_tokens": 132, "total_tokens": 904}'
    body = CONTENT + FINISH + event(f'{{"choices": [], "usage": {usage}}}') + event("[DONE]")
    async with raw_stream(body) as base_url:
        deltas = await collect(OpenAICompatClient(session, base_url, None))
    assert deltas[-1].usage == Usage(input_tokens=900, output_tokens=4, cached_input_tokens=768)


async def test_a_stream_that_ends_unfinished_is_a_connection_error(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    async with raw_stream(CONTENT) as base_url:
        with pytest.raises(ProviderConnectionError):
            await collect(OpenAICompatClient(session, base_url, None))


async def test_an_error_event_mid_stream_is_an_output_error(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    # llama-server ends the stream so when it cannot parse the tool call the model wrote: the
    # model failed, not the connection or the service.
    openai_server.reply(Reply.error_event(after_chunks=2))
    said, error = await stream_until_error(client)
    assert isinstance(error, ProviderOutputError)
    assert not isinstance(error, ProviderConnectionError | ProviderServerError)
    assert LLAMA_OUTPUT_ERROR in str(error)
    assert said == "This"


async def test_tool_arguments_that_are_not_json_are_an_output_error(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    call = '{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{oops"}}'
    body = event(f'{{"choices": [{{"index": 0, "delta": {{"tool_calls": [{call}]}}}}]}}') + FINISH
    async with raw_stream(body) as base_url:
        with pytest.raises(ProviderOutputError):  # the model wrote them
            await collect(OpenAICompatClient(session, base_url, None))


def test_sse_events_are_decoded_across_any_chunking() -> None:
    stream = (
        ": keep-alive\r\n\r\n"
        'event: message\r\nid: 1\r\ndata: {"a": "é"}\r\n\r\n'
        "data:first\ndata: second\n\n"
        "retry: 100\n\n"
        "data: [DONE]"  # no blank line before the end
    ).encode()
    expected = ['{"a": "é"}', "first\nsecond", "[DONE]"]
    for size in (1, 2, 7, len(stream)):
        decoder = SSEDecoder()
        events: list[str] = []
        for start in range(0, len(stream), size):
            events += decoder.feed(stream[start : start + size])
        events += decoder.close()
        assert events == expected, size


@contextlib.asynccontextmanager
async def hangs_up(times: int) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve chat and transcription, but close the connection unanswered the first `times`
    requests (as a server closes a kept-alive connection); yield the base URL and the paths
    each request asked for."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        await request.read()
        if len(seen) <= times:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if request.path.endswith("/transcriptions"):
            return web.json_response({"text": "Heard you."})
        return web.Response(body=CONTENT + FINISH, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/v1")), seen
    finally:
        await server.close()


async def test_a_connection_closed_before_the_answer_is_tried_once_more(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    async def silence() -> AsyncIterator[bytes]:
        yield bytes(3200)

    async with hangs_up(times=1) as (base_url, seen):
        assert text_of(await collect(OpenAICompatClient(session, base_url, None))) == ["Hi"]
    assert len(seen) == 2
    async with hangs_up(times=1) as (base_url, seen):
        client = OpenAICompatClient(session, base_url, None)
        assert (await client.transcribe(silence(), AudioFormat())).text == "Heard you."
    assert len(seen) == 2  # the same upload, sent again
    async with hangs_up(times=5) as (base_url, seen):
        with pytest.raises(ProviderConnectionError):
            await collect(OpenAICompatClient(session, base_url, None))
    assert len(seen) == 2  # once more only


# --- speech -------------------------------------------------------------------------------


async def test_transcription_uploads_a_wav_of_the_audio(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    pcm = tone(1.5, rate=16000)

    async def microphone() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), 3200):
            yield pcm[start : start + 3200]

    openai_server.reply(Reply.text("Turn off the hallway light."), endpoint="transcriptions")
    transcript = await client.transcribe(microphone(), AudioFormat(16000, 2, 1), language="de-DE")

    assert transcript.text == "Turn off the hallway light."
    assert transcript.usage.audio_seconds == pytest.approx(1.5)
    upload = openai_server.requests[-1]
    assert upload.path == "/v1/audio/transcriptions"
    assert upload.form == {"model": "whisper-1", "language": "de", "response_format": "json"}
    with wave.open(io.BytesIO(upload.files["file"])) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        assert wav.readframes(wav.getnframes()) == pcm


async def test_speech_streams_whole_samples_of_24khz_pcm(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    pcm = tone(0.5)
    openai_server.reply(Reply.audio(pcm, chunk_size=999, chunk_delay=0.01), endpoint="speech")
    chunks = [chunk async for chunk in client.synthesize("Good morning", voice="nova")]

    assert len(chunks) > 1  # streamed, not buffered
    assert all(len(chunk.audio) % 2 == 0 for chunk in chunks)
    assert {chunk.format for chunk in chunks} == {SPEECH_FORMAT} == {AudioFormat(24000, 2, 1)}
    assert b"".join(chunk.audio for chunk in chunks) == pcm
    assert openai_server.requests[-1].json == {
        "model": "tts-1",
        "input": "Good morning",
        "voice": "nova",
        "response_format": "pcm",
    }


async def test_speech_in_mp3_streams_whole_frames_as_the_service_encoded_them(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    """What a browser plays, passed on untouched: asked for, cut at frames, timed by them."""
    pcm = tone(1.0)
    openai_server.reply(Reply.audio(pcm, chunk_size=777, chunk_delay=0.005), endpoint="speech")
    chunks = [c async for c in client.synthesize("Good morning", voice="nova", codec=MP3)]

    assert openai_server.requests[-1].json["response_format"] == "mp3"
    assert len(chunks) > 1
    assert {chunk.format for chunk in chunks} == {AudioFormat(24000, 2, 1, MP3)}
    encoded = await encode(pcm, "mp3", 24000)
    assert encoded.endswith(b"".join(chunk.audio for chunk in chunks))
    assert 1.0 <= sum(chunk.seconds for chunk in chunks) <= 1.2


async def _mp3_speech_of(session: aiohttp.ClientSession, body: bytes, content_type: str) -> None:
    """Ask for MP3 speech from a service that answers `body`, whatever was asked."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_post("/v1/audio/speech", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        liar = OpenAICompatClient(session, str(server.make_url("/v1")), None)
        async for _ in liar.synthesize("Hi", codec=MP3):
            pass
    finally:
        await server.close()


async def test_speech_that_is_not_the_mp3_asked_for_is_a_bad_answer(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ProviderResponseError, match="not MP3"):
        await _mp3_speech_of(session, tone(0.2), "audio/pcm")


async def test_speech_of_an_id3_tag_and_no_frame_is_no_audio(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 20]) + b"T" * 20
    with pytest.raises(ProviderResponseError, match="no audio"):
        await _mp3_speech_of(session, tag, "audio/mpeg")


async def test_speech_and_transcription_errors_map_like_chat(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    async def silence() -> AsyncIterator[bytes]:
        yield bytes(3200)

    openai_server.reply(Reply.error(503), endpoint="speech")
    openai_server.reply(Reply.rate_limited(retry_after=5), endpoint="transcriptions")
    with pytest.raises(ProviderServerError):
        async for _ in client.synthesize("Hi"):
            pass
    with pytest.raises(ProviderRateLimitError) as raised:
        await client.transcribe(silence(), AudioFormat())
    assert raised.value.retry_after == 5.0


# --- secrets ------------------------------------------------------------------------------

SECRET = "sk-live-THE-SECRET-KEY-42"


async def _speech(client: OpenAICompatClient) -> None:
    async for _ in client.synthesize("Hi"):
        pass


@pytest.mark.parametrize(
    ("script", "call"),
    [
        pytest.param(
            lambda server: setattr(server, "api_key", "sk-other"),
            OpenAICompatClient.list_models,
            id="rejected_key",  # OpenAI names the key it rejects, masked
        ),
        pytest.param(
            lambda server: server.reply(Reply.error(400, f"Key {SECRET} has no access")),
            collect,
            id="key_echoed_in_4xx",
        ),
        pytest.param(
            lambda server: server.reply(Reply.error(502, f"upstream saw {SECRET}")),
            collect,
            id="key_echoed_in_5xx",
        ),
        pytest.param(
            lambda server: server.reply(Reply.rate_limited(), endpoint="speech"),
            _speech,
            id="rate_limited_speech",
        ),
        pytest.param(lambda server: server.reply(Reply.malformed()), collect, id="malformed"),
        pytest.param(lambda server: server.reply(Reply.disconnect()), collect, id="disconnect"),
        pytest.param(
            lambda server: setattr(server, "response_delay", 2.0),
            OpenAICompatClient.list_models,
            id="timeout",
        ),
    ],
)
async def test_the_api_key_never_appears_in_errors(
    openai_server: FakeOpenAIServer,
    session: aiohttp.ClientSession,
    script: Callable[[FakeOpenAIServer], Any],
    call: Callable[[OpenAICompatClient], Awaitable[Any]],
) -> None:
    openai_server.api_key = SECRET
    script(openai_server)
    client = OpenAICompatClient(session, openai_server.base_url, SECRET, timeout=0.5)
    with pytest.raises(ProviderError) as raised:
        await call(client)
    logged = "".join(traceback.format_exception(raised.value))
    for text in (str(raised.value), repr(raised.value), logged):
        assert SECRET not in text


async def test_the_api_key_never_appears_in_connection_errors(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    client = OpenAICompatClient(session, f"http://127.0.0.1:{closed_port()}/v1", SECRET)
    with pytest.raises(ProviderConnectionError) as raised:
        await collect(client)
    assert SECRET not in "".join(traceback.format_exception(raised.value)) + repr(raised.value)
