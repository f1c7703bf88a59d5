"""Money right in Home Assistant: the house's currency, yuan that count, refused gaps, billing
plans in a connection's options, the speech cache's hits and the images sensor."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import issue_registry as ir, llm
import pytest

from custom_components.anima.const import DOMAIN, HOUSE_DAILY
from custom_components.anima.core.endpoints import CAMERA, VISION_MODE
from custom_components.anima.core.ledger import OUTCOME_CACHE_HIT, Kind, reference_rates
from custom_components.anima.core.profiles import (
    LLM_HASS_API,
    POLICY,
    PROFILE_AGENT,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    add_wyoming,
    endpoint,
    porch_camera,
    profile,
    satellite_device,
)

AGENT = "conversation.anima_assistant"
# gpt-4.1-mini: USD 0.40 per 1M input tokens, 1.60 per 1M output tokens (prices.json).
TURN_COST = Decimal("0.00096")  # 1,200 in + 300 out


def _value(hass: HomeAssistant, entity_id: str) -> Decimal:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return Decimal(state.state)


async def _agent(
    hass: HomeAssistant, server: FakeOpenAIServer, preset: str = "openai", model: str = ""
) -> Any:
    cloud = await add_openai(hass, server, "Cloud", preset=preset)
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, model or "gpt-4.1-mini")])
    )
    return cloud, hub


async def _turn(hass: HomeAssistant, server: FakeOpenAIServer, usage: tuple[int, int]) -> None:
    server.reply(Reply.text("Hi there.", usage=usage))
    await conversation.async_converse(hass, "Hello", None, Context(), "en", agent_id=AGENT)
    await hass.async_block_till_done()


async def test_costs_are_shown_in_home_assistants_currency_by_default(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "EUR"
    await _agent(hass, openai_server)
    await _turn(hass, openai_server, (1200, 300))
    state = hass.states.get("sensor.anima_cost_today")
    assert state is not None
    assert state.attributes["unit_of_measurement"] == "EUR"
    euros = TURN_COST * reference_rates().per_base["EUR"]  # no rate given: the reference
    assert Decimal(state.state) == euros
    # The ledger keeps dollars: the record is the same in any house.
    (record,) = AnimaData.of(hass).meter.ledger.records()
    assert (record.cost, record.currency) == (TURN_COST, "USD")


async def test_doubaos_yuan_count_in_sensors_and_budgets(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """doubao-seed-1-6-flash: CNY 0.15 per 1M input tokens, 1.50 per 1M output tokens."""
    hass.config.currency = "USD"
    openai_server.models = ["doubao-seed-1-6-flash-250828"]
    _, hub = await _agent(hass, openai_server, "doubao", "doubao-seed-1-6-flash-250828")
    # 1 CNY = 0.14 USD: a daily budget of USD 0.0001 is CNY 0.000714...
    hass.config_entries.async_update_entry(hub, options={"cny_rate": 0.14, HOUSE_DAILY: 0.0001})
    await hass.async_block_till_done()
    await _turn(hass, openai_server, (1000, 500))  # CNY 0.00015 + 0.00075 = CNY 0.0009
    assert _value(hass, "sensor.anima_cost_today") == Decimal("0.000126")  # x 0.14
    assert AnimaData.of(hass).meter.ledger.day().other_costs == {}  # nothing dropped out
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "budget_house")
    assert issue is not None
    assert issue.translation_key == "budget_exceeded"  # the yuan counted


async def test_a_currency_without_a_rate_is_refused_in_the_form(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "EUR"
    openai_server.models = ["doubao-seed-1-6-flash-250828"]
    await add_openai(hass, openai_server, "Doubao", preset="doubao")  # priced in yuan
    hub = await add_hub(hass)
    flow = await hass.config_entries.options.async_init(hub.entry_id)
    # The form suggests Home Assistant's currency and the reference rates of the prices'.
    schema = {str(key): key for key in flow["data_schema"].schema}
    assert schema["currency"].description["suggested_value"] == "EUR"
    assert schema["usd_rate"].description["suggested_value"] == pytest.approx(0.87)
    assert schema["cny_rate"].description["suggested_value"] == pytest.approx(0.87 / 7.18)
    # A currency Anima has no rate for, and no rate given: refused, naming the field.
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"currency": "ISK", "warning_percent": 80}
    )
    assert result["errors"] == {"cny_rate": "rate_required"}
    assert result["description_placeholders"] == {"currency": "ISK", "missing": "CNY"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"currency": "ISK", "cny_rate": 19, "warning_percent": 80}
    )
    assert result["errors"] == {"usd_rate": "rate_required"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"currency": "ISK", "usd_rate": 138, "cny_rate": 19, "warning_percent": 80}
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert AnimaData.of(hass).meter.currency == "ISK"
    # Not a currency at all: the form does not take it.
    flow = await hass.config_entries.options.async_init(hub.entry_id)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            flow["flow_id"], {"currency": "euro", "warning_percent": 80}
        )


async def test_a_house_currency_anima_has_no_rate_for_shows_dollars_and_says_why_once(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Home Assistant counts in krónur, with no rate given: costs in dollars, one warning.
    A rate of dollars given, a connection priced in yuan added later: its costs are left out."""
    hass.config.currency = "ISK"
    _, hub = await _agent(hass, openai_server)
    await _turn(hass, openai_server, (1200, 300))
    state = hass.states.get("sensor.anima_cost_today")
    assert state is not None
    assert state.attributes["unit_of_measurement"] == "USD"
    assert Decimal(state.state) == TURN_COST
    hass.config_entries.async_update_entry(hub, options={**hub.options})  # shown again
    await hass.async_block_till_done()
    assert caplog.text.count("No rate of USD in ISK is known; showing dollars") == 1

    flow = await hass.config_entries.options.async_init(hub.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"currency": "ISK", "usd_rate": 138, "warning_percent": 80}
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert AnimaData.of(hass).meter.currency == "ISK"
    openai_server.models = ["doubao-seed-1-6-flash-250828"]
    await add_openai(hass, openai_server, "Doubao", preset="doubao")  # priced in yuan
    assert caplog.text.count("No rate of CNY in ISK: its costs are not counted") == 1


async def test_a_rate_of_zero_is_refused_and_the_currency_stays(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "EUR"
    await add_openai(hass, openai_server, "Cloud", preset="openai")  # priced in dollars
    hub = await add_hub(hass)
    flow = await hass.config_entries.options.async_init(hub.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"currency": "ISK", "usd_rate": 0, "warning_percent": 80}
    )
    assert result["errors"] == {"base": "invalid_rate"}
    assert hub.options == {}
    assert AnimaData.of(hass).meter.currency == "EUR"


async def test_a_wyoming_connection_has_prices_in_a_currency_anima_can_count(
    hass: HomeAssistant, piper_server: SpeechServer
) -> None:
    hass.config.currency = "EUR"
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass)
    # No first token to wait for: its options are its prices, without the menu.
    result = await hass.config_entries.options.async_init(piper.entry_id)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "prices")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"price_currency": "ISK", "characters_per_1m": 2000}
    )
    assert result["errors"] == {"price_currency": "price_currency_without_rate"}
    assert piper.options == {}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"price_currency": "USD", "characters_per_1m": 15}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert piper.options == {"price_currency": "USD", "characters_per_1m": 15}


async def test_a_prepaid_package_makes_calls_free_until_its_quota_and_compares_plans(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "USD"
    cloud, hub = await _agent(hass, openai_server)
    hass.config_entries.async_update_entry(hub, options={HOUSE_DAILY: 0.001})
    flow = await hass.config_entries.options.async_init(cloud.entry_id)
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"next_step_id": "prices"}
    )
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"plan": "package", "package_fee": 5}
    )
    assert result["errors"] == {"package_included": "package_included_required"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {
            "plan": "package",
            "package_fee": 5,
            "package_included": 3000,
            "package_unit": "tokens",
            "licence_fee": 2,
        },
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    await _turn(hass, openai_server, (1200, 300))
    await _turn(hass, openai_server, (1200, 300))  # 3,000 tokens: the package is used up
    assert _value(hass, "sensor.anima_cost_today") == 0  # inside the package
    assert ir.async_get(hass).async_get_issue(DOMAIN, "budget_house") is None
    await _turn(hass, openai_server, (1200, 300))  # beyond: the price list's
    assert _value(hass, "sensor.anima_cost_today") == TURN_COST
    state = hass.states.get("sensor.anima_cost_this_month_with_plans")
    assert state is not None
    assert Decimal(state.state) == TURN_COST + 5  # the calls and the package's fee
    assert state.attributes["Cloud"] == {
        "plan": "package",
        "metered": float(round(3 * TURN_COST, 4)),
        "per_device": 2.0,  # one device (no satellite): the house
        "package": float(round(5 + TURN_COST, 4)),
        "cheapest": "metered",
    }


async def test_a_repeated_confirmation_is_played_from_the_speech_cache(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "USD"
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    voice = profile(PROFILE_VOICE, "Voice", [Link(cloud.entry_id, "tts-1", "nova")])
    voice["data"] = {**voice["data"], POLICY: {"confirmation": "expressive"}}
    await add_hub(hass, voice)
    entity = hass.data["tts"].get_entity("tts.anima_voice")
    assert isinstance(entity, AnimaTextToSpeechEntity)
    options = {"message_class": "confirmation"}

    async def say(text: str) -> bytes:
        return (await entity.async_get_tts_audio(text, "en", options))[1]

    first = await say("Turned on the kitchen light.")
    spoken = len([r for r in openai_server.requests if r.path.endswith("/audio/speech")])
    assert await say("Turned on the kitchen light.") == first  # the same audio
    asked = len([r for r in openai_server.requests if r.path.endswith("/audio/speech")])
    assert asked == spoken == 1  # the provider was asked once
    await hass.async_block_till_done()
    paid, hit = AnimaData.of(hass).meter.ledger.records()
    assert (paid.outcome, hit.outcome, hit.cost) == ("ok", OUTCOME_CACHE_HIT, 0)
    assert paid.cost > 0  # tts-1: per character
    assert _value(hass, "sensor.anima_saved_by_the_speech_cache_today") == paid.cost
    assert _value(hass, "sensor.anima_cost_today") == paid.cost
    # An answer is never kept: asked twice, spoken twice.
    await entity.async_get_tts_audio("Paris.", "en", {"message_class": "answer"})
    await entity.async_get_tts_audio("Paris.", "en", {"message_class": "answer"})
    assert len([r for r in openai_server.requests if r.path.endswith("/audio/speech")]) == 3


async def test_images_sent_to_a_vision_model_are_counted(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    kitchen = satellite_device(hass, "Kitchen")
    agent = profile(
        PROFILE_AGENT,
        "Assistant",
        [Link(cloud.entry_id, "gpt-4.1-mini")],
        **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
    )
    await add_hub(
        hass, agent, endpoint("Kitchen", kitchen, **{CAMERA: "camera.porch", VISION_MODE: "eager"})
    )
    openai_server.reply(Reply.text("A red wall."))
    await conversation.async_converse(
        hass, "What do you see?", None, Context(), "en", agent_id=AGENT, device_id=kitchen
    )
    await hass.async_block_till_done()
    (record,) = AnimaData.of(hass).meter.ledger.records()
    assert (record.kind, record.images) == (Kind.VISION, 1)
    assert _value(hass, "sensor.anima_images_today") == 1
