"""What a user reads: connections titled by what they are, devices that say what they are,
entity ids a user would type, profile entities that say they are Anima's, no cost sensors where
nothing is priced, and forms that explain what to add first (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.anima.const import (
    API_KEY,
    BASE_URL,
    DOMAIN,
    HOST,
    KIND,
    KIND_OPENAI,
    KIND_WYOMING,
    PORT,
    PRESET,
)
from custom_components.anima.core.health import HealthState
from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.providers.presets import CUSTOM
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.wyoming_servers import closed_port
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai, add_wyoming, profile

STRINGS = json.loads(
    (Path(__file__).parents[2] / "custom_components" / "anima" / "strings.json").read_text()
)


async def _add(
    hass: HomeAssistant, kind: str, *steps: dict[str, Any]
) -> config_entries.ConfigEntry:
    """Add a connection through the config flow, as a user does; its entry once loaded."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": kind}
    )
    for step in steps:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], step)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    return entry


def _device(hass: HomeAssistant, entry: config_entries.ConfigEntry) -> dr.DeviceEntry:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert device is not None
    return device


def _ids(hass: HomeAssistant, entry: config_entries.ConfigEntry) -> dict[str, er.RegistryEntry]:
    """The entry's entities by the key of their unique id."""
    return {
        e.unique_id.removeprefix(f"{entry.entry_id}-"): e
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


async def test_a_wyoming_server_is_named_by_its_program_and_address(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = await _add(hass, KIND_WYOMING, {HOST: piper_server.host, PORT: piper_server.port})
    assert piper.title == f"Piper on {piper_server.host}:{piper_server.port}"
    device = _device(hass, piper)
    assert (device.name, device.model) == (piper.title, "Wyoming text-to-speech (Piper)")
    ids = _ids(hass, piper)
    assert ids["health"].entity_id == "sensor.piper_health"
    assert ids["cost_day"].entity_id == "sensor.piper_cost_today"
    assert ids["cost_month"].entity_id == "sensor.piper_cost_this_month"

    whisper = await _add(hass, KIND_WYOMING, {HOST: whisper_server.host, PORT: whisper_server.port})
    assert whisper.title == f"faster-whisper on {whisper_server.host}:{whisper_server.port}"
    model = _device(hass, whisper).model
    assert model == "Wyoming speech-to-text (faster-whisper)"
    assert _ids(hass, whisper)["health"].entity_id == "sensor.faster_whisper_health"


async def test_a_cloud_preset_is_named_by_the_service(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    details = {BASE_URL: openai_server.base_url, API_KEY: openai_server.api_key}
    entry = await _add(hass, KIND_OPENAI, {PRESET: "openai"}, details)
    assert entry.title == "OpenAI"  # wherever its base URL points (a proxy still bills)
    device = _device(hass, entry)
    assert (device.name, device.manufacturer, device.model) == (
        "OpenAI",
        "OpenAI",
        "OpenAI-compatible API",
    )
    ids = _ids(hass, entry)
    assert ids["cost_day"].entity_id == "sensor.openai_cost_today"
    assert ids["cost_day"].disabled_by is None  # OpenAI's models are priced
    assert hass.states.get("sensor.openai_cost_today") is not None


async def test_a_local_server_is_named_by_its_kind_and_host_and_has_no_cost_sensors(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    openai_server.api_key = None
    entry = await _add(hass, KIND_OPENAI, {PRESET: "ollama"}, {BASE_URL: openai_server.base_url})
    assert entry.title == f"Ollama on 127.0.0.1:{openai_server.port}"
    ids = _ids(hass, entry)
    assert ids["health"].entity_id == "sensor.ollama_health"
    assert ids["health"].disabled_by is None
    # Nothing it serves is priced: its cost sensors are there to enable, not shown.
    for key in ("cost_day", "cost_month"):
        assert (
            ids[key].entity_id
            == f"sensor.ollama_{'cost_today' if key == 'cost_day' else 'cost_this_month'}"
        )
        assert ids[key].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get("sensor.ollama_cost_today") is None

    # Pricing its electricity turns them on.
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"next_step_id": "prices"}
    )
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"output_per_1m": 0.2}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert all(e.disabled_by is None for e in _ids(hass, entry).values())


async def test_a_custom_base_url_says_what_it_is(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    flow = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    flow = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"next_step_id": KIND_OPENAI}
    )
    form = await hass.config_entries.flow.async_configure(flow["flow_id"], {PRESET: CUSTOM})
    # Its own step: "Connect to an OpenAI-compatible service", not "Connect to Custom base URL".
    title = STRINGS["config"]["step"][form["step_id"]]["title"]
    assert "{preset}" not in title
    assert "Custom base URL" not in title
    details = {BASE_URL: openai_server.base_url, API_KEY: openai_server.api_key}
    result = await hass.config_entries.flow.async_configure(form["flow_id"], details)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    assert entry.title == f"OpenAI-compatible API on 127.0.0.1:{openai_server.port}"
    assert _device(hass, entry).manufacturer is None  # not "Custom base URL"
    assert _ids(hass, entry)["health"].entity_id == "sensor.openai_compatible_api_health"


async def test_the_menu_options_fit_on_one_line() -> None:
    # The menu shows each option on one line: about 60 characters fit before it is cut off.
    for label in STRINGS["config"]["step"]["user"]["menu_options"].values():
        assert len(label) <= 60, label


async def test_existing_titles_stay_and_a_moved_server_keeps_its_name_right(
    hass: HomeAssistant, piper_server: SpeechServer
) -> None:
    gone, moved = closed_port(), closed_port()  # where they were: nothing answers there now
    old = MockConfigEntry(
        domain=DOMAIN,
        title=f"Piper on 127.0.0.1:{gone}",
        unique_id=f"wyoming://127.0.0.1:{gone}",
        data={KIND: KIND_WYOMING, HOST: "127.0.0.1", PORT: gone},
    )
    renamed = MockConfigEntry(
        domain=DOMAIN,
        title="Living room voice",
        unique_id=f"wyoming://127.0.0.1:{moved}",
        data={KIND: KIND_WYOMING, HOST: "127.0.0.1", PORT: moved},
    )
    old.add_to_hass(hass)
    renamed.add_to_hass(hass)
    for entry in (old, renamed):
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {HOST: piper_server.host, PORT: piper_server.port}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.config_entries.async_remove(entry.entry_id)  # the next one moves there too
    assert old.title == f"Piper on {piper_server.host}:{piper_server.port}"
    assert renamed.title == "Living room voice"


async def test_profile_entities_say_they_are_animas(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, piper_server: SpeechServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    piper = await add_wyoming(hass, piper_server, "Piper")
    joe = Link(piper.entry_id, voice="en_US-joe-medium")
    await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_AGENT, "Kitchen", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_LISTENER, "Listener", [Link(cloud.entry_id, "whisper-1")]),
        profile(PROFILE_VOICE, "Voice", [joe]),
    )

    def name(entity_id: str) -> str:
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        return str(state.attributes["friendly_name"])

    # What the pipeline editor's pickers list.
    assert name("conversation.anima_assistant") == "Anima Assistant"
    assert name("conversation.anima_kitchen") == "Anima Kitchen agent"
    assert name("stt.anima_listener") == "Anima Listener"
    assert name("tts.anima_voice") == "Anima Voice"
    # The voice's policy select and the profiles' cost sensors: no "Voice Voice policy".
    assert name("select.anima_voice_policy") == "Anima Voice Policy"
    assert name("sensor.anima_voice_cost_today") == "Anima Voice Cost today"
    assert hass.states.get("sensor.anima_assistant_cost_today") is not None


async def test_health_is_a_translated_enum(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    await add_openai(hass, openai_server, "Cloud")
    state = hass.states.get("sensor.cloud_health")
    assert state is not None
    assert state.attributes["device_class"] == SensorDeviceClass.ENUM
    assert state.attributes["options"] == [s.value for s in HealthState]
    translated = STRINGS["entity"]["sensor"]["health"]["state"]
    assert set(translated) == {s.value for s in HealthState}
    assert translated[state.state] == "OK"


def _missing_step(result: dict[str, Any], kind: str) -> str:
    """The titled step a flow shows when something must be added first: its title and text."""
    assert result["type"] is FlowResultType.FORM, result
    step = STRINGS["config_subentries"][kind]["step"][result["step_id"]]
    assert step["title"]
    return f"{step['title']} {step['description']}"


async def test_add_agent_without_an_llm_says_what_to_add_and_checks_again(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, piper_server: SpeechServer
) -> None:
    await add_wyoming(hass, piper_server, "Piper")  # speech only: no agent can use it
    hub = await add_hub(hass)
    result = await hass.config_entries.subentries.async_init(
        (hub.entry_id, PROFILE_AGENT), context={"source": config_entries.SOURCE_USER}
    )
    text = _missing_step(result, PROFILE_AGENT)
    assert "OpenAI-compatible" in text
    assert "Wyoming" not in text  # a Wyoming server cannot serve an agent
    again = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert again["step_id"] == result["step_id"]  # still nothing to choose

    await add_openai(hass, openai_server, "Cloud")
    form = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert (form["type"], form["step_id"]) == (FlowResultType.FORM, "user")


async def test_listener_and_voice_say_what_serves_them_and_name_their_own_entities(
    hass: HomeAssistant,
) -> None:
    hub = await add_hub(hass)
    for kind, domain, served_by in (
        (PROFILE_LISTENER, "stt", "speech-to-text"),
        (PROFILE_VOICE, "tts", "text-to-speech"),
    ):
        result = await hass.config_entries.subentries.async_init(
            (hub.entry_id, kind), context={"source": config_entries.SOURCE_USER}
        )
        assert served_by in _missing_step(result, kind)
        for step in ("user", "reconfigure"):
            example = STRINGS["config_subentries"][kind]["step"][step]["data_description"]["name"]
            assert f"{domain}.anima_" in example
            assert "conversation." not in example
