"""English readings: symbols, money, units and times as an English speaker says them.

Pure: used by `shaping.shape` for text in English ("21.5 °C" -> "21.5 degrees Celsius", "$1.50"
-> "1 dollar 50 cents", "14:30" -> "2:30 PM"); the rules are in shaping.py's docstring. Every
pattern is bounded, so any string is read in linear time.
"""

from __future__ import annotations

import re
from typing import Literal

type Clock = Literal["12h", "24h"]

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


def read_english(text: str, clock: Clock) -> str:
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
