"""The household of the cost benchmark: a house Home Assistant can act on, and its cloud model.

The house: ten areas with a light each, fans, blinds and thermostats (Home Assistant's template
entities, optimistic, so commands really change their state), exposed to Assist. The cloud: one
fake OpenAI-compatible service (real HTTP and SSE) for the agent (gpt-4.1-mini), speech-to-text
(gpt-4o-mini-transcribe) and the expressive voice (gpt-4o-mini-tts). Its agent answers as a
model would: a device command is a tool call (Home Assistant runs it) and then the trace's
confirmation; a question is the trace's answer. Its usage is what OpenAI reports: prompt tokens
counted from the request (about four characters a token), and of them the cached ones by
OpenAI's rules (`PromptCache`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import json
import re
from typing import Any, Final

from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar, entity_registry as er
from homeassistant.setup import async_setup_component

from tests.fakes.openai_server import Reply, tone

#: Characters per token, OpenAI's rule of thumb for English (and JSON, near enough).
CHARS_PER_TOKEN: Final = 4
#: Characters a voice speaks per second (150 words a minute of about 5.5 characters).
CHARS_PER_SECOND: Final = 13.75

AREAS: Final = (
    "Kitchen",
    "Living room",
    "Bedroom",
    "Hall",
    "Office",
    "Bathroom",
    "Garage",
    "Porch",
    "Kids' room",
    "Dining room",
)
FAN_AREAS: Final = ("Kitchen", "Bedroom", "Office", "Garage", "Kids' room")
BLIND_AREAS: Final = ("Living room", "Hall", "Bathroom", "Dining room", "Porch")
THERMOSTAT_AREAS: Final = ("Living room", "Hall", "Bathroom", "Dining room", "Porch")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


async def build_house(hass: HomeAssistant) -> int:
    """Add the areas and their devices (template entities), exposed to Assist; their count."""
    for component in ("intent", "light", "fan", "cover", "climate"):
        assert await async_setup_component(hass, component, {})
    by_domain: dict[str, list[dict[str, Any]]] = {}
    placed: dict[str, str] = {}  # entity id -> area

    def add(domain: str, area: str, name: str, **config: Any) -> None:
        unique_id = f"house_{domain}_{_slug(name)}"
        by_domain.setdefault(domain, []).append({"name": name, "unique_id": unique_id, **config})
        placed[f"{domain}.{_slug(name)}"] = area

    for area in AREAS:
        add("light", area, f"{area} light", turn_on=[], turn_off=[], set_level=[])
    for area in FAN_AREAS:
        add("fan", area, f"{area} fan", turn_on=[], turn_off=[])
    for area in BLIND_AREAS:
        add("cover", area, f"{area} blinds", device_class="blind", open_cover=[], close_cover=[])
    for area in THERMOSTAT_AREAS:
        add(
            "climate",
            area,
            f"{area} thermostat",
            hvac_modes="{{ ['heat', 'off'] }}",
            set_hvac_mode=[],
            set_temperature=[],
        )
    assert await async_setup_component(hass, "template", {"template": [by_domain]})
    await hass.async_block_till_done()
    areas, registry = ar.async_get(hass), er.async_get(hass)
    for entity_id, area in placed.items():
        assert hass.states.get(entity_id) is not None, entity_id
        area_id = (areas.async_get_area_by_name(area) or areas.async_create(area)).id
        registry.async_update_entity(entity_id, area_id=area_id)
        async_expose_entity(hass, "conversation", entity_id, True)
    return len(placed)


def command_call(heard: str) -> tuple[str, dict[str, Any]]:
    """The tool call a capable model makes for one of the trace's device commands."""
    text = heard.rstrip(".").lower()
    if match := re.fullmatch(r"turn (on|off) the (.+) (light|fan)", text):
        state, area, domain = match.groups()
        intent = "HassTurnOn" if state == "on" else "HassTurnOff"
        return intent, {"area": _title(area), "domain": [domain]}
    if match := re.fullmatch(r"set the (.+) light to (\d+) percent", text):
        return "HassLightSet", {"area": _title(match[1]), "brightness": int(match[2])}
    if match := re.fullmatch(r"close the (.+) blinds", text):
        return "HassTurnOff", {"area": _title(match[1]), "device_class": ["blind"]}
    if match := re.fullmatch(r"set the (.+) to (\d+) degrees", text):
        return "HassClimateSetTemperature", {"area": _title(match[1]), "temperature": int(match[2])}
    raise ValueError(f"no tool call for {heard!r}")


def _title(area: str) -> str:
    return next(name for name in AREAS if name.lower() == area)


@dataclass
class PromptCache:
    """OpenAI's prompt caching as documented: the longest prefix of an earlier prompt.

    A prompt of 1,024 tokens or more reuses the longest prefix it shares with a prompt seen in
    the last `ttl` seconds (of the simulated day's clock), in whole blocks of 128 tokens after
    the first 1,024; shorter prompts are never cached.
    """

    ttl: float
    seen: list[tuple[float, str]] = field(default_factory=list)

    def cached_tokens(self, prompt: str, now: float) -> int:
        """Return the cached tokens of `prompt` sent at `now`, and remember it."""
        self.seen = [(when, text) for when, text in self.seen if now - when <= self.ttl]
        shared = max((_common_prefix(prompt, text) for _, text in self.seen), default=0)
        self.seen.append((now, prompt))
        tokens = shared // CHARS_PER_TOKEN
        if len(prompt) // CHARS_PER_TOKEN < 1024 or tokens < 1024:
            return 0
        return 1024 + (tokens - 1024) // 128 * 128


def _common_prefix(first: str, second: str) -> int:
    size = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        size += 1
    return size


@dataclass
class Cloud:
    """What the fake service answers during one event of the trace."""

    cache: PromptCache | None
    event: dict[str, Any] = field(default_factory=dict)
    now: float = 0.0
    #: Prompt tokens sent and cached, over the run.
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def respond(self, endpoint: str, body: dict[str, Any]) -> Reply | None:
        """The fake service's `responder`."""
        if endpoint == "speech":  # as long as a voice takes to say it
            return Reply.audio(tone(max(0.2, len(body["input"]) / CHARS_PER_SECOND)))
        if endpoint != "chat":
            return None
        prompt = json.dumps(body.get("tools", [])) + json.dumps(body["messages"])
        tokens = max(1, len(prompt) // CHARS_PER_TOKEN)
        cached = 0 if self.cache is None else self.cache.cached_tokens(prompt, self.now)
        self.prompt_tokens += tokens
        self.cached_tokens += cached
        names = [tool["function"]["name"] for tool in body.get("tools", [])]
        reply = self._answer(body["messages"], names)
        output = max(1, len("".join(reply.pieces)) // CHARS_PER_TOKEN) + 12 * len(reply.calls)
        return dataclasses.replace(reply, usage=(tokens, output), cached_tokens=cached)

    def _answer(self, messages: list[dict[str, Any]], tools: list[str]) -> Reply:
        event = self.event
        if event["kind"] == "command" and messages[-1].get("role") != "tool":
            intent, arguments = command_call(event["heard"])
            # Home Assistant names the Assist API's tools by their API ("intent__HassTurnOn").
            name = next(t for t in tools if t.split("__")[-1] == intent)
            return Reply.tool_call(name, arguments)
        return Reply.text(event["reply"])
