"""Usage records: one per provider call, as the ledger keeps and stores them.

Pure domain logic: no Home Assistant imports. Money is `Decimal`: prices are published in
decimal ("$0.40 per 1M tokens"), one call costs fractions of a cent, and a month adds thousands of
them. Binary floats would drift in the last digits; decimals add exactly and round-trip through
JSON as strings. Each record's cost is rounded once, to `COST_QUANTUM` (1e-10 of the currency
unit), so a rollup is the exact sum of its records.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ...providers.base import Usage
    from ..health import Attempt

ZERO: Final = Decimal(0)
#: Every record's cost is rounded to this (a ten-billionth of the currency unit).
COST_QUANTUM: Final = Decimal("1e-10")

OUTCOME_OK: Final = "ok"
#: An answer that came from a route other than the first (the router fell back).
OUTCOME_FALLBACK: Final = "fallback"
#: Speech served from Anima's cache of synthesized audio: no provider was asked, nothing spent.
OUTCOME_CACHE_HIT: Final = "cache_hit"
SUCCESS_OUTCOMES: Final = frozenset({OUTCOME_OK, OUTCOME_FALLBACK, OUTCOME_CACHE_HIT})

_DAY_SECONDS: Final = 86400.0


class Kind(StrEnum):
    """What a provider call did."""

    CHAT = "chat"
    VISION = "vision"
    STT = "stt"
    TTS = "tts"


# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One provider call, as the ledger keeps it.

    `characters` are the characters sent to a text-to-speech voice and `characters_saved` those
    text shaping removed before that. `audio_seconds` is the audio heard (stt) or spoken (tts).
    `cost`, `currency` and `priced` are filled by `Ledger.record`: `priced` is False when no
    price is known, so a cost of 0 then means "unknown", not "free". `cached_input_tokens` are
    the part of `input_tokens` the provider read from its prompt cache (billed at its cached
    rate). `estimated` marks usage Anima estimated because the call broke before the provider
    reported it.
    """

    time: float  # UTC epoch seconds
    provider: str  # connection (config entry) id
    preset: str  # preset id, "wyoming" for Wyoming connections
    kind: Kind
    model: str | None = None
    voice: str | None = None
    endpoint: str | None = None  # Home Assistant device id, None when no device asked
    profile: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    characters_saved: int = 0
    latency_ms: int = 0
    outcome: str = OUTCOME_OK  # the router's Outcome value, or "fallback"
    cost: Decimal = ZERO
    currency: str = ""
    priced: bool = False
    # Added after the first release: rows stored before them are shorter (see `record_from_row`).
    cached_input_tokens: int = 0
    estimated: bool = False

    def __post_init__(self) -> None:
        kind: object = self.kind
        if not isinstance(kind, Kind):
            object.__setattr__(self, "kind", Kind(str(kind)))

    @classmethod
    def from_attempt(
        cls,
        attempt: Attempt,
        *,
        preset: str,
        kind: Kind,
        when: float | None = None,
        endpoint: str | None = None,
        profile: str | None = None,
        voice: str | None = None,
        usage: Usage | None = None,
        characters_saved: int = 0,
        fallback: bool = False,
    ) -> UsageRecord:
        """Build the record of one router `Attempt` (`routing.Router(on_attempt=...)`).

        `usage` replaces the attempt's own (speech synthesis reports none: pass the characters
        sent and the seconds spoken). `fallback` marks a successful answer from a later route.
        """
        used = usage if usage is not None else attempt.usage
        outcome = str(attempt.outcome)
        if fallback and outcome == OUTCOME_OK:
            outcome = OUTCOME_FALLBACK
        return cls(
            time=time.time() if when is None else when,
            provider=attempt.provider_id,
            preset=preset,
            kind=kind,
            model=attempt.model,
            voice=voice,
            endpoint=endpoint,
            profile=profile,
            input_tokens=used.input_tokens if used else 0,
            output_tokens=used.output_tokens if used else 0,
            cached_input_tokens=used.cached_input_tokens if used else 0,
            images=used.images if used else 0,
            audio_seconds=used.audio_seconds if used else 0.0,
            characters=used.characters if used else 0,
            characters_saved=characters_saved,
            latency_ms=round(attempt.latency * 1000),
            outcome=outcome,
            estimated=attempt.estimated,
        )

    @property
    def succeeded(self) -> bool:
        """Whether the call answered (first route or fallback)."""
        return self.outcome in SUCCESS_OUTCOMES


type Row = tuple[Any, ...]


def row_of(record: UsageRecord) -> Row:
    """Return the JSON-ready storage form of a priced record."""
    return (
        record.time,
        record.provider,
        record.preset,
        str(record.kind),
        record.model,
        record.voice,
        record.endpoint,
        record.profile,
        record.input_tokens,
        record.output_tokens,
        record.images,
        record.audio_seconds,
        record.characters,
        record.characters_saved,
        record.latency_ms,
        record.outcome,
        str(record.cost),
        record.currency,
        record.priced,
        record.cached_input_tokens,
        record.estimated,
    )


ROW_FIELDS: Final = tuple(item.name for item in fields(UsageRecord))
ROW_LENGTH: Final = len(ROW_FIELDS)
#: The lengths of rows this and earlier versions stored (fields are only ever added at the end).
ROW_LENGTHS: Final = frozenset({ROW_LENGTH, ROW_LENGTH - 2})


def stored_row(row: object) -> Row | None:
    """Return a stored row as the ledger keeps it (as it was stored), None if malformed.

    Rows of an earlier version are shorter; they are kept as they are (so saving them again
    writes them unchanged) and read with today's later fields at their defaults.
    """
    if not isinstance(row, (list, tuple)) or len(row) not in ROW_LENGTHS:
        return None
    return tuple(row)


def record_from_row(row: tuple[Any, ...] | list[Any]) -> UsageRecord:
    """Read `row_of` output back (the row's order is the dataclass's field order)."""
    if len(row) not in ROW_LENGTHS:
        raise ValueError(f"a ledger row of {len(row)} fields, not {ROW_LENGTH}")
    defaults = tuple(item.default for item in fields(UsageRecord)[len(row) :])
    values = dict(zip(ROW_FIELDS, (*row, *defaults), strict=True))
    values["cost"] = Decimal(values["cost"])
    return UsageRecord(**values)
