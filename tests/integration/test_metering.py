"""Every provider call lands in the cost ledger; usage sensors show it for the house, each
provider and each profile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

from homeassistant.components import conversation, stt
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
import pytest_asyncio
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.anima.const import DOMAIN
from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai, add_wyoming, profile

# gpt-4.1-mini in prices.json: USD 0.40 per 1M input tokens, 1.60 per 1M output tokens.
TURN_COST = Decimal("1200") * Decimal("0.40") / 10**6 + Decimal("300") * Decimal("1.60") / 10**6


@pytest_asyncio.fixture
async def backup(socket_enabled: None) -> AsyncIterator[FakeOpenAIServer]:
    """A second provider, for fallbacks."""
    async with FakeOpenAIServer() as server:
        yield server


def _value(hass: HomeAssistant, entity_id: str) -> Decimal:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return Decimal(state.state)


async def _converse(hass: HomeAssistant, text: str = "Hello") -> None:
    await conversation.async_converse(
        hass, text, None, Context(), "en", agent_id="conversation.anima_assistant"
    )


async def test_a_turn_is_priced_and_shown_for_house_provider_and_profile(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "USD"  # costs are shown in Home Assistant's currency
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]))
    openai_server.reply(Reply.text("Hi there.", usage=(1200, 300)))
    await _converse(hass)
    await hass.async_block_till_done()
    for entity_id in (
        "sensor.anima_cost_today",
        "sensor.anima_cost_this_month",
        "sensor.openai_cost_today",
        "sensor.anima_assistant_cost_today",
    ):
        assert _value(hass, entity_id) == TURN_COST, entity_id
    state = hass.states.get("sensor.anima_cost_today")
    assert state.attributes["unit_of_measurement"] == "USD"
    assert state.attributes["state_class"] == "total"
    assert state.attributes["device_class"] == "monetary"
    assert _value(hass, "sensor.anima_tokens_today") == 1500
    (record,) = AnimaData.of(hass).meter.ledger.records()
    assert (record.kind, record.model, record.outcome) == (Kind.CHAT, "gpt-4.1-mini", "ok")
    assert record.profile is not None


async def test_failed_attempts_and_the_fallback_are_both_recorded(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    first = await add_openai(hass, openai_server, "Primary", preset="openai")
    second = await add_openai(hass, backup, "Backup")
    chain = [Link(first.entry_id, "gpt-4.1-mini"), Link(second.entry_id, "gpt-4o-mini")]
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", chain))
    openai_server.reply(Reply.error(503))
    await _converse(hass)
    records = AnimaData.of(hass).meter.ledger.records()
    assert [(r.provider, r.outcome) for r in records] == [
        (first.entry_id, "failed"),
        (second.entry_id, "fallback"),
    ]
    assert records[1].priced is False  # a custom service has no known price: unknown, not free


async def test_a_stream_that_broke_after_speaking_is_billed_as_an_estimate(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """The provider billed the prompt and what it streamed, though it never sent usage."""
    hass.config.currency = "USD"
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]))
    openai_server.reply(Reply.disconnect(after_chunks=3, text="The weather today is sunny and"))
    await _converse(hass, "What is the weather like?")
    await hass.async_block_till_done()
    (record,) = AnimaData.of(hass).meter.ledger.records()
    assert (record.outcome, record.estimated) == ("failed", True)
    assert record.input_tokens > 10  # the system prompt and the question, at least
    assert record.output_tokens > 0
    assert record.cost > 0
    assert _value(hass, "sensor.anima_cost_today") == record.cost


async def test_a_stream_refused_before_it_began_costs_nothing(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]))
    openai_server.reply(Reply.error(503))
    await _converse(hass)
    (record,) = AnimaData.of(hass).meter.ledger.records()
    assert (record.outcome, record.estimated, record.input_tokens) == ("failed", False, 0)


async def test_speech_is_metered_in_seconds_and_characters(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = await add_wyoming(hass, piper_server, "Piper")
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    await add_hub(
        hass,
        profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice="en_US-joe-medium")]),
        profile(PROFILE_LISTENER, "Listener", [Link(whisper.entry_id)]),
    )
    voice = hass.data["tts"].get_entity("tts.anima_voice")
    assert isinstance(voice, AnimaTextToSpeechEntity)
    await voice.async_get_tts_audio("The door is open. The light is on 🙂.", "en", {})

    async def silence() -> AsyncIterator[bytes]:
        yield b"\0" * 32000  # one second at 16 kHz

    listener = stt.async_get_speech_to_text_entity(hass, "stt.anima_listener")
    metadata = stt.SpeechMetadata(
        "en",
        stt.AudioFormats.WAV,
        stt.AudioCodecs.PCM,
        stt.AudioBitRates.BITRATE_16,
        stt.AudioSampleRates.SAMPLERATE_16000,
        stt.AudioChannels.CHANNEL_MONO,
    )
    await listener.async_process_audio_stream(metadata, silence())
    await hass.async_block_till_done()
    records = AnimaData.of(hass).meter.ledger.records()
    spoken = [r for r in records if r.kind is Kind.TTS]
    assert [r.characters for r in spoken] == [len("The door is open."), len("The light is on.")]
    assert sum(r.characters_saved for r in spoken) == 2  # the emoji and its space
    assert all(0.5 < r.audio_seconds < 3 for r in spoken)
    assert {r.voice for r in spoken} == {"en_US-joe-medium"}
    (heard,) = [r for r in records if r.kind is Kind.STT]
    assert heard.audio_seconds == pytest.approx(1.0)
    assert _value(hass, "sensor.anima_speech_characters_today") == sum(r.characters for r in spoken)
    assert _value(hass, "sensor.anima_cost_today") == 0  # local services are free


async def test_a_connections_own_prices_apply_from_the_next_call(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "USD"
    cloud = await add_openai(hass, openai_server, "Custom")
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "my-model")]))
    openai_server.reply(Reply.text("Hi.", usage=(1000, 1000)))
    await _converse(hass)
    assert AnimaData.of(hass).meter.ledger.records()[-1].priced is False  # nobody knows my-model

    result = await hass.config_entries.options.async_init(cloud.entry_id)
    assert result["menu_options"] == ["prices", "patience"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "prices"}
    )
    assert result["step_id"] == "prices"
    assert er.async_get(hass).async_get("sensor.custom_cost_today").disabled  # nothing priced
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"input_per_1m": 1.0, "output_per_1m": 2.0}
    )
    await hass.async_block_till_done()
    # Priced now: its cost sensors are enabled, and appear when Home Assistant reloads it.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done()
    openai_server.reply(Reply.text("Hi.", usage=(1000, 1000)))
    await _converse(hass)
    last = AnimaData.of(hass).meter.ledger.records()[-1]
    assert last.priced is True
    assert last.cost == Decimal("0.003")  # 1000 * 1.0 / 1M + 1000 * 2.0 / 1M
    assert _value(hass, "sensor.custom_cost_today") == Decimal("0.003")  # the first was unknown


async def test_costs_are_shown_and_budgets_set_in_the_users_currency(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "USD"
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    )
    openai_server.reply(Reply.text("Hi there.", usage=(1200, 300)))
    await _converse(hass)
    # 1 USD = 0.5 EUR; a daily budget of 0.0006 EUR is 0.0012 USD: 80% used -> warning.
    hass.config_entries.async_update_entry(
        hub, options={"currency": "eur", "usd_rate": 0.5, "house_daily": 0.0006}
    )
    await hass.async_block_till_done()
    state = hass.states.get("sensor.anima_cost_today")
    assert state.attributes["unit_of_measurement"] == "EUR"
    assert Decimal(state.state) == TURN_COST / 2
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "budget_house")
    assert issue is not None
    assert issue.translation_key == "budget_warning"
    assert issue.translation_placeholders["currency"] == "EUR"
    assert issue.translation_placeholders["limit"] == "0.0006"
    # The ledger itself stays in USD: switching back shows the same spending in dollars.
    hass.config_entries.async_update_entry(hub, options={})
    await hass.async_block_till_done()
    assert _value(hass, "sensor.anima_cost_today") == TURN_COST
