"""Make text speakable, and short for the cheap tiers.

An LLM writes for a screen: markdown, emoji, links, "21.5 °C", "14:30". A voice reads that
literally ("asterisk asterisk", "degree sign C") and a per-character TTS bill pays for every
symbol. `shape()` turns such text into plain English sentences a voice reads naturally, then keeps
only the first sentences when asked to be terse (the formant and compact tiers).

What it does, in order:

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
on the build machine (`test_shape_is_fast` asserts < 1 ms); 1.2 MB takes about 0.4 s. Every
pattern is bounded, so odd input (empty, only emoji, unbalanced markers, megabytes of text) is
linear and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import re
from typing import Literal

from .tiers import Tier

Clock = Literal["12h", "24h"]


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

# --- English readings --------------------------------------------------------------------------

_NUMBER = r"(?<![\w.,])(\d+(?:,\d{3})*(?:\.\d+)?)"

# unit as written -> (singular, plural). Longer spellings are tried first.
_UNITS: dict[str, tuple[str, str]] = {
    "°C": ("degree Celsius", "degrees Celsius"),
    "° C": ("degree Celsius", "degrees Celsius"),
    "ºC": ("degree Celsius", "degrees Celsius"),
    "℃": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "° F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "ºF": ("degree Fahrenheit", "degrees Fahrenheit"),
    "℉": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
    "‰": ("per mille", "per mille"),
    "km/h": ("kilometre per hour", "kilometres per hour"),
    "kph": ("kilometre per hour", "kilometres per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("metre per second", "metres per second"),
    "mm/h": ("millimetre per hour", "millimetres per hour"),
    "km": ("kilometre", "kilometres"),
    "cm": ("centimetre", "centimetres"),
    "mm": ("millimetre", "millimetres"),
    "m²": ("square metre", "square metres"),
    "m2": ("square metre", "square metres"),
    "m³": ("cubic metre", "cubic metres"),
    "m3": ("cubic metre", "cubic metres"),
    "m": ("metre", "metres"),
    "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("millilitre", "millilitres"),
    "mL": ("millilitre", "millilitres"),
    "l": ("litre", "litres"),
    "L": ("litre", "litres"),
    "MWh": ("megawatt hour", "megawatt hours"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "Wh": ("watt hour", "watt hours"),
    "MW": ("megawatt", "megawatts"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "kV": ("kilovolt", "kilovolts"),
    "V": ("volt", "volts"),
    "mA": ("milliamp", "milliamps"),
    "A": ("amp", "amps"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "hPa": ("hectopascal", "hectopascals"),
    "kPa": ("kilopascal", "kilopascals"),
    "Pa": ("pascal", "pascals"),
    "mbar": ("millibar", "millibars"),
    "lx": ("lux", "lux"),
    "dBm": ("decibel milliwatt", "decibel milliwatts"),
    "dB": ("decibel", "decibels"),
    "ppm": ("part per million", "parts per million"),
    "ppb": ("part per billion", "parts per billion"),
    "µg/m³": ("microgram per cubic metre", "micrograms per cubic metre"),
    "μg/m³": ("microgram per cubic metre", "micrograms per cubic metre"),
    "ug/m3": ("microgram per cubic metre", "micrograms per cubic metre"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "kbps": ("kilobit per second", "kilobits per second"),
}
# Units that would misread when glued to a number ("the 90s"): only with a space.
_SPACED_UNITS: dict[str, tuple[str, str]] = {"s": ("second", "seconds")}

_UNIT = re.compile(
    _NUMBER
    + r"(?:(\s?)("
    + "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
    + r")|(\s)("
    + "|".join(re.escape(unit) for unit in _SPACED_UNITS)
    + r"))(?![\w/²³])"
)

# currency symbol or code -> (major singular, major plural, minor singular, minor plural)
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "US$": ("dollar", "dollars", "cent", "cents"),
    "USD": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "JPY": ("yen", "yen", "", ""),
    "CHF": ("franc", "francs", "centime", "centimes"),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE = r"(?:\s?(thousand|million|billion|trillion|k|K|M|bn)\b)?"
_SCALE_WORDS = {"k": "thousand", "K": "thousand", "M": "million", "bn": "billion"}
_CURRENCY_ALTERNATION = "|".join(
    re.escape(code) for code in sorted(_CURRENCIES, key=len, reverse=True)
)
_CURRENCY_BEFORE = re.compile(
    r"(?<![\w$€£¥₹])("
    + _CURRENCY_ALTERNATION
    + r")\s?(\d+(?:,\d{3})*)(?:\.(\d{2}))?(?![\d.,]\d)"
    + _SCALE
)
_CURRENCY_AFTER = re.compile(
    r"(?<![\w.,])(\d+(?:,\d{3})*)(?:[.,](\d{2}))?(?![\d])\s?(" + _CURRENCY_ALTERNATION + r")(?!\w)"
)
_MINUS = re.compile(r"(?<![\w)\]])[-\u2212](?=\d)")
_TILDE = re.compile(r"[~≈]\s?(?=\d)")
_NUMBER_SIGN = re.compile(r"#\s?(?=\d)")
_SYMBOLS = (
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\s*±\s*"), " plus or minus "),
    (re.compile(r"\s*(?:→|->|=>)\s*"), " to "),
    (re.compile(r"(?<=\d)\s*[x\u00d7]\s*(?=\d)"), " by "),
    (re.compile(r"(?<=\d)(?:\s*[\u2013\u2014]\s*|\s+-\s+)(?=\d)"), " to "),
)
_TIME = re.compile(r"(?<![\d:.,])(\d{1,2}):([0-5]\d)(?![\d:])(?!\s?[AaPp]\.?\s?[Mm](?![a-z]))")

# --- clean-up and sentences --------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,!?;:…])")
_PUNCTUATION_RUN = re.compile(r"([.!?…])(?:\s*[.,;:!?…])+|([,;:])(?:\s*[,;:])+")
_COMMA_BEFORE_STOP = re.compile(r"[,;:]\s*([.!?…])")
_LEADING_PUNCTUATION = re.compile(r"^[\s.,;:!?…)\]}]+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*\s+")
_ENDS_SENTENCE = frozenset(".!?…:;,")
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


def _is_one(number: str) -> bool:
    return number == "1"


def _unit(match: re.Match[str]) -> str:
    number = match.group(1)
    unit = match.group(3)
    singular, plural = _UNITS[unit] if unit is not None else _SPACED_UNITS[match.group(5)]
    return f"{number} {singular if _is_one(number) else plural}"


def _money(major: str, minor: str | None, scale: str | None, code: str) -> str:
    one, many, minor_one, minor_many = _CURRENCIES[code]
    if scale:
        return f"{major} {_SCALE_WORDS.get(scale, scale)} {many}"
    cents = int(minor) if minor else 0
    if cents and not minor_one:  # no minor unit (yen): read the decimals
        return f"{major}.{minor} {many}"
    if major in ("0", "") and cents:
        return f"{cents} {minor_one if cents == 1 else minor_many}"
    words = f"{major} {one if _is_one(major) else many}"
    if cents:
        words += f" {cents} {minor_one if cents == 1 else minor_many}"
    return words


def _money_before(match: re.Match[str]) -> str:
    code, major, minor, scale = match.group(1, 2, 3, 4)
    return _money(major, minor, scale, code)


def _money_after(match: re.Match[str]) -> str:
    major, minor, code = match.group(1, 2, 3)
    return _money(major, minor, None, code)


def _time(match: re.Match[str]) -> str:
    hour_text, minute_text = match.group(1, 2)
    hour, minute = int(hour_text), int(minute_text)
    # Only unambiguous 24-hour times: a leading zero, or an hour of 13 to 23.
    if hour > 23 or not (hour >= 13 or (len(hour_text) == 2 and hour_text[0] == "0")):
        return match.group(0)
    if hour == 0 and minute == 0:
        return "midnight"
    suffix = "AM" if hour < 12 else "PM"
    hour12 = hour % 12 or 12
    return f"{hour12} {suffix}" if minute == 0 else f"{hour12}:{minute:02d} {suffix}"


def _english(text: str, clock: Clock) -> str:
    """Read symbols, money, units and times the way an English speaker says them."""
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    if "#" in text:
        text = _NUMBER_SIGN.sub("number ", text)
    text = _TILDE.sub("about ", text)
    text = _CURRENCY_BEFORE.sub(_money_before, text)
    text = _CURRENCY_AFTER.sub(_money_after, text)
    text = _UNIT.sub(_unit, text)
    text = _MINUS.sub("minus ", text)
    if clock == "12h" and ":" in text:
        text = _TIME.sub(_time, text)
    return text


def _tidy(text: str) -> str:
    text = _LEFTOVER_MARKUP.sub("", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    text = _COMMA_BEFORE_STOP.sub(r"\1", text)
    text = _PUNCTUATION_RUN.sub(lambda m: m.group(1) or m.group(2), text)
    text = _LEADING_PUNCTUATION.sub("", text)
    return text.strip()


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


def _terse(text: str, max_sentences: int | None, max_characters: int | None) -> tuple[str, int]:
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


def shape(text: str, options: ShapeOptions | None = None) -> Shaped:
    """Make `text` speakable (and terse if `options` say so). Never raises on any string."""
    options = options or ShapeOptions()
    original = text
    result = _blocks(original.replace("\r\n", "\n").replace("\r", "\n"), options.code_placeholder)
    result = _inline(result)
    if options.language.lower().startswith("en"):
        result = _english(result, options.clock)
    result = _tidy(result)
    result, dropped = _terse(result, options.max_sentences, options.max_characters)
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
