"""Sentences of shaped text: where they end, and keeping only the first ones (terse tiers).

Pure. Sentences end at ".", "!", "?" or "…" followed by a space and something that is not a
lower-case letter, and not after common abbreviations ("Dr.", "e.g.") or single letters.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*\s+")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "jr",
        "sr",
        "prof",
        "inc",
        "ltd",
        "co",
        "mt",
        "ft",
        "fig",
        "ca",
        "cf",
    }
)


def _sentence_ends(text: str) -> list[int]:
    """Offsets just past each sentence's end punctuation (the last sentence ends at len)."""
    ends: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        after = match.end()
        if after < len(text) and text[after].islower():
            continue
        start = match.start()
        word_start = text.rfind(" ", 0, start) + 1
        word = text[word_start:start].lower()
        if text[start] == "." and (word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        ends.append(match.end() - (len(match.group(0)) - len(match.group(0).rstrip())))
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return ends


def split_sentences(text: str) -> list[str]:
    """Split shaped text into sentences (the rule in the module docstring)."""
    if not text:
        return []
    sentences, start = [], 0
    for end in _sentence_ends(text):
        sentence = text[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    return sentences


def terse(text: str, max_sentences: int | None, max_characters: int | None) -> tuple[str, int]:
    """Keep whole leading sentences within the limits; return the text and sentences dropped."""
    if not text or (max_sentences is None and max_characters is None):
        return text, 0
    sentences = split_sentences(text)
    keep = len(sentences) if max_sentences is None else max(0, min(max_sentences, len(sentences)))
    kept = sentences[:keep]
    if max_characters is not None:
        limit = max(0, max_characters)
        total, fitting = 0, 0
        for sentence in kept:
            total += len(sentence) + (1 if fitting else 0)
            if total > limit:
                break
            fitting += 1
        if fitting == 0 and kept and limit > 0:
            # The first sentence alone is too long: cut it at a word.
            cut = kept[0][: limit - 1]  # room for the full stop
            space = cut.rfind(" ")
            cut = (cut[:space] if space > 0 else cut).rstrip(" ,;:-")
            return (cut + "." if cut else ""), len(sentences) - (1 if cut else 0)
        kept = kept[:fitting]
    return " ".join(kept), len(sentences) - len(kept)
