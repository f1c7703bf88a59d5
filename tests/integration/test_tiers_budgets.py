"""Voice tiers chosen per message class and budget, budget repairs, the lift action and the
voice policy select, on real Home Assistant with real Piper and formant (espeak-ng) servers."""

from __future__ import annotations

from decimal import Decimal
import io
from typing import Any
import wave

from homeassistant import config_entries
from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir, llm
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator
from yarl import URL

from custom_components.anima.const import DOMAIN, HOUSE_DAILY, WARNING_PERCENT
from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import (
    CHAIN,
    LLM_HASS_API,
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    PROFILE_VOICE,
    TIER_CHAINS,
    Link,
)
from custom_components.anima.core.speech.earcons import earcon_pcm
from custom_components.anima.core.speech.tiers import Tier
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    add_wyoming,
    endpoint,
    profile,
    satellite_device,
)

JOE = "en_US-joe-medium"
AGENT = "conversation.anima_assistant"


def _pcm(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data)) as reader:
        return reader.readframes(reader.getnframes())


async def _setup(
    hass: HomeAssistant, piper: SpeechServer, formant: SpeechServer, **hub_options: Any
) -> tuple[MockConfigEntry, str, str]:
    hass.config.currency = "USD"  # the budgets below are in dollars
    joe = await add_wyoming(hass, piper, "Piper")
    robot = await add_wyoming(hass, formant, "Formant")
    voice = profile(PROFILE_VOICE, "Voice", [Link(joe.entry_id, voice=JOE)])
    voice["data"] = {
        **voice["data"],
        TIER_CHAINS[Tier.FORMANT]: [Link(robot.entry_id, voice="en-us").as_data()],
    }
    hub = await add_hub(hass, voice)
    if hub_options:
        hass.config_entries.async_update_entry(hub, options=hub_options)
        await hass.async_block_till_done()
    return hub, joe.entry_id, robot.entry_id


async def _add_priced_agent(
    hass: HomeAssistant, hub: MockConfigEntry, server: FakeOpenAIServer
) -> None:
    """Add an agent on OpenAI's priced gpt-4.1-mini to the hub."""
    cloud = await add_openai(hass, server, "OpenAI", preset="openai")
    agent = profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    hass.config_entries.async_add_subentry(
        hub,
        config_entries.ConfigSubentry(
            data=agent["data"], subentry_type=PROFILE_AGENT, title="Assistant", unique_id=None
        ),
    )
    await hass.async_block_till_done()


def _voice(hass: HomeAssistant) -> AnimaTextToSpeechEntity:
    entity = hass.data["tts"].get_entity("tts.anima_voice")
    assert isinstance(entity, AnimaTextToSpeechEntity)
    return entity


async def _say(hass: HomeAssistant, text: str, **options: Any) -> tuple[bytes, str | None]:
    """Speak; return the PCM and which connection spoke (None: no provider, an earcon)."""
    before = len(AnimaData.of(hass).meter.ledger.records())
    _, data = await _voice(hass).async_get_tts_audio(text, "en", options)
    spoken = [r for r in AnimaData.of(hass).meter.ledger.records()[before:] if r.kind is Kind.TTS]
    return _pcm(data), spoken[0].provider if spoken else None


async def test_each_message_class_gets_its_tier(
    hass: HomeAssistant, piper_server: SpeechServer, formant_server: SpeechServer
) -> None:
    _, joe, robot = await _setup(hass, piper_server, formant_server)
    pcm, by = await _say(hass, "Paris is the capital of France.")  # an answer by default
    assert by == joe
    pcm, by = await _say(hass, "The washing is done.", message_class="notification")
    assert by == robot
    pcm, by = await _say(hass, "Turned on the light.", message_class="confirmation")
    assert (pcm, by) == (earcon_pcm("confirm"), None)  # a tone, no provider, no cost
    # The policy asks for a compact voice, which this profile lacks: the next cheaper one.
    pcm, by = await _say(hass, "Smoke in the kitchen.", message_class="alert")
    assert by == robot


async def test_an_agents_action_turn_is_confirmed_with_an_earcon(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    formant_server: SpeechServer,
) -> None:
    assert await async_setup_component(hass, "intent", {})
    hass.states.async_set("light.kitchen", "off", {"friendly_name": "Kitchen light"})
    async_expose_entity(hass, conversation.DOMAIN, "light.kitchen", True)
    hass.services.async_register("light", "turn_on", lambda call: None)
    hub, _, _ = await _setup(hass, piper_server, formant_server)
    cloud = await add_openai(hass, openai_server, "Cloud")
    agent = profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    hass.config_entries.async_add_subentry(
        hub,
        config_entries.ConfigSubentry(
            data={**agent["data"], LLM_HASS_API: [llm.LLM_API_ASSIST]},
            subentry_type=PROFILE_AGENT,
            title="Assistant",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    openai_server.reply(
        Reply.tool_call("intent__HassTurnOn", {"name": "Kitchen light"}),
        Reply.text("Turned on the kitchen light."),
    )
    result = await conversation.async_converse(
        hass,
        "Turn on the kitchen light",
        None,
        Context(),
        "en",
        agent_id="conversation.anima_assistant",
    )
    speech = result.response.speech["plain"]["speech"]
    pcm, by = await _say(hass, speech)
    assert (pcm, by) == (earcon_pcm("confirm"), None)
    openai_server.reply(Reply.text("The capital of France is Paris."))
    result = await conversation.async_converse(
        hass, "Capital of France?", None, Context(), "en", agent_id="conversation.anima_assistant"
    )
    _, by = await _say(hass, result.response.speech["plain"]["speech"])
    assert by is not None  # an answer is spoken, not toned


async def test_a_command_home_assistant_handles_itself_is_confirmed_with_an_earcon(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    formant_server: SpeechServer,
) -> None:
    """A pipeline that prefers local commands: no model call, no chat record, the earcon."""
    assert await async_setup_component(hass, "intent", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    hass.states.async_set("light.kitchen", "off", {"friendly_name": "Kitchen light"})
    async_expose_entity(hass, conversation.DOMAIN, "light.kitchen", True)
    turned_on: list[str] = []
    hass.services.async_register(
        "light", "turn_on", lambda call: turned_on.extend(call.data["entity_id"])
    )
    hub, _, _ = await _setup(hass, piper_server, formant_server)
    await _add_priced_agent(hass, hub, openai_server)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "conversation_engine": AGENT,
            "conversation_language": "en",
            "language": "en",
            "name": "Anima",
            "prefer_local_intents": True,
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": "tts.anima_voice",
            "tts_language": "en",
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    pipeline = (await client.receive_json())["result"]["id"]
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/run",
            "start_stage": "intent",
            "end_stage": "tts",
            "input": {"text": "Turn on the kitchen light"},
            "pipeline": pipeline,
        }
    )
    assert (await client.receive_json())["success"]
    while (event := (await client.receive_json())["event"])["type"] != "run-end":
        assert event["type"] != "error", event
        if event["type"] == "intent-end":
            assert event["data"]["processed_locally"] is True
            said = event["data"]["intent_output"]["response"]["speech"]["plain"]["speech"]
        if event["type"] == "tts-end":
            url = event["data"]["tts_output"]["url"]
    assert turned_on == ["light.kitchen"]
    response = await (await hass_client()).get(URL(url).path)  # what a satellite fetches
    assert response.status == 200
    await response.read()
    assert not [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert not AnimaData.of(hass).meter.ledger.records()  # no model, no voice: the earcon
    assert await _say(hass, said) == (earcon_pcm("confirm"), None)


async def test_exceeded_budget_goes_local_earcon_first_raises_a_repair_and_can_be_lifted(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    formant_server: SpeechServer,
) -> None:
    hub, joe, robot = await _setup(hass, piper_server, formant_server, **{HOUSE_DAILY: 0.0005})
    await _add_priced_agent(hass, hub, openai_server)
    openai_server.reply(Reply.text("Hello.", usage=(1200, 300)))  # USD 0.00096 > 0.0005
    await conversation.async_converse(
        hass, "Hello", None, Context(), "en", agent_id="conversation.anima_assistant"
    )
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "budget_house")
    assert issue is not None
    assert issue.translation_key == "budget_exceeded"
    assert issue.translation_placeholders["limit"] == "0.0005"
    assert issue.translation_placeholders["spent"] == "0.0010"
    assert issue.translation_placeholders["period"] == "day"

    pcm, by = await _say(hass, "Paris is the capital of France.")
    assert pcm.startswith(earcon_pcm("done"))  # an earcon first, so the change is heard
    assert by == robot  # one tier down, local only

    response = await hass.services.async_call(
        DOMAIN, "lift_budget", {}, blocking=True, return_response=True
    )
    assert response["until"].endswith("T00:00:00-08:00")  # the next local midnight
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "budget_house") is None
    pcm, by = await _say(hass, "Paris is the capital of France.")
    assert by == joe
    assert not pcm.startswith(earcon_pcm("done"))


async def test_warning_level_steps_the_voice_down(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    formant_server: SpeechServer,
) -> None:
    options = {HOUSE_DAILY: 0.001, WARNING_PERCENT: 80}
    hub, _, robot = await _setup(hass, piper_server, formant_server, **options)
    await _add_priced_agent(hass, hub, openai_server)
    openai_server.reply(Reply.text("Hello.", usage=(1200, 300)))  # 96% of the limit
    await conversation.async_converse(
        hass, "Hello", None, Context(), "en", agent_id="conversation.anima_assistant"
    )
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "budget_house")
    assert issue is not None
    assert issue.translation_key == "budget_warning"
    pcm, by = await _say(hass, "Paris is the capital of France.")
    assert by == robot
    assert not pcm.startswith(earcon_pcm("done"))  # no earcon before the limit


async def test_voice_policy_select_switches_to_quiet_and_back(
    hass: HomeAssistant, piper_server: SpeechServer, formant_server: SpeechServer
) -> None:
    hub, joe, _ = await _setup(hass, piper_server, formant_server)
    state = hass.states.get("select.anima_voice_policy")
    assert state.state == "standard"
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.anima_voice_policy", "option": "quiet"},
        blocking=True,
    )
    assert hass.states.get("select.anima_voice_policy").state == "quiet"
    _, by = await _say(hass, "Paris is the capital of France.")
    # quiet: answers compact; with no compact voice here, the expressive one (never robotic)
    assert by == joe
    pcm, by = await _say(hass, "The washing is done.", message_class="notification")
    assert (pcm, by) == (earcon_pcm("notify"), None)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.anima_voice_policy", "option": "standard"},
        blocking=True,
    )
    _, by = await _say(hass, "Paris is the capital of France.")
    assert by == joe
    assert hub.state is config_entries.ConfigEntryState.LOADED


async def test_voice_profile_form_sets_tier_chains_and_refuses_a_silent_alert(
    hass: HomeAssistant, piper_server: SpeechServer, formant_server: SpeechServer
) -> None:
    joe = await add_wyoming(hass, piper_server, "Piper")
    robot = await add_wyoming(hass, formant_server, "Formant")
    hub = await add_hub(hass)
    result = await hass.config_entries.subentries.async_init(
        (hub.entry_id, PROFILE_VOICE), context={"source": config_entries.SOURCE_USER}
    )
    policy = {
        "confirmation": "earcon",
        "notification": "formant",
        "alert": "earcon",
        "answer": "expressive",
        "conversation": "compact",
    }
    form = {
        "name": "Hall",
        CHAIN: [Link(joe.entry_id, voice=JOE).option()],
        TIER_CHAINS[Tier.FORMANT]: [Link(robot.entry_id, voice="en-us").option()],
        **policy,
    }
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], form)
    assert result["errors"] == {"alert": "alert_must_speak"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**form, "alert": "formant"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = result["data"]
    assert data["policy"] == {**policy, "alert": "formant"}
    assert data[TIER_CHAINS[Tier.FORMANT]] == [{"connection": robot.entry_id, "voice": "en-us"}]


async def test_budget_puts_the_cheapest_model_first_then_keeps_to_local_ones(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """gpt-4.1 costs 25 times gpt-4.1-nano; a local Ollama is free."""
    hass.config.currency = "USD"
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    async with FakeOpenAIServer(api_key=None) as ollama_server:
        ollama_server.models = ["llama3.2"]
        ollama = await add_openai(hass, ollama_server, "Ollama", preset="ollama")
        chain = [
            Link(cloud.entry_id, "gpt-4.1"),
            Link(cloud.entry_id, "gpt-4.1-nano"),
            Link(ollama.entry_id, "llama3.2"),
        ]
        hub = await add_hub(hass, profile(PROFILE_AGENT, "Assistant", chain))

        async def models_asked(*replies: tuple[FakeOpenAIServer, Reply]) -> list[str]:
            for server, reply in replies:
                server.reply(reply)
            before = {id(s): len(s.requests) for s in (openai_server, ollama_server)}
            await conversation.async_converse(
                hass, "Hi", None, Context(), "en", agent_id="conversation.anima_assistant"
            )
            return [
                r.json["model"]
                for s in (openai_server, ollama_server)
                for r in s.requests[before[id(s)] :]
                if r.path.endswith("/chat/completions")
            ]

        ok = Reply.text("Hi.", usage=(1000, 1000))
        assert await models_asked((openai_server, ok)) == ["gpt-4.1"]  # the user's order
        spent = AnimaData.of(hass).meter.ledger.day().cost
        hass.config_entries.async_update_entry(hub, options={HOUSE_DAILY: float(spent) * 1.1})
        await hass.async_block_till_done()
        # Warning: free local first; when it fails, the cheapest cloud model before the dearest.
        failing_local = (ollama_server, Reply.error(500))
        # (Listed per server: the cloud's requests, then the local one's. Without the reorder,
        # gpt-4.1 would have answered and the local model, last in the chain, never been asked.)
        asked = await models_asked(failing_local, (openai_server, ok))
        assert asked == ["gpt-4.1-nano", "llama3.2"]
        hass.config_entries.async_update_entry(hub, options={HOUSE_DAILY: float(spent) / 2})
        await hass.async_block_till_done()
        # Exceeded: local only; the cloud is not asked even when the local model fails.
        assert await models_asked(failing_local) == ["llama3.2"]


async def test_hub_options_set_the_house_budget(hass: HomeAssistant) -> None:
    hass.config.currency = "USD"  # limits are entered in the shown currency: dollars here
    hub = await add_hub(hass)
    result = await hass.config_entries.options.async_init(hub.entry_id)
    assert result["step_id"] == "init"
    await hass.config_entries.options.async_configure(
        result["flow_id"], {HOUSE_DAILY: 0.5, "house_monthly": 10, WARNING_PERCENT: 90}
    )
    await hass.async_block_till_done()
    config = AnimaData.of(hass).budgets.budgets.config
    assert (config.house.daily, config.house.monthly) == (Decimal("0.5"), Decimal("10"))
    assert config.warning_at == Decimal("0.9")


async def test_an_unknown_message_class_is_a_clear_error(
    hass: HomeAssistant, piper_server: SpeechServer, formant_server: SpeechServer
) -> None:
    await _setup(hass, piper_server, formant_server)
    with pytest.raises(HomeAssistantError, match="not a message class"):
        await _voice(hass).async_get_tts_audio("Hi.", "en", {"message_class": "gossip"})


async def test_an_endpoints_own_policy_applies_to_its_turns(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    formant_server: SpeechServer,
) -> None:
    hub, joe, robot = await _setup(hass, piper_server, formant_server)
    # The voice's compact tier is the formant server here: answers (compact) are robotic
    # unless a policy asks for the expressive voice.
    voice = next(iter(hub.subentries.values()))
    compact = {TIER_CHAINS[Tier.COMPACT]: [Link(robot, voice="en-us").as_data()]}
    hass.config_entries.async_update_subentry(hub, voice, data={**voice.data, **compact})
    await hass.async_block_till_done()
    await _add_priced_agent(hass, hub, openai_server)
    kitchen = satellite_device(hass, "Kitchen")
    hass.config_entries.async_add_subentry(
        hub,
        config_entries.ConfigSubentry(
            data=endpoint("Kitchen", kitchen)["data"],
            subentry_type=PROFILE_ENDPOINT,
            title="Kitchen",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    select = "select.kitchen_voice_policy"
    assert hass.states.get(select).state == "voice"  # follows its voice until told otherwise

    async def answer_spoken_by() -> str | None:
        openai_server.reply(Reply.text("Paris is the capital of France."))
        result = await conversation.async_converse(
            hass, "Capital?", None, Context(), "en", agent_id=AGENT, device_id=kitchen
        )
        return (await _say(hass, result.response.speech["plain"]["speech"]))[1]

    assert await answer_spoken_by() == robot  # the voice's standard policy: compact
    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": "full"}, blocking=True
    )
    assert await answer_spoken_by() == joe  # full: answers expressive
    # The same text asked from elsewhere is the voice's: the endpoint's policy is its own.
    assert (await _say(hass, "Paris, from the hall."))[1] == robot
    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": "voice"}, blocking=True
    )
    assert await answer_spoken_by() == robot


async def test_cheap_tiers_speak_only_the_first_sentences(
    hass: HomeAssistant, piper_server: SpeechServer, formant_server: SpeechServer
) -> None:
    hub, _, _ = await _setup(hass, piper_server, formant_server)
    text = "The wash is done. It took two hours. The dryer is next. Then the ironing."
    notify = {"message_class": "notification"}  # the formant tier
    one = (await _say(hass, "The wash is done.", **notify))[0]
    two = (await _say(hass, "The wash is done. It took two hours.", **notify))[0]
    assert len(one) < len(two)
    assert (await _say(hass, text, **notify))[0] == two  # the tier's default: two sentences
    voice = next(iter(hub.subentries.values()))
    hass.config_entries.async_update_subentry(hub, voice, data={**voice.data, "terse_sentences": 1})
    assert (await _say(hass, text, **notify))[0] == one
