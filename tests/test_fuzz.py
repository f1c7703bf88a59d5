"""Parsers fed what hostile peers send: they answer with their own errors, never a crash.

Server-sent events and the chat stream assembled from them (what an OpenAI-compatible server
streams), text shaping (what a model writes) and price tables (what a user types or a file holds).
Property tests with hypothesis; the example counts keep them to seconds.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.anima.core.ledger import Kind, Price, PriceError, PriceTable, UsageRecord
from custom_components.anima.core.speech.shaping import ShapeOptions, shape
from custom_components.anima.providers.base import ProviderError
from custom_components.anima.providers.openai_chat import ChatStream
from custom_components.anima.providers.sse import SSEDecoder

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: JSON values as a lying server would nest them.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@FAST
@given(
    st.lists(
        st.text(
            alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]),
            max_size=30,
        )
    )
)
def test_sse_events_split_anywhere_come_out_whole(events: list[str]) -> None:
    """Each event's data, however the bytes are cut in transit."""
    wire = "".join(f"data: {event}\n\n" for event in events).encode()
    for cut in {0, 1, len(wire) // 3, len(wire) // 2, max(0, len(wire) - 1)}:
        decoder = SSEDecoder()
        got = decoder.feed(wire[:cut]) + decoder.feed(wire[cut:]) + decoder.close()
        assert got == [event for event in events]


@FAST
@given(st.binary(max_size=2000))
def test_sse_garbage_never_raises(data: bytes) -> None:
    decoder = SSEDecoder()
    for event in decoder.feed(data) + decoder.close():
        assert isinstance(event, str)


@FAST
@given(st.lists(st.one_of(JSON.map(json.dumps), st.text(max_size=40)), max_size=8))
def test_a_chat_stream_of_anything_fails_only_with_a_provider_error(events: list[str]) -> None:
    stream = ChatStream()
    try:
        for event in events:
            for delta in stream.feed(event):
                assert isinstance(delta.text, str)
        stream.take_tool_calls()
        stream.usage(0)
    except ProviderError:
        pass


@FAST
@given(
    st.text(max_size=400),
    st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=200)),
    st.sampled_from(["en", "de"]),
)
def test_shaping_any_text_is_speakable_and_counted(
    text: str, sentences: int | None, characters: int | None, language: str
) -> None:
    options = ShapeOptions(max_sentences=sentences, max_characters=characters, language=language)
    shaped = shape(text, options)
    assert shaped.characters_saved == len(text) - len(shaped.text)
    assert "```" not in shaped.text
    if characters is not None:
        assert len(shaped.text) <= max(characters, 0)
    if sentences == 0:
        assert shaped.text == ""


@FAST
@given(st.dictionaries(st.text(max_size=12), JSON, max_size=5))
def test_a_price_table_of_anything_is_read_or_refused_with_a_price_error(
    data: dict[str, Any],
) -> None:
    try:
        table = PriceTable.from_dict(data)
    except PriceError:
        return
    assert PriceTable.from_dict(table.to_dict()) == table


@FAST
@given(
    st.dictionaries(
        st.sampled_from(
            ["input_per_1m", "output_per_1m", "per_image", "audio_per_minute", "characters_per_1m"]
        ),
        st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
            st.integers(),
            st.text(max_size=8),
        ),
    ),
    st.integers(min_value=0, max_value=10**9),
    st.floats(min_value=0, max_value=10**6),
)
def test_any_valid_price_costs_any_record_without_raising(
    rates: dict[str, Any], tokens: int, seconds: float
) -> None:
    try:
        price = Price.from_dict(rates, "USD")
    except PriceError:
        return
    record = UsageRecord(
        0.0, "p", "openai", Kind.TTS, input_tokens=tokens, characters=tokens, audio_seconds=seconds
    )
    cost, _ = price.cost(record)
    assert cost >= 0
