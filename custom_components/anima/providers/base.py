"""Typed interfaces every provider implements, free of Home Assistant imports.

A provider is one network service reached over one wire protocol (OpenAI-compatible HTTP or
Wyoming). Routing, the ledger and the entity platforms only ever see these types.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal, Protocol


class Capability(StrEnum):
    """What a provider connection can do."""

    CHAT = "chat"
    VISION = "vision"
    STT = "stt"
    TTS = "tts"
    WAKE = "wake"


# --- errors -------------------------------------------------------------------------------
# Each error carries a translation key (see strings.json "exceptions" and "config.error") so
# the user reads a specific message. Messages never include request headers or API keys.


class ProviderError(Exception):
    """A provider call failed."""

    translation_key = "provider_error"


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials (HTTP 401/403)."""

    translation_key = "invalid_auth"


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""

    translation_key = "cannot_connect"


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time."""

    translation_key = "timeout"


class ProviderRateLimitError(ProviderError):
    """The provider asked us to slow down (HTTP 429)."""

    translation_key = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: Seconds the provider asked us to wait, from its Retry-After header.
        self.retry_after = retry_after


class ProviderServerError(ProviderError):
    """The provider failed on its side (HTTP 5xx)."""

    translation_key = "server_error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ProviderResponseError(ProviderError):
    """The provider answered with something that is not its documented protocol."""

    translation_key = "malformed_response"


class ProviderOutputError(ProviderError):
    """The model's own output failed the call, not the connection or the service.

    The server could not parse the tool call the model wrote, or its tool-call arguments are no
    JSON object: no reason to distrust the provider; the same request may well succeed again.
    """

    translation_key = "model_failed"


class ProviderRequestError(ProviderError):
    """The provider refused the request itself (HTTP 400/404/413/422): trying again won't help."""

    translation_key = "bad_request"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ProviderContextError(ProviderRequestError):
    """The request is longer than the model's context: with less history it may well fit."""

    translation_key = "context_exceeded"


# --- usage --------------------------------------------------------------------------------


@dataclass(slots=True)
class Usage:
    """What one provider call consumed; the ledger prices it."""

    input_tokens: int = 0
    output_tokens: int = 0
    #: Of `input_tokens`, those the provider read from its prompt cache (billed cheaper).
    cached_input_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0


# --- chat ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An encoded image sent with a message."""

    data: bytes
    mime_type: str = "image/jpeg"
    #: OpenAI's detail hint: "low", "high" or "auto".
    detail: Literal["low", "high", "auto"] = "auto"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call; `parameters` is a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call the model made."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: tuple[ImagePart, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    #: For role "tool": the call this message answers.
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One streamed chat completion request."""

    model: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    #: A JSON schema the answer must follow (structured output), if any.
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A piece of a streamed answer: text, finished tool calls, or the final usage.

    An empty one says the answer has begun without text yet (a tool call being written).
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    finish_reason: str | None = None


class ChatModel(Protocol):
    """Streams chat completions with tools and images."""

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        """Stream the answer; raises ProviderError subclasses."""
        ...


# --- audio --------------------------------------------------------------------------------


#: Audio codecs: raw PCM, and MP3 (what a browser plays; an OpenAI-compatible voice speaks it).
PCM: Final = "pcm"
MP3: Final = "mp3"


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Raw PCM layout, or (`codec` MP3) the rate and channels of encoded audio."""

    rate: int = 16000
    width: int = 2
    channels: int = 1
    codec: str = PCM

    def seconds(self, byte_count: int) -> float:
        """Duration of `byte_count` bytes of PCM in this layout."""
        return byte_count / (self.rate * self.width * self.channels)


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of audio: PCM, or whole frames of encoded audio lasting `encoded_seconds`."""

    audio: bytes
    format: AudioFormat
    encoded_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        """How long the chunk plays."""
        if self.format.codec == PCM:
            return self.format.seconds(len(self.audio))
        return self.encoded_seconds


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a transcriber heard."""

    text: str
    usage: Usage = field(default_factory=Usage)


class Transcriber(Protocol):
    """Turns speech into text."""

    async def transcribe(
        self,
        audio: AsyncIterable[bytes],
        audio_format: AudioFormat,
        *,
        model: str | None = None,
        language: str | None = None,
    ) -> Transcript:
        """Transcribe PCM audio of `audio_format`; raises ProviderError subclasses."""
        ...


class Synthesizer(Protocol):
    """Turns text into speech."""

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        model: str | None = None,
        language: str | None = None,
        codec: str = PCM,
    ) -> AsyncIterator[AudioChunk]:
        """Stream audio for `text` in `codec` if the provider speaks it, else PCM.

        Raises ProviderError subclasses.
        """
        ...
