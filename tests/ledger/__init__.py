"""Tests of the cost ledger, prices and budgets, with the stores and clocks they share."""

from __future__ import annotations

import asyncio
from datetime import datetime
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from custom_components.anima.core.ledger import (
    Kind,
    Ledger,
    MemoryStore,
    PriceBook,
    PriceTable,
    UsageRecord,
)

# Round prices chosen for the arithmetic in the tests, not the real ones (test_prices checks
# those separately), so a price update in prices.json never breaks a budget test.
TEST_TABLES = {
    "openai": PriceTable.from_dict(
        {
            "currency": "USD",
            "models": {
                "chat-model": {"input_per_1m": "0.40", "output_per_1m": "1.60"},
                "vision-model": {
                    "input_per_1m": "1.00",
                    "output_per_1m": "4.00",
                    "per_image": "0.002",
                },
                "stt-model": {"audio_per_minute": "0.006"},
                "tts-standard": {"characters_per_1m": "15"},
                "tts-neural": {"audio_per_minute": "0.015"},
            },
        }
    ),
    "doubao": PriceTable.from_dict(
        {"currency": "CNY", "models": {"doubao-chat": {"input_per_1m": "1", "output_per_1m": "2"}}}
    ),
    "wyoming": PriceTable.from_dict({"currency": "USD", "models": {"*": {}}}),
}

BERLIN = ZoneInfo("Europe/Berlin")


def book(**kwargs: Any) -> PriceBook:
    """Return a price book over TEST_TABLES."""
    return PriceBook(TEST_TABLES, **kwargs)


def at(text: str, tz: ZoneInfo = BERLIN) -> float:
    """Return the epoch time of a local wall-clock time such as "2026-03-31 23:59"."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def chat(when: float, **kwargs: Any) -> UsageRecord:
    """Return a chat call on connection "cloud" (1,000 in + 100 out tokens by default)."""
    values: dict[str, Any] = {
        "provider": "cloud",
        "preset": "openai",
        "kind": Kind.CHAT,
        "model": "chat-model",
        "input_tokens": 1000,
        "output_tokens": 100,
    }
    values.update(kwargs)
    return UsageRecord(time=when, **values)


class FakeClock:
    """The ledger's wall clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class JsonFileStore:
    """A `Store` that writes JSON to a file, as Home Assistant's storage helper does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    async def save(self, data: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(data), encoding="utf-8")
        self.saves += 1


class FlakyStore(MemoryStore):
    """A memory store whose next `failures` saves raise OSError (a full or read-only disk)."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    async def save(self, data: dict[str, Any]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise OSError("No space left on device")
        await super().save(data)


class GatedStore(MemoryStore):
    """A memory store whose saves wait until `gate` is set: a slow disk, held open by a test."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def save(self, data: dict[str, Any]) -> None:
        self.started.set()
        await self.gate.wait()
        await super().save(data)


async def reopen(store: Any, **kwargs: Any) -> Ledger:
    """Return a new ledger on `store`, loaded: what Home Assistant does after a restart."""
    ledger = Ledger(store, kwargs.pop("prices", book()), **kwargs)
    await ledger.load()
    return ledger
