"""The hub and its profile flows, repair issues for removed connections, and diagnostics."""

from __future__ import annotations

from typing import Any

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
    llm,
)
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.anima.const import DOMAIN, KIND, KIND_HUB
from custom_components.anima.core.profiles import (
    AI_TASK,
    CHAIN,
    LLM_HASS_API,
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
    chain_of,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai, add_wyoming, profile


async def _options(hass: HomeAssistant, hub_id: str, kind: str) -> tuple[str, dict[str, Any]]:
    result = await hass.config_entries.subentries.async_init(
        (hub_id, kind), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM, result
    schema = result["data_schema"].schema
    chain_key = next(key for key in schema if key == CHAIN)
    options = {o["value"]: o["label"] for o in schema[chain_key].config["options"]}
    return result["flow_id"], options


async def test_hub_is_added_once_from_the_menu(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert KIND_HUB in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": KIND_HUB}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {KIND: KIND_HUB}
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert KIND_HUB not in result["menu_options"]


async def test_agent_profile_flow_offers_chat_models_and_keeps_the_chosen_order(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, piper_server: SpeechServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    await add_wyoming(hass, piper_server, "Piper")
    hub = await add_hub(hass)
    flow_id, options = await _options(hass, hub.entry_id, PROFILE_AGENT)
    # Chat models only: no speech, transcription or embedding models, nothing from Piper.
    assert sorted(options.values()) == ["Cloud · gpt-4.1-mini", "Cloud · gpt-4o-mini"]
    chosen = [Link(cloud.entry_id, "gpt-4o-mini"), Link(cloud.entry_id, "gpt-4.1-mini")]
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {"name": "Kitchen helper", CHAIN: [link.option() for link in chosen], AI_TASK: True},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    subentry = next(iter(hub.subentries.values()))
    assert subentry.title == "Kitchen helper"
    assert subentry.data[CHAIN] == [link.as_data() for link in chosen]
    assert subentry.data[LLM_HASS_API] == [llm.LLM_API_ASSIST]  # on unless the user unticks it
    assert hass.states.get("conversation.anima_kitchen_helper").attributes["supported_features"]
    # The new profile's entities appear (the hub reloads for new entities only).
    assert hass.states.get("conversation.anima_kitchen_helper") is not None
    assert hass.states.get("ai_task.anima_kitchen_helper") is not None


async def test_listener_and_voice_flows_offer_speech_services(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    await add_openai(hass, openai_server, "OpenAI", preset="openai")
    await add_wyoming(hass, piper_server, "Piper")
    await add_wyoming(hass, whisper_server, "Whisper")
    hub = await add_hub(hass)
    _, listeners = await _options(hass, hub.entry_id, PROFILE_LISTENER)
    assert "OpenAI · whisper-1" in listeners.values()
    assert any(label.startswith("Whisper · ") for label in listeners.values())
    assert not any(label.startswith("Piper") for label in listeners.values())
    _, voices = await _options(hass, hub.entry_id, PROFILE_VOICE)
    assert "OpenAI · tts-1 · nova" in voices.values()
    assert any(label.startswith("Piper · ") for label in voices.values())
    assert not any(label.startswith("Whisper") for label in voices.values())


async def test_profile_flow_errors(hass: HomeAssistant, openai_server: FakeOpenAIServer) -> None:
    hub = await add_hub(hass)
    result = await hass.config_entries.subentries.async_init(
        (hub.entry_id, PROFILE_AGENT), context={"source": config_entries.SOURCE_USER}
    )
    assert result == result | {"type": FlowResultType.FORM, "step_id": "needs_connection"}
    await add_openai(hass, openai_server, "Cloud")
    flow_id, _ = await _options(hass, hub.entry_id, PROFILE_AGENT)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Empty", CHAIN: []}
    )
    assert result["errors"] == {CHAIN: "chain_required"}
    (link, _) = (await _options(hass, hub.entry_id, PROFILE_AGENT))[1].popitem()
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "   ", CHAIN: [link]}
    )
    assert result["errors"] == {"name": "name_required"}
    assert not hub.subentries


async def test_a_model_whose_id_holds_the_separator_can_be_chosen_and_lies_are_refused(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    # The service lists an id holding the selector value's separator ("|"): it reads back whole.
    openai_server.models = ["gpt-4.1-mini", "team|assistant"]
    cloud = await add_openai(hass, openai_server, "Cloud")
    hub = await add_hub(hass)
    flow_id, options = await _options(hass, hub.entry_id, PROFILE_AGENT)
    # A client that sends a link the form did not offer is refused by the form's schema.
    with pytest.raises(InvalidData):
        await hass.config_entries.subentries.async_configure(
            flow_id, {"name": "Assistant", CHAIN: [Link(cloud.entry_id, "gpt-5").option()]}
        )
    assert not hub.subentries
    odd = next(value for value, label in options.items() if label == "Cloud · team|assistant")
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"name": "Assistant", CHAIN: [odd]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (agent,) = hub.subentries.values()
    assert chain_of(agent.data) == (Link(cloud.entry_id, "team|assistant"),)


async def test_a_connection_that_is_not_loaded_offers_nothing(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, piper_server: SpeechServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    piper = await add_wyoming(hass, piper_server, "Piper")
    hub = await add_hub(hass)
    _, voices = await _options(hass, hub.entry_id, PROFILE_VOICE)
    assert {label.split(" · ")[0] for label in voices.values()} == {"Cloud", "Piper"}
    assert await hass.config_entries.async_unload(piper.entry_id)
    _, voices = await _options(hass, hub.entry_id, PROFILE_VOICE)
    assert {label.split(" · ")[0] for label in voices.values()} == {"Cloud"}
    assert cloud.state is config_entries.ConfigEntryState.LOADED


async def test_changing_a_profile_without_connections_says_what_to_add_and_checks_again(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hub = await add_hub(hass, profile(PROFILE_VOICE, "Hall voice", []))
    (voice,) = hub.subentries
    result = await hub.start_subentry_reconfigure_flow(hass, voice)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "needs_connection")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["step_id"] == "needs_connection"  # checked again: still none
    await add_openai(hass, openai_server, "Cloud", preset="openai")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "reconfigure")
    # The form is the profile's: its name, not a new voice's.
    name = next(key for key in result["data_schema"].schema if key == "name")
    assert name.description == {"suggested_value": "Hall voice"}


async def test_removing_a_used_connection_raises_a_repair_naming_the_profiles(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, piper_server: SpeechServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    piper = await add_wyoming(hass, piper_server, "Piper")
    hub = await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_AGENT, "Butler", [Link(cloud.entry_id, "gpt-4o-mini")]),
        profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice="en_US-joe-medium")]),
    )
    await hass.config_entries.async_remove(cloud.entry_id)
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"missing_connection_{cloud.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "connection": "Cloud",
        "profiles": "Assistant, Butler",
    }
    # The entities stay (their ids are what pipelines use) and say they cannot answer.
    assert hass.states.get("conversation.anima_assistant") is not None

    # Point both agents elsewhere: the issue goes away.
    for subentry in list(hub.subentries.values()):
        if subentry.subentry_type == PROFILE_AGENT:
            hass.config_entries.async_update_subentry(
                hub, subentry, data={CHAIN: [Link(piper.entry_id).as_data()]}
            )
    await hass.async_block_till_done()
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, f"missing_connection_{cloud.entry_id}") is None
    )


async def test_hub_diagnostics_show_profiles_and_provider_health_without_keys(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    )
    await hass.services.async_call(
        "conversation",
        "process",
        {"text": "hi", "agent_id": "conversation.anima_assistant"},
        blocking=True,
        return_response=True,
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, hub)
    (only,) = diagnostics["profiles"].values()
    assert only["title"] == "Assistant"
    assert only["chain_health"][cloud.entry_id]["state"] == "closed"
    llm_stage = diagnostics["timings"]["summary"]["llm"]
    assert llm_stage["count"] == 1
    assert 0 <= llm_stage["own_ms_95"] <= llm_stage["total_ms_95"]
    assert openai_server.api_key not in str(diagnostics)
    connection = await get_diagnostics_for_config_entry(hass, hass_client, cloud)
    assert connection["health"]["consecutive_failures"] == 0
    assert openai_server.api_key not in str(connection)


async def test_profile_entities_have_stable_ids_and_devices(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    )
    entry = er.async_get(hass).async_get("conversation.anima_assistant")
    assert entry is not None
    assert entry.config_subentry_id == next(iter(hub.subentries))
    health = er.async_get(hass).async_get("sensor.cloud_health")
    assert health is not None
    assert health.entity_category is er.EntityCategory.DIAGNOSTIC


async def test_removing_a_profile_removes_its_device_and_entities(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    )
    subentry_id = next(iter(hub.subentries))
    devices = dr.async_get(hass)
    assert devices.async_get_device_by_identifier((DOMAIN, subentry_id), hub.entry_id)
    hass.config_entries.async_remove_subentry(hub, subentry_id)
    await hass.async_block_till_done()
    assert devices.async_get_device_by_identifier((DOMAIN, subentry_id), hub.entry_id) is None
    assert hass.states.get("conversation.anima_assistant") is None
    assert er.async_get(hass).async_get("sensor.anima_assistant_cost_today") is None
