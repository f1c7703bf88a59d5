"""Speaking streamed text sentence by sentence, with fallbacks and one output format."""

from __future__ import annotations

from collections.abc import AsyncIterator

from custom_components.anima.core.speech.earcons import Earcon, earcon_pcm
from custom_components.anima.core.speech.shaping import ShapeOptions
from custom_components.anima.core.speech.stream import (
    EARCON_FORMAT,
    MAX_SPOKEN_CHARACTERS,
    Sentence,
    earcon_chunk,
    sentences,
    speak_pcm,
    wav_stream,
)
from custom_components.anima.providers.base import (
    AudioChunk,
    AudioFormat,
    ProviderConnectionError,
    ProviderServerError,
)

FORMAT = AudioFormat(rate=16000)


async def _pieces(*pieces: str) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece


async def _audio(*chunks: bytes, fail: bool = False) -> AsyncIterator[AudioChunk]:
    for chunk in chunks:
        yield AudioChunk(chunk, FORMAT)
    if fail:
        raise ProviderConnectionError("dropped")


class Voice:
    """Says each sentence as its length in samples; scripted failures by sentence number."""

    def __init__(self, fail_at: int | None = None, break_at: int | None = None) -> None:
        self.said: list[str] = []
        self.fail_at, self.break_at = fail_at, break_at

    async def __call__(self, spoken: Sentence) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
        sentence = spoken.text
        number = len(self.said)
        self.said.append(sentence)
        if number == self.fail_at:
            raise ProviderServerError("all failed", 500)
        rest = _audio(b"\1\0" * 10, fail=number == self.break_at)
        return AudioChunk(b"\0\0" * len(sentence), FORMAT), rest


async def test_sentences_come_out_as_soon_as_complete_and_speakable() -> None:
    text = _pieces("**Hello** there. ", "The light is ", "on 🙂. And the", " door is 50% open")
    said = [s async for s in sentences(text, ShapeOptions())]
    assert [s.text for s in said] == [
        "Hello there.",
        "The light is on.",
        "And the door is 50 percent open",
    ]
    # What shaping removed from each release: the detector already dropped the "**"; the emoji
    # and its space go; "percent" is longer than "%".
    assert [s.characters_saved for s in said] == [0, 2, -7]


async def test_each_sentence_is_spoken_in_order() -> None:
    voice = Voice()
    audio = [chunk async for chunk in speak_pcm(_pieces("One. Two two."), voice, ShapeOptions())]
    assert voice.said == ["One.", "Two two."]
    assert (
        sum(len(chunk.audio) for chunk in audio) == 2 * len("One.") + 20 + 2 * len("Two two.") + 20
    )


async def test_no_provider_at_all_plays_the_error_earcon_instead_of_silence() -> None:
    voice = Voice(fail_at=0)
    audio = [chunk async for chunk in speak_pcm(_pieces("One. Two."), voice, ShapeOptions())]
    assert audio == [AudioChunk(earcon_pcm(Earcon.ERROR), EARCON_FORMAT)]
    assert voice.said == ["One."]  # it stops: the rest would fail the same way


async def test_a_sentence_breaking_off_does_not_end_the_answer() -> None:
    voice = Voice(break_at=0)
    audio = [chunk async for chunk in speak_pcm(_pieces("One. Two."), voice, ShapeOptions())]
    assert voice.said == ["One.", "Two."]
    assert len(audio) == 4  # first chunk and rest of each; the broken rest still gave its audio


async def test_empty_text_is_still_a_valid_wav_stream() -> None:
    audio = speak_pcm(_pieces("", "  "), Voice(), ShapeOptions())
    chunks = [chunk async for chunk in wav_stream(audio)]
    assert len(chunks) == 1
    assert chunks[0][:4] == b"RIFF"


async def test_a_lead_earcon_plays_first_and_sets_the_format() -> None:
    lead = earcon_chunk("notify")
    audio = [c async for c in speak_pcm(_pieces("One."), Voice(), ShapeOptions(), lead=lead)]
    assert audio[0] == lead
    assert {chunk.format for chunk in audio} == {EARCON_FORMAT}  # the voice's 16 kHz converted


async def test_a_long_first_sentence_starts_with_its_first_clause() -> None:
    words = (
        "I see the kitchen counter with a cutting board, some vegetables and a pot. Nothing else."
    )
    said = [
        s.text async for s in sentences(_pieces(*(w + " " for w in words.split())), ShapeOptions())
    ]
    assert said == [
        "I see the kitchen counter with a cutting board,",
        "some vegetables and a pot.",
        "Nothing else.",
    ]
    short = "Yes, it is. The door is open."
    said = [
        s.text async for s in sentences(_pieces(*(w + " " for w in short.split())), ShapeOptions())
    ]
    assert said == ["Yes, it is.", "The door is open."]  # short: whole sentences only


async def test_a_message_speaks_at_most_its_character_cap() -> None:
    """Four megabytes without a sentence end: what is spoken stops at the cap."""

    async def endless() -> AsyncIterator[str]:
        for _ in range(4000):
            yield "and then " * 111

    spoken = [sentence.text async for sentence in sentences(endless(), ShapeOptions())]
    assert 0 < sum(len(text) for text in spoken) <= MAX_SPOKEN_CHARACTERS
