"""Make text speakable, and short for the cheap tiers.

An LLM writes for a screen: markdown, emoji, links, "21.5 °C", "14:30". A voice reads that
literally ("asterisk asterisk", "degree sign C") and a per-character TTS bill pays for every
symbol. `shape()` turns such text into plain English sentences a voice reads naturally, then keeps
only the first sentences when asked to be terse (the formant and compact tiers).

What it does, in order:

- Control characters and espeak-ng's embedded commands (Ctrl-A...) are removed: an answer must
  not change a voice's volume or speed.
- Markdown: fenced code blocks are removed (an unclosed fence removes the rest: it is code);
  inline code keeps its text when short (a name such as `light.kitchen`), is dropped otherwise;
  headings, list items and table rows become sentences (table cells are joined with commas,
  separator rows dropped); bold, italics, strikethrough and quotes lose their markers; links and
  images become their text; link definitions, rules and HTML tags go.
- URLs become their host name ("https://www.example.com/a/b" -> "example.com"); emoji and emoji
  shortcodes (":smile:") are removed.
- English readings (only when `language` starts with "en"):
  - units after a number, spelled out in British English with the singular for exactly 1:
    "21.5 °C" -> "21.5 degrees Celsius", "1 km" -> "1 kilometre", "3 kWh" -> "3 kilowatt hours";
    "s" (seconds) only with a space ("5 s"), so "the 90s" stays;
  - "45%" -> "45 percent"; "$5" -> "5 dollars", "$1.50" -> "1 dollar 50 cents", "€3" -> "3 euros",
    "£2.99" -> "2 pounds 99 pence", "5 €" and "5 EUR" too;
  - a leading minus ("-5") -> "minus 5"; "~5" -> "about 5"; "#3" -> "number 3"; "&" -> "and";
  - times: with `clock="12h"` (the default, what English listeners expect) a time that is
    unambiguously 24-hour (a leading zero or an hour of 13-23) is read on the 12-hour clock:
    "14:30" -> "2:30 PM", "07:05" -> "7:05 AM", "00:00" -> "midnight". "9:30", "10:30" and
    "12:00" could be either clock, so they stay as written (voices say "ten thirty"); so do times
    followed by AM/PM and times with seconds. `clock="24h"` leaves every time alone (voices read
    "14:30" as "fourteen thirty").
- Whitespace and punctuation left over by the removals are tidied; every line ends as a sentence.

Terse mode keeps the first `max_sentences` sentences and/or as many whole sentences as fit in
`max_characters` (a first sentence longer than that is cut at a word). Sentences end at ".", "!",
"?" or "…" followed by a space and something that is not a lower-case letter, and not after common
abbreviations ("Dr.", "e.g.").

`Shaped.characters_saved` is exactly `len(original) - len(shaped)`: what the ledger records as not
sent to a per-character TTS. It is negative when reading units aloud made the text longer.

Speed: about 0.1 ms for a 240-character markdown paragraph with units, a link, a time and money
on the build machine; 1.2 MB takes about 0.4 s. Every
pattern is bounded, so odd input (empty, only emoji, unbalanced markers, megabytes of text) is
linear and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import re
from typing import Literal

from ...protocol import without_voice_commands
from .readings import Clock, read_english
from .sentences import terse
from .tiers import Tier


@dataclass(frozen=True, slots=True)
class ShapeOptions:
    """How to shape text for one voice."""

    #: Keep at most this many sentences (None: all; 0: nothing, as for the earcon tier).
    max_sentences: int | None = None
    #: Keep at most this many characters, cut at a sentence boundary (None: no limit).
    max_characters: int | None = None
    #: Language of the text; the number, unit and time readings are English only.
    language: str = "en"
    #: How to read 24-hour times (see the module docstring).
    clock: Clock = "12h"
    #: Text that stands in for a removed code block ("" removes it silently).
    code_placeholder: str = ""


@dataclass(frozen=True, slots=True)
class Shaped:
    """Speakable text and what shaping saved."""

    text: str
    #: `len(original) - len(text)`, for the cost ledger (negative if readings lengthened it).
    characters_saved: int
    #: Sentences dropped by terse mode.
    sentences_dropped: int = 0


#: Sentences each tier speaks by default (None: all). The earcon speaks none.
TERSE_SENTENCES: Mapping[Tier, int | None] = {
    Tier.EARCON: 0,
    Tier.FORMANT: 2,
    Tier.COMPACT: 3,
    Tier.EXPRESSIVE: None,
}


def options_for_tier(
    tier: Tier,
    *,
    max_sentences: int | None | Literal["default"] = "default",
    language: str = "en",
    clock: Clock = "12h",
) -> ShapeOptions:
    """Options for `tier`: terse for the cheap tiers unless `max_sentences` says otherwise."""
    sentences = TERSE_SENTENCES[tier] if max_sentences == "default" else max_sentences
    return ShapeOptions(max_sentences=sentences, language=language, clock=clock)


# --- markdown ----------------------------------------------------------------------------------

_FENCE_BLOCK = re.compile(
    r"^[ \t]{0,3}(```|~~~)[^\n]*\n(?:.*?\n)??[ \t]{0,3}\1[`~]*[ \t]*$", re.M | re.S
)
_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(?:```|~~~).*\Z", re.M | re.S)
_HEADING = re.compile(r"#{1,6}(?:\s+|$)(.*?)(?:\s+#+)?$")
_RULE = re.compile(r"(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,}|=+)")
_TABLE_SEPARATOR = re.compile(r"\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?")
_LINK_DEFINITION = re.compile(r"\[[^\]\n]{1,300}\]:\s")
_QUOTE = re.compile(r"^(?:>\s?)+")
_LIST_MARKER = re.compile(r"^(?:[-*+•‣◦▪]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")

_IMAGE = re.compile(r"!\[([^\]\n]{0,300})\]\([^)\n]{0,2000}\)")
_LINK = re.compile(r"\[([^\]\n]{0,300})\]\([^)\n]{0,2000}\)")
_REFERENCE_LINK = re.compile(r"\[([^\]\n]{1,300})\]\[[^\]\n]{0,100}\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]{1,2000})>")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,20}(?:\s[^<>\n]{0,500})?/?>")
_URL = re.compile(
    r"(?:(?:https?|ftp)://|(?<![\w.-])www\.)[^\s<>()\[\]{}\"']{0,2000}[^\s<>()\[\]{}\"'.,;:!?]"
)
_URL_HOST = re.compile(r"^(?:www\.)?(?:[^@/\s]*@)?(?:www\.)?([^/:?#\s]+)", re.I)
_INLINE_CODE = re.compile(r"(`{1,2})([^`\n]{1,300}?)\1")
_STRONG = re.compile(r"(\*\*|__)(?=\S)([^\n]{1,500}?)(?<=\S)\1")
_STRIKE = re.compile(r"~~(?=\S)([^\n]{1,500}?)(?<=\S)~~")
_EM_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]{1,500}?)(?<=\S)\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]{1,500}?)(?<=\S)_(?![\w_])")
_SHORTCODE = re.compile(r"(?<![\w:]):[a-z0-9_+-]{2,40}:(?![\w:])")
_LEFTOVER_MARKUP = re.compile(r"[*`|~\[\]{}\u2190-\u21ff]+|(?<!\w)_+|_+(?!\w)|#+")
_CITATION = re.compile(r"\[\d{1,3}\]")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\{\s*\}")

# Emoji and pictographs, their modifiers (variation selectors, skin tones, ZWJ, keycaps, tags),
# dingbats, arrows, geometric shapes and the "™/©/®" marks.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff\U0001fc00-\U0001ffff"
    "\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u25a0-\u25ff"
    "\ufe00-\ufe0f\u200d\u20e3\u20d0-\u20ff\U000e0000-\U000e007f"
    "\u3030\u303d\u3297\u3299\u00a9\u00ae\u2122\u2139"
    "]+"
)

# --- clean-up and sentences --------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,!?;:…])")
_PUNCTUATION_RUN = re.compile(r"([.!?…])(?:\s*[.,;:!?…])+|([,;:])(?:\s*[,;:])+")
_COMMA_BEFORE_STOP = re.compile(r"[,;:]\s*([.!?…])")
_LEADING_PUNCTUATION = re.compile(r"^[\s.,;:!?…)\]}]+")
_ENDS_SENTENCE = frozenset(".!?…:;,")


def _host(match: re.Match[str]) -> str:
    url = match.group(match.lastindex or 0)
    scheme = url.find("://")
    host = _URL_HOST.match(url[scheme + 3 :] if scheme >= 0 else url)
    return host.group(1) if host else ""


def _line_to_sentence(line: str) -> str:
    """One markdown line as plain text (block markers removed); '' to drop it."""
    if _RULE.fullmatch(line) or _TABLE_SEPARATOR.fullmatch(line) or _LINK_DEFINITION.match(line):
        return ""
    if line[0] == "#":
        heading = _HEADING.fullmatch(line)
        if heading:
            line = heading.group(1)
    if line[:1] == ">":
        line = _QUOTE.sub("", line, count=1)
    line = _LIST_MARKER.sub("", line, count=1) if line else line
    if line.count("|") >= 2 or line[:1] == "|":
        line = ", ".join(cell.strip() for cell in line.split("|") if cell.strip())
    return line.strip()


def _blocks(text: str, code_placeholder: str) -> str:
    """Remove code blocks and block markup; one sentence-terminated line per markdown line."""
    if "```" in text or "~~~" in text:
        placeholder = f"\n{code_placeholder}\n" if code_placeholder else "\n"
        text = _FENCE_BLOCK.sub(placeholder, text)
        text = _FENCE_OPEN.sub(placeholder, text)
    if "\n" not in text:
        line = text.strip()
        return _line_to_sentence(line) if line else ""
    parts: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        line = _line_to_sentence(line)
        if not line:
            continue
        if parts and parts[-1][-1] not in _ENDS_SENTENCE:
            parts[-1] += "."
        parts.append(line)
    return " ".join(parts)


def _inline_code(match: re.Match[str]) -> str:
    code = match.group(2).strip()
    return code if len(code) <= 40 else ""


def _inline(text: str) -> str:
    """Remove inline markup, links, URLs and emoji."""
    if "[" in text:
        text = _IMAGE.sub(r"\1", text)
        text = _LINK.sub(r"\1", text)
        text = _REFERENCE_LINK.sub(r"\1", text)
        text = _CITATION.sub("", text)
    if "<" in text:
        text = _AUTOLINK.sub(_host, text)
        text = _HTML_TAG.sub(" ", text)
    if "://" in text or "www." in text:
        text = _URL.sub(_host, text)
    if "`" in text:
        text = _INLINE_CODE.sub(_inline_code, text)
    if "*" in text or "_" in text or "~" in text:
        text = _STRONG.sub(r"\2", text)
        text = _STRIKE.sub(r"\1", text)
        text = _EM_STAR.sub(r"\1", text)
        text = _EM_UNDERSCORE.sub(r"\1", text)
    if ":" in text:
        text = _SHORTCODE.sub("", text)
    return _EMOJI.sub(" ", text)


def _tidy(text: str) -> str:
    text = _LEFTOVER_MARKUP.sub("", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    text = _COMMA_BEFORE_STOP.sub(r"\1", text)
    text = _PUNCTUATION_RUN.sub(lambda m: m.group(1) or m.group(2), text)
    text = _LEADING_PUNCTUATION.sub("", text)
    return text.strip()


def shape(text: str, options: ShapeOptions | None = None) -> Shaped:
    """Make `text` speakable (and terse if `options` say so). Never raises on any string."""
    options = options or ShapeOptions()
    original = text
    result = without_voice_commands(original)
    result = _blocks(result.replace("\r\n", "\n").replace("\r", "\n"), options.code_placeholder)
    result = _inline(result)
    if options.language.lower().startswith("en"):
        result = read_english(result, options.clock)
    result = _tidy(result)
    result, dropped = terse(result, options.max_sentences, options.max_characters)
    return Shaped(result, len(original) - len(result), dropped)


def shape_for_tier(
    text: str,
    tier: Tier,
    *,
    max_sentences: int | None | Literal["default"] = "default",
    language: str = "en",
    clock: Clock = "12h",
) -> Shaped:
    """`shape(text, options_for_tier(tier, ...))`: the usual call before speaking in `tier`."""
    options = options_for_tier(tier, max_sentences=max_sentences, language=language, clock=clock)
    return shape(text, options)
