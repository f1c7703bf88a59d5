"""What a call costs: exact prices, unknown models, overrides, currencies, the default table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from custom_components.anima.core.ledger import (
    OUTCOME_CACHE_HIT,
    ZERO,
    Kind,
    Ledger,
    MemoryStore,
    PriceBook,
    PriceError,
    PriceTable,
    UsageRecord,
    default_tables,
)
from custom_components.anima.providers.presets import CUSTOM, PRESETS

from . import TEST_TABLES, book, chat

NOW = 1_780_000_000.0


def test_chat_call_costs_its_tokens_exactly() -> None:
    # 1,234 x 0.40/1M + 567 x 1.60/1M = 0.0004936 + 0.0009072
    record = book().price(chat(NOW, input_tokens=1234, output_tokens=567))
    assert record.cost == Decimal("0.0014008")
    assert record.currency == "USD"
    assert record.priced


def test_vision_call_adds_per_image_price_to_tokens() -> None:
    record = book().price(
        chat(NOW, kind=Kind.VISION, model="vision-model", input_tokens=900, images=2)
    )
    # 900 x 1.00/1M + 100 x 4.00/1M + 2 x 0.002 = 0.0009 + 0.0004 + 0.004
    assert record.cost == Decimal("0.0053")


def test_speech_to_text_costs_per_minute_heard() -> None:
    record = book().price(
        UsageRecord(NOW, "cloud", "openai", Kind.STT, model="stt-model", audio_seconds=3.5)
    )
    assert record.cost == Decimal("0.00035")  # 3.5 / 60 x 0.006


def test_text_to_speech_costs_per_character_or_per_minute_spoken() -> None:
    standard = book().price(
        UsageRecord(NOW, "cloud", "openai", Kind.TTS, model="tts-standard", characters=220)
    )
    neural = book().price(
        UsageRecord(
            NOW,
            "cloud",
            "openai",
            Kind.TTS,
            model="tts-neural",
            characters=220,
            audio_seconds=16.0,
        )
    )
    assert standard.cost == Decimal("0.0033")  # 220 x 15/1M
    assert neural.cost == Decimal("0.004")  # 16 / 60 x 0.015


def test_a_month_of_tiny_calls_adds_up_exactly() -> None:
    """Why money is Decimal: 10,000 one-character calls at 15/1M are exactly 0.15."""
    ledger = Ledger(MemoryStore(), book())
    for i in range(10_000):
        ledger.record(
            UsageRecord(NOW + i, "cloud", "openai", Kind.TTS, model="tts-standard", characters=1)
        )
    assert ledger.month(NOW).cost == Decimal("0.15")
    assert str(ledger.month(NOW).cost) == "0.1500000000"
    running = 0.0
    for _ in range(10_000):
        running += 15 / 1_000_000
    assert running != 0.15  # what a float running total would have shown


def test_unknown_model_is_flagged_not_free() -> None:
    ledger = Ledger(MemoryStore(), book())
    record = ledger.record(chat(NOW, model="gpt-9-ultra"))
    assert (record.cost, record.priced) == (ZERO, False)
    today = ledger.day(NOW)
    assert (today.records, today.unpriced, today.cost) == (1, 1, ZERO)


def test_custom_service_without_prices_is_flagged() -> None:
    record = book().price(chat(NOW, preset=CUSTOM, model="chat-model"))
    assert not record.priced


def test_local_services_cost_nothing_and_say_so() -> None:
    record = book().price(
        UsageRecord(NOW, "piper", "wyoming", Kind.TTS, voice="en_GB-alba", characters=500)
    )
    assert (record.cost, record.priced) == (ZERO, True)


def test_voice_priced_per_minute_without_seconds_is_unknown() -> None:
    """A per-minute voice and a record with characters only: cost unknown, not zero."""
    record = book().price(
        UsageRecord(NOW, "cloud", "openai", Kind.TTS, model="tts-neural", characters=220)
    )
    assert not record.priced


def test_failed_call_without_usage_costs_nothing_and_is_priced() -> None:
    record = book().price(chat(NOW, input_tokens=0, output_tokens=0, outcome="failed"))
    assert (record.cost, record.priced, record.succeeded) == (ZERO, True, False)


def test_dated_snapshots_find_their_model() -> None:
    prices = PriceBook()
    for preset, model, base in (
        ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("openai", "GPT-4o-mini", "gpt-4o-mini"),
        ("doubao", "doubao-seed-1-6-flash-250828", "doubao-seed-1-6-flash"),
    ):
        assert prices.lookup("c", preset, model) == prices.lookup("c", preset, base)
        assert prices.lookup("c", preset, model) is not None
    # A different model is not a snapshot of a shorter name.
    assert prices.lookup("c", "openai", "gpt-4.1-mini-search") is None


def test_override_wins_for_its_connection_only() -> None:
    prices = book(
        overrides={
            "mine": {
                "currency": "USD",
                "models": {"chat-model": {"input_per_1m": "1", "output_per_1m": "0"}},
            }
        }
    )
    mine = prices.price(chat(NOW, provider="mine"))
    theirs = prices.price(chat(NOW, provider="theirs"))
    assert mine.cost == Decimal("0.001")  # 1,000 x 1/1M; output free
    assert theirs.cost == Decimal("0.00056")  # the preset's 0.40 / 1.60
    # Models the override does not list keep the preset's price.
    assert prices.price(chat(NOW, provider="mine", model="vision-model")).priced


def test_override_prices_a_custom_service() -> None:
    prices = book(overrides={"lan": {"currency": "USD", "models": {"*": {}}}})
    record = prices.price(chat(NOW, provider="lan", preset=CUSTOM, model="anything"))
    assert (record.cost, record.priced) == (ZERO, True)


def test_invalid_override_names_the_bad_key() -> None:
    with pytest.raises(PriceError, match="input_per_m"):
        PriceTable.from_dict({"models": {"x": {"input_per_m": 1}}})
    with pytest.raises(PriceError, match="output_per_1m"):
        PriceTable.from_dict({"models": {"x": {"output_per_1m": "-1"}}})


def test_price_in_other_currency_stays_apart_without_a_rate() -> None:
    ledger = Ledger(MemoryStore(), book(currency="EUR"))
    record = ledger.record(chat(NOW, provider="ark", preset="doubao", model="doubao-chat"))
    assert (record.cost, record.currency) == (Decimal("0.0012"), "CNY")
    assert ledger.day(NOW).cost == 0  # never mixed into euros
    assert ledger.day(NOW).other_costs == {"CNY": Decimal("0.0012")}


def test_price_converts_with_a_user_rate() -> None:
    ledger = Ledger(MemoryStore(), book(currency="EUR", rates={"CNY": "0.125", "USD": "0.9"}))
    ark = ledger.record(chat(NOW, provider="ark", preset="doubao", model="doubao-chat"))
    cloud = ledger.record(chat(NOW))
    assert (ark.cost, ark.currency) == (Decimal("0.00015"), "EUR")  # 0.0012 CNY x 0.125
    assert (cloud.cost, cloud.currency) == (Decimal("0.000504"), "EUR")  # 0.00056 USD x 0.9
    assert ledger.day(NOW).cost == Decimal("0.000654")
    assert ledger.day(NOW).other_costs == {}


def test_default_table_prices_every_suggested_cloud_model() -> None:
    """No model the connection flow suggests shows "no price known" out of the box."""
    prices = PriceBook()
    for preset in PRESETS.values():
        models = {
            *preset.chat_models,
            *preset.vision_models,
            *preset.stt_models,
            *preset.tts_models,
        }
        for model in models:
            assert prices.lookup("c", preset.id, model) is not None, (preset.id, model)


def test_default_table_local_services_are_free() -> None:
    prices = PriceBook()
    for preset in ("ollama", "local_server", "wyoming"):
        price = prices.lookup("c", preset, "whatever-model")
        assert price is not None
        assert price.free
    assert prices.lookup("c", CUSTOM, "whatever-model") is None


def test_default_table_round_trips_as_override_shape() -> None:
    for table in default_tables().values():
        assert PriceTable.from_dict(table.to_dict()) == table
    assert set(TEST_TABLES) <= set(default_tables())


def test_cached_prompt_tokens_cost_the_cached_rate() -> None:
    tables = {
        "openai": PriceTable.from_dict(
            {
                "currency": "USD",
                "models": {
                    "chat-model": {
                        "input_per_1m": "0.40",
                        "cached_input_per_1m": "0.10",
                        "output_per_1m": "1.60",
                    },
                    "no-cache-price": {"input_per_1m": "0.40"},
                },
            }
        )
    }
    prices = PriceBook(tables)
    # 2,000 prompt tokens of which 1,536 from the cache: 464 x 0.40 + 1,536 x 0.10 (+ 100 out).
    record = prices.price(chat(NOW, input_tokens=2000, cached_input_tokens=1536))
    assert record.cost == Decimal("0.0001856") + Decimal("0.0001536") + Decimal("0.00016")
    # A service with no cached rate bills cached tokens like any others.
    plain = prices.price(
        chat(NOW, model="no-cache-price", input_tokens=2000, cached_input_tokens=1536)
    )
    assert plain.cost == Decimal("0.0008")
    # A provider claiming more cached tokens than it was sent is believed up to the prompt.
    lying = prices.price(chat(NOW, input_tokens=100, output_tokens=0, cached_input_tokens=10**9))
    assert lying.cost == Decimal("0.00001")


def test_default_table_has_cached_rates_below_the_input_rates() -> None:
    cached = [
        price
        for table in default_tables().values()
        for price in table.models.values()
        if price.cached_input_per_1m is not None
    ]
    assert len(cached) >= 10
    assert all(price.cached_input_per_1m < price.input_per_1m for price in cached)
    gpt = default_tables()["openai"].find("gpt-4.1-mini", None)
    assert gpt is not None
    assert gpt.cached_input_per_1m == Decimal("0.10")


def test_a_speech_cache_hit_costs_nothing_and_counts_what_it_saved() -> None:
    ledger = Ledger(MemoryStore(), book(), clock=lambda: NOW)
    hit = ledger.record(
        UsageRecord(
            NOW,
            "cloud",
            "openai",
            Kind.TTS,
            model="tts-standard",
            characters=1000,
            outcome=OUTCOME_CACHE_HIT,
        )
    )
    assert (hit.cost, hit.succeeded) == (ZERO, True)
    day = ledger.day(NOW)
    assert (day.cost, day.saved, day.cache_hits) == (ZERO, Decimal("0.015"), 1)
    assert day.tts_characters == 0  # nothing was sent to a voice
