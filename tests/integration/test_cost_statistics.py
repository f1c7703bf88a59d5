"""Long-term statistics of the cost sensors, with Home Assistant's real recorder: compiled as
spending happens, and still one coherent line after the house switches currency."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import conversation
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import validate_statistics
from homeassistant.core import Context, HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    statistics_during_period,
)

from custom_components.anima.core.profiles import PROFILE_AGENT, Link
from custom_components.anima.runtime.data import AnimaData
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import add_hub, add_openai, profile

COST = "sensor.anima_cost_today"
TURN = 0.00096  # gpt-4.1-mini, 1,200 in + 300 out, in dollars
START = datetime(2026, 3, 2, 10, 0, 10, tzinfo=dt_util.UTC)


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """The recorder's database is prepared before Home Assistant starts (phcc's hook)."""


@pytest.fixture
def enable_statistics() -> bool:
    """The recorder compiles statistics when asked, as it does outside tests."""
    return True


@pytest.fixture(autouse=True)
def recorded(recorder_mock: Recorder) -> None:
    """Every test here runs with the recorder."""


async def _anima(hass: HomeAssistant, server: FakeOpenAIServer) -> Any:
    hass.config.currency = "USD"
    cloud = await add_openai(hass, server, "OpenAI", preset="openai")
    return await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    )


async def _turn(
    hass: HomeAssistant, server: FakeOpenAIServer, freezer: FrozenDateTimeFactory
) -> None:
    freezer.tick(1)  # after what was recorded before
    server.reply(Reply.text("Hi there.", usage=(1200, 300)))
    await conversation.async_converse(
        hass, "Hello", None, Context(), "en", agent_id="conversation.anima_assistant"
    )
    await async_wait_recording_done(hass)


async def _compile(hass: HomeAssistant, freezer: FrozenDateTimeFactory, period: datetime) -> None:
    """Compile the five minutes from `period`, as the recorder does once they are over."""
    freezer.move_to(period + timedelta(minutes=5, seconds=10))
    do_adhoc_statistics(hass, start=period)
    await async_wait_recording_done(hass)


def _rows(hass: HomeAssistant) -> list[dict[str, Any]]:
    stats = statistics_during_period(
        hass, START - timedelta(hours=1), None, {COST}, "5minute", None, {"state", "sum"}
    )
    return [{"state": row["state"], "sum": row["sum"]} for row in stats.get(COST, [])]


def _unit(hass: HomeAssistant) -> str | None:
    from homeassistant.components.recorder.statistics import get_metadata  # noqa: PLC0415

    return get_metadata(hass, statistic_ids={COST})[COST][1]["unit_of_measurement"]


async def test_cost_sensors_get_long_term_statistics(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    await _anima(hass, openai_server)
    await _turn(hass, openai_server, freezer)
    await _compile(hass, freezer, START.replace(second=0))
    await _turn(hass, openai_server, freezer)
    await _compile(hass, freezer, START.replace(minute=5, second=0))
    rows = await hass.async_add_executor_job(_rows, hass)
    # The sensor starts at 0 when Anima is set up: the sum counts every call from there.
    assert rows == [
        {"state": pytest.approx(TURN), "sum": pytest.approx(TURN)},
        {"state": pytest.approx(2 * TURN), "sum": pytest.approx(2 * TURN)},
    ]
    assert await hass.async_add_executor_job(_unit, hass) == "USD"


async def test_switching_currency_converts_the_statistics_into_one_coherent_line(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(START)
    hub = await _anima(hass, openai_server)
    await _turn(hass, openai_server, freezer)
    await _compile(hass, freezer, START.replace(second=0))  # 10:00-10:05, in dollars
    await _turn(hass, openai_server, freezer)  # at 10:05:10
    # The house switches to euros at 0.5 per dollar, in the middle of 10:05-10:10.
    freezer.move_to(START.replace(minute=7))
    hass.config_entries.async_update_entry(hub, options={"currency": "EUR", "usd_rate": 0.5})
    await hass.async_block_till_done()
    assert hass.states.get(COST).state == "unavailable"  # until the statistics are converted
    # The period ends: it is compiled in dollars, then everything becomes euros.
    freezer.move_to(START.replace(minute=10, second=2))
    async_fire_time_changed(hass, dt_util.utcnow())
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)
    assert not AnimaData.of(hass).meter.money.converting
    state = hass.states.get(COST)
    assert Decimal(state.state) == Decimal("0.00096")  # USD 0.00192 at 0.5
    assert state.attributes["unit_of_measurement"] == "EUR"
    await _turn(hass, openai_server, freezer)  # in euros now
    await _compile(hass, freezer, START.replace(minute=10, second=0))
    rows = await hass.async_add_executor_job(_rows, hass)
    # As if the house had always counted in euros at 0.5: one line, no jump, no gap.
    assert rows == [
        {"state": pytest.approx(TURN / 2), "sum": pytest.approx(TURN / 2)},
        {"state": pytest.approx(TURN), "sum": pytest.approx(TURN)},
        {"state": pytest.approx(3 * TURN / 2), "sum": pytest.approx(3 * TURN / 2)},
    ]
    assert await hass.async_add_executor_job(_unit, hass) == "EUR"
    issues = await hass.async_add_executor_job(validate_statistics, hass)
    assert COST not in issues  # no "units changed" for the user to fix
