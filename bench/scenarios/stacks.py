"""The two stacks the latency benchmark compares, set up inside whichever Home Assistant runs.

- Anima: its listener, agent (with the Assist API) and voice, on one connection to the
  provider service.
- Home Assistant core's stock chain: its own OpenAI integration (`openai_conversation`) with
  its speech-to-text and text-to-speech subentries as its config flow makes them, pointed at
  the same service (the `openai` library reads OPENAI_BASE_URL from the environment).

Only Home Assistant's own modules and Anima's: real config entries, so the same code runs in
pytest-homeassistant-custom-component and in a real `hass` (bench/hass_component/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import os
from types import MappingProxyType
from typing import Any

from homeassistant.components.assist_pipeline.pipeline import KEY_ASSIST_PIPELINE
from homeassistant.config_entries import ConfigEntry, ConfigSubentry, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.anima.const import (
    API_KEY,
    BASE_URL,
    DOMAIN,
    HOST,
    KIND,
    KIND_HUB,
    KIND_OPENAI,
    KIND_WYOMING,
    PORT,
    PRESET,
)
from custom_components.anima.core.profiles import (
    CHAIN,
    LLM_HASS_API,
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)

PIPER_VOICE = "en_US-joe-medium"
#: The key the provider service takes (tests/fakes/openai_server.py's DEFAULT_API_KEY).
API_KEY_VALUE = "sk-test-3f9a1c7e5b2d4a6f8e0c"
#: What a Wyoming satellite asks of the voice (Home Assistant's wyoming/assist_satellite.py).
SATELLITE_OUTPUT: dict[str, Any] = {
    "preferred_format": "wav",
    "preferred_sample_rate": 22050,
    "preferred_sample_channels": 1,
    "preferred_sample_bytes": 2,
}
#: The pipeline's TTS output per benchmark output: a browser's default (MP3), a Wyoming
#: satellite's options, and "wav" (16 kHz: what the pipeline asks for a WAV client).
OUTPUTS: dict[str, str | dict[str, Any] | None] = {
    "default": None,
    "satellite": SATELLITE_OUTPUT,
    "wav": "wav",
}


async def add_entry(
    hass: HomeAssistant,
    domain: str,
    data: Mapping[str, Any],
    *,
    title: str,
    unique_id: str | None = None,
    subentries: Sequence[ConfigSubentryData] = (),
    version: int = 1,
    minor_version: int = 1,
) -> ConfigEntry:
    """Add and set up a config entry, as a finished config flow would."""
    entry = ConfigEntry(
        data=data,
        discovery_keys=MappingProxyType({}),
        domain=domain,
        minor_version=minor_version,
        options={},
        source="user",
        subentries_data=subentries,
        title=title,
        unique_id=unique_id,
        version=version,
    )
    await hass.config_entries.async_add(entry)
    await hass.async_block_till_done()
    return entry


def _subentry(kind: str, title: str, data: Mapping[str, Any]) -> ConfigSubentryData:
    return ConfigSubentryData(
        data=MappingProxyType(dict(data)), subentry_type=kind, title=title, unique_id=None
    )


def _profile(kind: str, title: str, links: Sequence[Link], **more: Any) -> ConfigSubentryData:
    return _subentry(kind, title, {CHAIN: [link.as_data() for link in links], **more})


async def add_pipeline(
    hass: HomeAssistant, name: str, stt: str, conversation: str, tts: str, voice: str | None
) -> str:
    """Create an assist pipeline; its id."""
    created = await hass.data[KEY_ASSIST_PIPELINE].pipeline_store.async_create_item(
        {
            "name": name,
            "language": "en",
            "conversation_engine": conversation,
            "conversation_language": "en",
            "stt_engine": stt,
            "stt_language": "en-US" if stt.startswith("stt.openai") else "en",
            "tts_engine": tts,
            "tts_language": "en-US" if tts.startswith("tts.openai") else "en",
            "tts_voice": voice,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    return str(created.id)


def prefer(hass: HomeAssistant, pipeline: str) -> None:
    """Make a pipeline the preferred one (what a new satellite uses)."""
    hass.data[KEY_ASSIST_PIPELINE].pipeline_store.async_set_preferred_item(pipeline)


async def anima_hub(
    hass: HomeAssistant, name: str, listener: Link, agent: Link, voice: Link
) -> str:
    """Anima's hub with one listener, agent (Assist API) and voice; their pipeline's id."""
    await add_entry(
        hass,
        DOMAIN,
        {KIND: KIND_HUB},
        title="Anima",
        unique_id=KIND_HUB,
        subentries=[
            _profile(PROFILE_LISTENER, "Listener", [listener]),
            _profile(PROFILE_AGENT, "Assistant", [agent], **{LLM_HASS_API: ["assist"]}),
            _profile(PROFILE_VOICE, "Voice", [voice]),
        ],
    )
    return await add_pipeline(
        hass,
        name,
        "stt.anima_listener",
        "conversation.anima_assistant",
        "tts.anima_voice",
        None,
    )


async def anima_stack(hass: HomeAssistant, base_url: str) -> str:
    """Anima on the provider service at `base_url`; its pipeline's id."""
    cloud = await add_entry(
        hass,
        DOMAIN,
        {KIND: KIND_OPENAI, PRESET: "openai", BASE_URL: base_url, API_KEY: API_KEY_VALUE},
        title="Cloud",
        unique_id=base_url,
    )
    return await anima_hub(
        hass,
        "Anima",
        Link(cloud.entry_id, "whisper-1"),
        Link(cloud.entry_id, "gpt-4.1-mini"),
        Link(cloud.entry_id, "tts-1", "nova"),
    )


async def local_stack(
    hass: HomeAssistant, whisper: tuple[str, int], piper: tuple[str, int], model: tuple[str, str]
) -> tuple[str, str]:
    """Anima's profiles on real local servers (Whisper, the local model: base URL and model id,
    Piper), added to the hub; their pipeline's id and the voice's entity id."""
    ears, voice = [
        await add_entry(
            hass,
            DOMAIN,
            {KIND: KIND_WYOMING, HOST: host, PORT: port},
            title=title,
            unique_id=f"wyoming://{host}:{port}",
        )
        for title, (host, port) in (("Whisper", whisper), ("Piper", piper))
    ]
    brain = await add_entry(
        hass,
        DOMAIN,
        {KIND: KIND_OPENAI, PRESET: "llama_cpp", BASE_URL: model[0]},
        title="Local model",
        unique_id=model[0],
    )
    (hub,) = [e for e in hass.config_entries.async_entries(DOMAIN) if e.data[KIND] == KIND_HUB]
    added = {}
    for platform, subentry in (
        ("stt", _profile(PROFILE_LISTENER, "Local listener", [Link(ears.entry_id)])),
        (
            "conversation",
            _profile(
                PROFILE_AGENT,
                "Local assistant",
                [Link(brain.entry_id, model[1])],
                **{LLM_HASS_API: ["assist"]},
            ),
        ),
        (
            "tts",
            _profile(PROFILE_VOICE, "Local voice", [Link(voice.entry_id, voice=PIPER_VOICE)]),
        ),
    ):
        made = ConfigSubentry(
            data=subentry["data"],
            subentry_type=subentry["subentry_type"],
            title=subentry["title"],
            unique_id=None,
        )
        hass.config_entries.async_add_subentry(hub, made)
        added[platform] = made.subentry_id
    await hass.async_block_till_done()
    entities = {
        e.domain: e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), hub.entry_id)
        if e.config_subentry_id in added.values() and e.domain in added
    }
    pipeline = await add_pipeline(
        hass, "Local", entities["stt"], entities["conversation"], entities["tts"], None
    )
    return pipeline, entities["tts"]


async def core_stack(hass: HomeAssistant) -> str:
    """Home Assistant's own OpenAI integration, as its config flow sets it up; its pipeline."""
    from homeassistant.components.openai_conversation import const  # noqa: PLC0415

    if not os.environ.get("OPENAI_BASE_URL"):
        raise RuntimeError("OPENAI_BASE_URL must point at the provider service")
    entry = await add_entry(
        hass,
        "openai_conversation",
        {"api_key": API_KEY_VALUE},
        title="OpenAI",
        subentries=[
            _subentry(
                "conversation",
                const.DEFAULT_CONVERSATION_NAME,
                const.RECOMMENDED_CONVERSATION_OPTIONS,
            ),
            _subentry("stt", const.DEFAULT_STT_NAME, const.RECOMMENDED_STT_OPTIONS),
            _subentry("tts", const.DEFAULT_TTS_NAME, const.RECOMMENDED_TTS_OPTIONS),
        ],
        version=2,
        minor_version=7,
    )
    entities = {
        e.domain: e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    return await add_pipeline(
        hass, "Core", entities["stt"], entities["conversation"], entities["tts"], "marin"
    )


async def adopt(
    hass: HomeAssistant, ports: Sequence[int], pipelines: Sequence[str]
) -> list[ConfigEntry]:
    """Adopt satellites on loopback `ports` (Home Assistant's Wyoming integration), each set
    to the pipeline named at the same index; their entries."""
    entries = [
        await add_entry(hass, "wyoming", {"host": "127.0.0.1", "port": port}, title=f"{port}")
        for port in ports
    ]
    registry = er.async_get(hass)
    for entry, pipeline in zip(entries, pipelines, strict=True):
        (select,) = [
            e
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
            if e.domain == "select" and e.unique_id.endswith("-pipeline")
        ]
        await hass.services.async_call(
            "select", "select_option", {"entity_id": select.entity_id, "option": pipeline}, True
        )
    return entries


async def release(hass: HomeAssistant, entries: Sequence[ConfigEntry]) -> None:
    """Remove adopted satellites."""
    for entry in entries:
        await hass.config_entries.async_remove(entry.entry_id)
