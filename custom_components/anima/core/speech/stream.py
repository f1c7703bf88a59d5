"""Speak streamed text: cut it into sentences and synthesize each as soon as it is complete.

Pure domain logic. The LLM's text arrives in small pieces; `sentence-stream` (the detector Home
Assistant's own TTS integrations use) says when a sentence is complete, each sentence is shaped
to be speakable and handed to `synthesize`, and the audio comes out in the format the listener
asked for (`Output`: PCM resampled as it streams, to the listener's rate, or MP3 as the voice
speaks it), so Home Assistant need not convert it. So the first sentence is heard while the
model still writes the rest.

Never silence: when no provider can speak a sentence, the error earcon plays instead and the
stream ends; a provider that breaks mid-sentence cuts only that sentence short.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
import logging
import re
from typing import Final

from sentence_stream import SentenceBoundaryDetector

from ...providers.audio import PcmConverter, convert, wav_stream_header
from ...providers.base import PCM, AudioChunk, AudioFormat, ProviderError
from .earcons import SAMPLE_RATE, Earcon, earcon_pcm
from .sentences import split_sentences
from .shaping import ShapeOptions, shape

_LOGGER = logging.getLogger(__name__)
EARCON_FORMAT = AudioFormat(rate=SAMPLE_RATE)


def earcon_chunk(name: str) -> AudioChunk:
    """Return a named earcon as one chunk of audio."""
    return AudioChunk(earcon_pcm(name), EARCON_FORMAT)


#: Opens the audio of one sentence: its first chunk and an iterator of the rest.
type SentenceSynthesizer = Callable[
    [Sentence], Awaitable[tuple[AudioChunk, AsyncIterator[AudioChunk]]]
]


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence to speak, and the characters shaping removed from the text it came from."""

    text: str
    characters_saved: int = 0


async def sentences(text: AsyncIterable[str], options: ShapeOptions) -> AsyncIterator[Sentence]:
    """Yield speakable sentences as soon as the text stream completes each one.

    The detector holds text back until the next sentence starts, so what it releases at the
    end (or for a message that came in one piece) may hold several sentences: they are split
    again, so each still gets its own synthesis (and its own fallback). What shaping saved of a
    release is counted on its first sentence (the ledger counts it per call). A long first
    sentence starts with its first clause (`EARLY_CHARACTERS`).
    """
    detector = SentenceBoundaryDetector()
    limit = options.max_sentences  # terse tiers: a whole message's first sentences only
    pieces = aiter(_bounded(text, MAX_SPOKEN_CHARACTERS))
    clause, rest = await _first_clause(pieces)
    releases = [clause] if clause else []
    spoken = 0

    async def released() -> AsyncIterator[str]:
        for early in releases:
            yield early
        for sentence in detector.add_chunk(rest):  # what followed the clause
            yield sentence
        async for piece in pieces:
            for sentence in detector.add_chunk(piece):
                yield sentence
        yield detector.finish()

    async for release in released():
        for sentence in _speakable(release, options):
            if limit is not None and spoken >= limit:
                return
            spoken += 1
            yield sentence


#: The most text one message speaks, whatever a provider streams (about three minutes of
#: speech): the rest is dropped, so an endless answer can neither run up a per-character bill
#: nor hold the voice.
MAX_SPOKEN_CHARACTERS: Final = 3000


async def _bounded(text: AsyncIterable[str], limit: int) -> AsyncIterator[str]:
    """Yield the pieces of `text` up to `limit` characters in all; log what is dropped."""
    left = limit
    async for piece in text:
        if len(piece) >= left:
            if piece[:left]:
                yield piece[:left]
            _LOGGER.warning("A message to speak was longer than %s characters: cut there", limit)
            return
        left -= len(piece)
        yield piece


#: A long first sentence is spoken from its first clause once this much text waits, as Home
#: Assistant's pipeline starts streaming to the voice after 60 characters: the listener hears
#: the reply begin instead of waiting for the whole first sentence.
EARLY_CHARACTERS: Final = 60
_CLAUSE_END = re.compile(r"[,;:](?=\s)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


async def _first_clause(pieces: AsyncIterator[str]) -> tuple[str, str]:
    """Read the start of the text: (a first clause to speak at once or "", the text after it).

    Reading stops at the first sentence end (a short first sentence: nothing to gain) or once
    `EARLY_CHARACTERS` wait and a clause has ended. Each piece is scanned once (with the
    character before it), so a long text without a sentence end costs linear time.
    """
    waiting, clause_end = "", 0
    async for piece in pieces:
        start = max(len(waiting) - 1, 0)
        waiting += piece
        tail = waiting[start:]
        if _SENTENCE_END.search(tail):
            break
        for match in _CLAUSE_END.finditer(tail):
            clause_end = start + match.end()
        if len(waiting) >= EARLY_CHARACTERS and clause_end:
            return waiting[:clause_end], waiting[clause_end:].lstrip()
    return "", waiting


def _speakable(released: str, options: ShapeOptions) -> list[Sentence]:
    shaped = shape(released, options)
    parts = split_sentences(shaped.text)
    return [
        Sentence(part, shaped.characters_saved if index == 0 else 0)
        for index, part in enumerate(parts)
    ]


@dataclass(frozen=True, slots=True)
class Output:
    """The audio a listener asked for: MP3 (passed on as a voice speaks it) or PCM in a layout.

    For PCM, a layout field left None is the voice's own (the first audio's).
    """

    codec: str = PCM
    rate: int | None = None
    width: int | None = None
    channels: int | None = None

    def pcm_for(self, source: AudioFormat) -> AudioFormat:
        """Return the PCM layout that audio of `source` layout is given in."""
        return AudioFormat(
            self.rate or source.rate, self.width or source.width, self.channels or source.channels
        )


#: PCM in the voice's own layout.
VOICE_OWN: Final = Output()


async def speak_audio(
    text: AsyncIterable[str],
    synthesize: SentenceSynthesizer,
    options: ShapeOptions,
    *,
    lead: AudioChunk | None = None,
    output: Output = VOICE_OWN,
) -> AsyncIterator[AudioChunk]:
    """Yield the audio of each sentence in one format, sentence by sentence.

    The first audio decides the format: MP3 passes on when MP3 was asked for; else PCM in the
    asked layout, resampled as it streams (Wyoming voices, earcons, a fallback provider at
    another rate). Audio that cannot join the stream (PCM in an MP3 stream, say) is dropped
    with its sentence; an MP3 stream that would need the error earcon just ends. `lead` (an
    earcon, say) plays first.
    """
    target: AudioFormat | None = None
    converter: PcmConverter | None = None

    def joined(chunk: AudioChunk) -> AudioChunk | None:
        nonlocal target, converter
        if target is None:
            encoded = chunk.format.codec != PCM and chunk.format.codec == output.codec
            target = chunk.format if encoded else output.pcm_for(chunk.format)
            converter = None if encoded else PcmConverter(target)
        if converter is None:
            return chunk if chunk.format.codec == target.codec else None
        if chunk.format.codec != PCM:
            return None
        return AudioChunk(converter.convert(chunk.audio, chunk.format), target)

    def ended() -> AudioChunk | None:
        tail = converter.flush() if converter is not None and target is not None else b""
        return AudioChunk(tail, target) if tail and target is not None else None

    if lead is not None and (first := joined(lead)) is not None:
        yield first
        if (tail := ended()) is not None:
            yield tail
    async for sentence in sentences(text, options):
        try:
            first_chunk, rest = await synthesize(sentence)
        except ProviderError as err:
            _LOGGER.warning("No provider could speak; playing the error earcon: %s", err)
            if (error := joined(earcon_chunk(Earcon.ERROR))) is not None:
                yield error
                if (tail := ended()) is not None:
                    yield tail
            return
        dropped = False
        try:
            async for chunk in prepended(first_chunk, rest):
                if (audio := joined(chunk)) is not None and not dropped:
                    yield audio
                elif not dropped:  # the rest is read all the same: the provider is paid for it
                    dropped = True
                    _LOGGER.warning("Speech in %s cannot join a %s stream", chunk.format, target)
        except ProviderError as err:
            _LOGGER.warning("Speech broke off mid-sentence; going on with the next: %s", err)
        if (tail := ended()) is not None:
            yield tail


async def played_alone(chunk: AudioChunk, output: Output) -> AsyncIterator[AudioChunk]:
    """Yield one sound (an earcon) in the PCM layout of `output`."""
    target = output.pcm_for(chunk.format)
    yield AudioChunk(convert(chunk.audio, chunk.format, target), target)


async def prepended(
    first: AudioChunk | None, rest: AsyncIterator[AudioChunk]
) -> AsyncIterator[AudioChunk]:
    """Yield `first` (when there is one), then the rest of the stream it was read from."""
    if first is not None:
        yield first
    async for chunk in rest:
        yield chunk


async def wav_stream(audio: AsyncIterable[AudioChunk]) -> AsyncGenerator[bytes]:
    """Yield a streamed WAV file: a header without length, then the PCM of each chunk."""
    header_sent = False
    async for chunk in audio:
        if not header_sent:
            header_sent = True
            yield wav_stream_header(chunk.format)
        yield chunk.audio
    if not header_sent:  # nothing to say: still a valid, empty WAV stream
        yield wav_stream_header(EARCON_FORMAT)
