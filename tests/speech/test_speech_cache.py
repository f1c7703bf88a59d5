"""The speech cache: sentences kept whole, bounded in bytes, least recently used dropped first."""

from __future__ import annotations

from collections.abc import AsyncIterator

from custom_components.anima.core.profiles import Link
from custom_components.anima.providers.base import AudioChunk, AudioFormat
from custom_components.anima.runtime.speech_cache import SpeechCache, SpokenSentence, replay

VOICE = (Link("cloud", "tts-1", "nova"),)
PCM = AudioFormat(24000)


def _chunk(size: int) -> AudioChunk:
    return AudioChunk(b"\1" * size, PCM)


def _spoken(chunks: tuple[AudioChunk, ...]) -> SpokenSentence:
    return SpokenSentence(chunks, "cloud", "tts-1", "nova", 28)


async def _play(cache: SpeechCache, text: str, sizes: list[int]) -> list[AudioChunk]:
    """Speak a sentence of chunks of `sizes` through the cache; the chunks that played."""
    first, *rest = (_chunk(size) for size in sizes)
    key = cache.key(VOICE, None, "en", text)
    return [first, *[chunk async for chunk in cache.keeping(key, first, replay(rest), _spoken)]]


async def test_a_sentence_spoken_to_its_end_is_kept_and_replayed() -> None:
    cache = SpeechCache()
    played = await _play(cache, "Turned on the light.", [4800, 4800, 960])
    kept = cache.get(cache.key(VOICE, None, "EN", "Turned  on the light."))  # same words
    assert kept is not None
    assert kept.chunks == tuple(played)
    assert kept.seconds == 10560 / 48000  # 16-bit samples at 24 kHz
    assert [chunk async for chunk in replay(kept.chunks)] == played
    # Another voice, language or text is another sentence.
    assert cache.get(cache.key(VOICE, "alloy", "en", "Turned on the light.")) is None
    assert cache.get(cache.key((Link("piper"),), None, "en", "Turned on the light.")) is None
    assert cache.get(cache.key(VOICE, None, "de", "Turned on the light.")) is None


async def test_a_sentence_cut_short_is_not_kept() -> None:
    cache = SpeechCache()
    key = cache.key(VOICE, None, "en", "The door is open.")

    async def broken() -> AsyncIterator[AudioChunk]:
        yield _chunk(100)
        raise ConnectionResetError

    audio = cache.keeping(key, _chunk(100), broken(), _spoken)
    try:
        async for _ in audio:
            pass
    except ConnectionResetError:
        pass
    assert cache.get(key) is None
    # Nor one the listener stopped.
    audio = cache.keeping(key, _chunk(100), replay([_chunk(100), _chunk(100)]), _spoken)
    await anext(audio)
    await audio.aclose()
    assert cache.get(key) is None


async def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = SpeechCache(max_bytes=10_000, max_entry_bytes=4_000)
    for text in ("one", "two", "three"):
        await _play(cache, text, [3000])
    assert (cache.size, cache.sentences) == (9000, 3)
    assert cache.get(cache.key(VOICE, None, "en", "one")) is not None  # used: kept longest
    await _play(cache, "four", [3000])
    assert cache.size <= 10_000
    assert cache.get(cache.key(VOICE, None, "en", "two")) is None  # the least recently used
    assert cache.get(cache.key(VOICE, None, "en", "one")) is not None
    await _play(cache, "a long story", [5000])  # above the bound of one sentence
    assert cache.get(cache.key(VOICE, None, "en", "a long story")) is None
