"""Synthesized speech kept for messages that repeat: "Turned on the kitchen light." twice a day.

A voice speaks each sentence through a provider (speaking.py); for the classes that repeat word
for word (confirmations, notifications, alerts: announcements mostly), the audio of a sentence
spoken to its end is kept here, keyed by the tier's links, the voice asked for, the language and
the sentence. The next time the same sentence is spoken by the same chain it is played from
here: no provider is asked, and the ledger books a cache hit with what it saved.

Bounded: at most `MAX_BYTES` of audio in memory, the least recently used sentence dropped first,
and no sentence above `MAX_ENTRY_BYTES` (a long one will hardly repeat). Answers are never kept:
they rarely repeat, and their words are the user's business. Home Assistant's own TTS cache
already serves a whole repeated message asked for by `tts.speak`; this one also serves the
streamed replies of the assist pipeline, which that cache skips.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN
from ..core.profiles import Link
from ..core.speech.tiers import MessageClass
from ..providers.base import AudioChunk

MAX_BYTES: Final = 8 * 1024 * 1024  # about three minutes of 24 kHz speech
MAX_ENTRY_BYTES: Final = MAX_BYTES // 16
#: The message classes whose sentences are kept.
CACHED_CLASSES: Final = frozenset(
    {MessageClass.CONFIRMATION, MessageClass.NOTIFICATION, MessageClass.ALERT}
)
_DATA: HassKey[SpeechCache] = HassKey(f"{DOMAIN}_speech_cache")

type CacheKey = tuple[tuple[Link, ...], str | None, str, str]


@dataclass(frozen=True, slots=True)
class SpokenSentence:
    """One sentence's audio and what speaking it used, as the ledger books it."""

    chunks: tuple[AudioChunk, ...]
    provider: str
    model: str | None
    voice: str | None
    characters: int

    @property
    def size(self) -> int:
        """Bytes of audio held."""
        return sum(len(chunk.audio) for chunk in self.chunks)

    @property
    def seconds(self) -> float:
        """Seconds of speech."""
        return sum(chunk.format.seconds(len(chunk.audio)) for chunk in self.chunks)


class SpeechCache:
    """The sentences kept, least recently used first."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        """Hold at most `max_bytes` of audio, no sentence above `max_entry_bytes`."""
        self.max_bytes, self.max_entry_bytes = max_bytes, max_entry_bytes
        self._entries: OrderedDict[CacheKey, SpokenSentence] = OrderedDict()
        self._bytes = 0

    @property
    def size(self) -> int:
        """Bytes of audio held now."""
        return self._bytes

    @property
    def sentences(self) -> int:
        """How many sentences are kept."""
        return len(self._entries)

    @staticmethod
    def key(links: Sequence[Link], voice: str | None, language: str, sentence: str) -> CacheKey:
        """Return what makes two sentences sound alike: chain, voice, language and words."""
        return tuple(links), voice, language.lower(), " ".join(sentence.split())

    def get(self, key: CacheKey) -> SpokenSentence | None:
        """Return a kept sentence (now the most recently used), or None."""
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: CacheKey, spoken: SpokenSentence) -> None:
        """Keep a sentence, dropping the least recently used ones beyond the bound."""
        if spoken.size > self.max_entry_bytes or not spoken.chunks:
            return
        if (old := self._entries.pop(key, None)) is not None:
            self._bytes -= old.size
        self._entries[key] = spoken
        self._bytes += spoken.size
        while self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size

    async def keeping(
        self,
        key: CacheKey,
        first: AudioChunk,
        rest: AsyncIterator[AudioChunk],
        spoken: Callable[[tuple[AudioChunk, ...]], SpokenSentence],
    ) -> AsyncIterator[AudioChunk]:
        """Yield the rest of a sentence; keep it all once it played (one cut short is not)."""
        played = [first]
        async for chunk in rest:
            played.append(chunk)
            yield chunk
        self.put(key, spoken(tuple(played)))


async def replay(chunks: Sequence[AudioChunk]) -> AsyncIterator[AudioChunk]:
    """Yield kept chunks again."""
    for chunk in chunks:
        yield chunk


def speech_cache(hass: HomeAssistant) -> SpeechCache:
    """Return the integration's speech cache (one for every voice)."""
    if (cache := hass.data.get(_DATA)) is None:
        cache = hass.data[_DATA] = SpeechCache()
    return cache
