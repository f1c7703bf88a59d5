"""Shaping text for speech: markdown, emoji, URLs, English readings, terse mode, odd input.

Micro-benchmark (also asserted by `test_shape_is_fast`): on the build machine a 240-character
markdown paragraph with units, a link, a time and money shapes in about 90 µs, a 1.2 MB text in
about 0.4 s; plain text cut to two sentences in about 0.1 ms.
"""

from __future__ import annotations

import random
import re
import time

import pytest

from custom_components.anima.core.speech.sentences import split_sentences
from custom_components.anima.core.speech.shaping import (
    TERSE_SENTENCES,
    ShapeOptions,
    shape,
    shape_for_tier,
)
from custom_components.anima.core.speech.tiers import Tier


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # markdown
        ("# Weather\n\nIt is **sunny**.", "Weather. It is sunny."),
        ("## Lights ##\nAll *off* now", "Lights. All off now"),
        ("Setext\n======\nbody", "Setext. body"),
        ("- kitchen\n- hall\n* porch\n+ attic", "kitchen. hall. porch. attic"),
        ("1. Open\n2) Close", "Open. Close"),
        ("- [x] done\n- [ ] todo", "done. todo"),
        ("> quoted\n> > twice", "quoted. twice"),
        ("__bold__ and _it_ and ~~gone~~ and ***both***", "bold and it and gone and both"),
        ("snake_case_id stays", "snake_case_id stays"),
        ("See [the docs](https://example.com/x) now.", "See the docs now."),
        ("![a cat](cat.png) sits", "a cat sits"),
        ("[ref link][1] here\n\n[1]: https://example.com", "ref link here"),
        ("Use `light.kitchen` please.", "Use light.kitchen please."),
        ("Run `" + "x" * 60 + "` now.", "Run now."),
        ("Before\n```python\nprint('hi')\n```\nAfter", "Before. After"),
        ("Before\n~~~\ncode\n~~~\nAfter", "Before. After"),
        ("Start\n```\nunclosed code\nmore", "Start"),
        ("| Room | Temp |\n|---|:---:|\n| Kitchen | 21 |", "Room, Temp. Kitchen, 21"),
        ("Text<br>more <b>bold</b>", "Text more bold"),
        ("Above\n\n---\n\nBelow", "Above. Below"),
        ("It works [1] well [23].", "It works well."),
        # emoji and URLs
        ("Done ✅ 🎉!", "Done!"),
        ("👍🏽 ok 👨‍👩‍👧", "ok"),
        ("Nice :smile: day", "Nice day"),
        ("Read https://www.home-assistant.io/docs/ today.", "Read home-assistant.io today."),
        ("Go to www.example.org.", "Go to example.org."),
        ("Link <https://example.com/a>", "Link example.com"),
        # units and numbers
        ("It is 21.5 °C.", "It is 21.5 degrees Celsius."),
        ("It is 21.5°C and 70°F.", "It is 21.5 degrees Celsius and 70 degrees Fahrenheit."),
        ("1 °C, 1 km, 1 kg", "1 degree Celsius, 1 kilometre, 1 kilogram"),
        ("3 km", "3 kilometres"),
        ("12 km/h and 5 m/s", "12 kilometres per hour and 5 metres per second"),
        (
            "Used 3 kWh at 230 V and 16A, 1,200 W",
            ("Used 3 kilowatt hours at 230 volts and 16 amps, 1,200 watts"),
        ),
        ("45% humidity, 1013 hPa", "45 percent humidity, 1013 hectopascals"),
        ("Wait 5 s, not the 90s.", "Wait 5 seconds, not the 90s."),
        ("10 min then 2 h", "10 minutes then 2 hours"),
        ("PM2.5 is 12 µg/m³", "PM2.5 is 12 micrograms per cubic metre"),
        ("It is -5 °C", "It is minus 5 degrees Celsius"),
        (
            "Between 20 - 22 °C or 5\u201310 min",
            "Between 20 to 22 degrees Celsius or 5 to 10 minutes",
        ),
        ("About ~3 km", "About about 3 kilometres"),
        ("#1 choice & more", "number 1 choice and more"),
        ("1920x1080", "1920 by 1080"),
        ("COVID-19 in 2024-05-01", "COVID-19 in 2024-05-01"),
        # money
        ("$5", "5 dollars"),
        ("$1 and $1.50 and $0.99", "1 dollar and 1 dollar 50 cents and 99 cents"),
        ("€3, £2.99, ¥100", "3 euros, 2 pounds 99 pence, 100 yen"),
        ("5 € or 10 EUR or 5,50 €", "5 euros or 10 euros or 5 euros 50 cents"),
        ("$5 million, $3k", "5 million dollars, 3 thousand dollars"),
        ("$1,200.05", "1,200 dollars 5 cents"),
        # times (12-hour clock for unambiguous 24-hour times)
        ("At 14:30.", "At 2:30 PM."),
        ("At 07:05 and 19:00", "At 7:05 AM and 7 PM"),
        ("At 00:00 and 00:30", "At midnight and 12:30 AM"),
        ("At 9:30, 10:30 or 12:00", "At 9:30, 10:30 or 12:00"),
        ("At 2:30 PM or 14:30:15", "At 2:30 PM or 14:30:15"),
        # tidying
        ("Hi!!! What?!", "Hi! What?"),
        ("  lots   of\tspace  ", "lots of space"),
        ("a ,b .", "a,b."),
    ],
)
def test_shape_reads_naturally(text: str, spoken: str) -> None:
    shaped = shape(text)
    assert shaped.text == spoken
    assert shaped.characters_saved == len(text) - len(spoken)
    assert shaped.sentences_dropped == 0


def test_characters_saved_is_exact() -> None:
    text = "**Done** ✅ — see [docs](https://example.com/a/very/long/path)."
    shaped = shape(text)
    assert shaped.text == "Done — see docs."
    assert shaped.characters_saved == len(text) - 16 == 46
    # Reading a unit aloud costs characters: the saving is negative, still exact.
    assert shape("21 °C").characters_saved == len("21 °C") - len("21 degrees Celsius") == -13


def test_clock_24h_leaves_times_alone() -> None:
    assert shape("At 14:30 and 07:05", ShapeOptions(clock="24h")).text == "At 14:30 and 07:05"


def test_other_languages_get_markup_stripped_but_no_english_readings() -> None:
    text = "Es ist **21 °C** um 14:30 🌞 [hier](https://x.de)."
    assert shape(text, ShapeOptions(language="de")).text == "Es ist 21 °C um 14:30 hier."
    assert shape("3 km", ShapeOptions(language="en-GB")).text == "3 kilometres"


def test_code_placeholder() -> None:
    text = "Here:\n```\nx = 1\n```\nDone."
    assert shape(text).text == "Here: Done."
    assert shape(text, ShapeOptions(code_placeholder="Code omitted.")).text == (
        "Here: Code omitted. Done."
    )


def test_terse_keeps_the_first_sentences() -> None:
    text = "The washer is done. It took 2 h. Energy was 1 kWh! Anything else? Bye."
    shaped = shape(text, ShapeOptions(max_sentences=2))
    assert shaped.text == "The washer is done. It took 2 hours."
    assert shaped.sentences_dropped == 3
    assert shaped.characters_saved == len(text) - len(shaped.text)
    assert shape(text, ShapeOptions(max_sentences=10)).sentences_dropped == 0
    assert shape(text, ShapeOptions(max_sentences=0)).text == ""
    assert shape(text, ShapeOptions(max_sentences=0)).characters_saved == len(text)


def test_terse_by_characters_cuts_at_sentence_then_word() -> None:
    text = "First sentence here. Second one follows. Third."
    assert shape(text, ShapeOptions(max_characters=45)).text == (
        "First sentence here. Second one follows."
    )
    assert shape(text, ShapeOptions(max_characters=25)).text == "First sentence here."
    assert shape(text, ShapeOptions(max_characters=12)).text == "First."
    assert shape(text, ShapeOptions(max_characters=3)).text == "Fi."
    both = shape(text, ShapeOptions(max_sentences=1, max_characters=100))
    assert both.text == "First sentence here."
    assert both.sentences_dropped == 2


def test_sentence_boundaries() -> None:
    assert split_sentences("It is 21.5 degrees. Dr. Smith said e.g. this. No. Yes! Why? Ok…") == [
        "It is 21.5 degrees.",
        "Dr. Smith said e.g. this.",
        "No.",
        "Yes!",
        "Why?",
        "Ok…",
    ]
    assert split_sentences("At 2:30 PM. Then J. Doe came. version 1.2 is out. done") == [
        "At 2:30 PM.",
        "Then J. Doe came. version 1.2 is out. done",  # lower case: not a new sentence
    ]
    assert split_sentences('He said "stop." Then left.') == ['He said "stop."', "Then left."]
    assert split_sentences("") == []


def test_tiers_are_terse_by_default() -> None:
    text = "One. Two. Three. Four. Five."
    assert TERSE_SENTENCES[Tier.FORMANT] == 2
    assert shape_for_tier(text, Tier.EARCON).text == ""
    assert shape_for_tier(text, Tier.EARCON).characters_saved == len(text)
    assert shape_for_tier(text, Tier.FORMANT).text == "One. Two."
    assert shape_for_tier(text, Tier.COMPACT).text == "One. Two. Three."
    assert shape_for_tier(text, Tier.EXPRESSIVE).text == text
    assert shape_for_tier(text, Tier.FORMANT, max_sentences=None).text == text
    assert shape_for_tier(text, Tier.EXPRESSIVE, max_sentences=1).text == "One."


# --- odd input ---------------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "\n\n\n",
    "\r\n\r\n",
    "😀",
    "😀🎉👍🏽👨‍👩‍👧🇩🇪",
    "**",
    "*",
    "__init__",
    "`",
    "```",
    "```\n",
    "~~~~",
    "[",
    "]()",
    "[a](",
    "![",
    "#",
    "######",
    "|",
    "||||",
    "|-|",
    ">",
    "- ",
    "1.",
    "$",
    "$.",
    "°C",
    "%",
    ":",
    "::",
    "12:",
    ":30",
    "99:99",
    "24:00",
    "-",
    "--5",
    "http://",
    "https://",
    "www.",
    "<",
    "<>",
    "<a",
    "\x00\x01\x02",
    "\u200b\u200d\ufe0f",
    "\ufffd",
    "a" * 100_000,
    "**a" * 10_000,
    "[" * 5000 + "](" * 5000,
    "```\n" * 1000,
    "1:" * 10_000,
    "$1" * 10_000,
    ". " * 10_000,
    "http://" * 5000,
    "\n".join(["| a | b |"] * 2000),
]
ALPHABET = [
    *"abcXYZ 019.,!?:;-_*`#|>[]()<>~$€£%°/\n\t",
    *("**", "__", "```", "~~", "](", "http://x.io/", "www.", "😀", "👍🏽", "\u200d", "°C", "km"),
    *("14:30", "$5.50", "21.5", "\r\n", "- ", "1. ", "# ", "> ", "| ", "&", "…", "\u02bc", "中文"),
]
_EMOJI_LEFT = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]")


def _random_texts(count: int) -> list[str]:
    rng = random.Random(20261122)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(0, 60))) for _ in range(count)]


@pytest.mark.parametrize("text", ODD, ids=range(len(ODD)))
def test_odd_input_never_crashes(text: str) -> None:
    for options in (ShapeOptions(), ShapeOptions(max_sentences=1, max_characters=50)):
        shaped = shape(text, options)
        assert isinstance(shaped.text, str)
        assert shaped.characters_saved == len(text) - len(shaped.text)
        assert shaped.text == shaped.text.strip()


def test_random_strings_are_always_speakable() -> None:
    """Property: for thousands of random mixes of markup, any input gives clean, exact output."""
    for text in _random_texts(3000):
        for options in (
            ShapeOptions(),
            ShapeOptions(max_sentences=2),
            ShapeOptions(language="de"),
            ShapeOptions(max_characters=30),
        ):
            shaped = shape(text, options)
            assert shaped.characters_saved == len(text) - len(shaped.text), text
            assert shaped.text == shaped.text.strip(), text
            assert "  " not in shaped.text, text
            assert not _EMOJI_LEFT.search(shaped.text), text
            assert not re.search(r"[*`|#~\[\]]", shaped.text), text
            assert "http" not in shaped.text, text
            assert "\n" not in shaped.text, text
            if options.max_sentences is not None:
                assert len(split_sentences(shaped.text)) <= options.max_sentences, text
            if options.max_characters is not None:
                assert len(shaped.text) <= options.max_characters, text


def test_megabytes_of_text_cannot_stall_the_hub() -> None:
    """Every pattern is linear: a hostile 1.2 MB answer is shaped, not a hang (a backtracking
    pattern would take hours)."""
    paragraph = (
        "## Kitchen status\n\nThe **kitchen light** is on 💡 and the temperature is 21.5 °C "
        "(humidity 45%). The [dishwasher](https://example.com/dw) finished at 14:30 and used "
        "1.2 kWh, about $0.35.\n- Next: run the *dryer* for 40 min\n- Window: open 3 cm\n"
    )
    start = time.perf_counter()
    shaped = shape(paragraph * 5000)
    assert time.perf_counter() - start < 10
    assert shaped.text.startswith("Kitchen status. The kitchen light is on")


def test_embedded_voice_commands_never_reach_a_voice() -> None:
    shaped = shape("It is \x01200A\x01450Sloud\x07 now.\x00")
    assert shaped.text == "It is loud now."
    assert shaped.characters_saved == len("It is \x01200A\x01450Sloud\x07 now.\x00") - 15
