"""What the latency benchmark simulates: provider profiles, the questions and their answers.

No Home Assistant here: the provider process (bench/providers.py) and the scenarios
(bench/scenarios/) share it, so both sides script the same timings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from tests.fakes.openai_server import Reply

#: Home Assistant's pipeline streams the agent's text to a streaming voice after this much.
STREAM_RESPONSE_CHARS: Final = 60
#: Speech is synthesized this many times faster than it plays (a cloud voice streams ahead).
SPEECH_SPEEDUP: Final = 10.0

QUESTIONS: Final = {
    "short": "What is the capital of France?",
    "long": "Tell me about Paris.",
}
#: The answers; `{n}` is a number that changes every time (see `answer`).
ANSWERS: Final = {
    "short": (
        "Paris is the capital of France, and with about two million people it is also its "
        "largest city. It lies on the Seine, {n} kilometres from the sea."
    ),
    "long": (  # 8 sentences, 600 characters
        "Paris is the capital of France and by far its largest city. "
        "It lies on both banks of the river Seine, in the north of the country. "
        "About two million people live in the city itself, and twelve million in the region. "
        "It was founded by a Celtic people called the Parisii more than two thousand years ago. "
        "Its best known sights are the Eiffel Tower, the Louvre and the cathedral of Notre-Dame. "
        "The Louvre is the most visited art museum in the whole world. "
        "Paris is also a great centre of fashion, of food and of finance. "
        "Its metro, opened in 1900, carries about {n} thousand riders every day."
    ),
}


def answer(length: str, number: int) -> str:
    """The `length` answer with a number of its own in its last sentence.

    Every answer differs from the last, as real answers do: Home Assistant keeps the audio of
    a message it has spoken (by its text) and would serve a repeat from memory, which the
    voice of a stack that speaks whole messages would gain from and a streaming one not.
    """
    return ANSWERS[length].format(n=100 + number % 900)


@dataclass(frozen=True)
class Profile:
    """Scripted provider latency: ASR final after the audio, LLM first token and rate, TTS."""

    name: str
    asr_ms: float
    first_token_ms: float
    tokens_per_s: float
    tts_first_ms: float

    def floor_ms(self, answer: str) -> float:
        """ASR final + first token + time to write the first 60 characters + first audio.

        What a streaming stack cannot beat: Home Assistant hands the text to the voice once 60
        characters are written, and the voice's first audio follows its first request.
        """
        words = chars = 0
        for word in answer.split():
            words, chars = words + 1, chars + len(word) + 1
            if chars > STREAM_RESPONSE_CHARS:
                break
        return self.asr_ms + self.first_token_ms + self.writing_ms(words) + self.tts_first_ms

    def paced(self, reply: Reply) -> Reply:
        """The reply at this profile's LLM pace."""
        return dataclasses.replace(
            reply,
            first_token_delay=self.first_token_ms / 1000,
            chunk_delay=1 / self.tokens_per_s if self.tokens_per_s else 0.0,
        )

    def writing_ms(self, words: int) -> float:
        """Milliseconds the model takes from its first word to its `words`-th (a word a token)."""
        return (words - 1) * 1000 / self.tokens_per_s if self.tokens_per_s else 0.0


PROFILES: Final = {
    profile.name: profile
    for profile in (
        Profile("zero", 0, 0, 0, 0),
        Profile("fast_cloud", 250, 300, 80, 150),
        Profile("typical_cloud", 300, 350, 40, 200),
        Profile("slow_cloud", 600, 800, 20, 400),
    )
}
