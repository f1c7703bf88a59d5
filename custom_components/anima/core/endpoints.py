"""The endpoint registry: which Home Assistant device is which Anima endpoint, and what it has.

Pure data: no Home Assistant imports. An endpoint binds a device (an ESPHome board or a Wyoming
satellite, adopted by Home Assistant the normal way) to its satellite, camera and speaker
entities, its area, its persona, the agent and voice profiles it uses, its budget and how it
uses its camera. Conversation turns find their endpoint from `ConversationInput.device_id`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
import re
from typing import Any, Final

from .budgets import Budget
from .speech.tiers import VoicePolicy

# Keys of an endpoint's subentry data.
DEVICE: Final = "device_id"
SATELLITE: Final = "satellite"
CAMERA: Final = "camera"
SPEAKER: Final = "speaker"
AREA: Final = "area"
PERSONA: Final = "persona"
AGENT: Final = "agent"
VOICE: Final = "voice"
DAILY_BUDGET: Final = "daily_budget"
MONTHLY_BUDGET: Final = "monthly_budget"
VISION_MODE: Final = "vision_mode"
SHARE_CAMERA: Final = "share_camera"
POLICY: Final = "policy"  # the same key as a voice profile's
#: host:port of the satellite's endpoint service (camera frames, earcons; docs/protocol.md).
SERVICE: Final = "service"
#: Words that name every endpoint ("announce everywhere").
EVERYWHERE: Final = frozenset({"all", "everywhere", "every room", "house", "home", "whole house"})


class Permission(StrEnum):
    """What other endpoints' agents may do on an endpoint; each is a key of its subentry.

    As camera sharing: an endpoint allows or refuses every other endpoint. Actions (automations,
    scripts) are the household's own and are not limited by them.
    """

    ANNOUNCE = "accept_announcements"  # speak on it
    ASK = "accept_questions"  # ask the person there, or its agent
    HANDOFF = "accept_handoffs"  # continue a conversation there


#: The endpoint service's pairing key (base64; `anima-satellite --print-key` shows it): a secret.
SERVICE_KEY: Final = "service_key"


class VisionMode(StrEnum):
    """When an endpoint's camera frame goes to the agent (images cost tokens)."""

    OFF = "off"  # never
    ON_DEMAND = "on_demand"  # only when the agent calls a look tool
    EAGER = "eager"  # attached when the question sounds visual (a local word check)
    ALWAYS = "always"  # attached to every turn


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One bound device."""

    id: str  # the subentry id
    name: str
    device_id: str
    satellite: str | None = None  # assist_satellite entity id
    camera: str | None = None  # camera entity id
    speaker: str | None = None  # media_player entity id
    area: str | None = None  # area id
    persona: str = ""  # added to the agent's instructions for turns from this endpoint
    agent: str | None = None  # agent profile (subentry) id
    voice: str | None = None  # voice profile (subentry) id
    budget: Budget = field(default_factory=Budget)
    vision_mode: VisionMode = VisionMode.ON_DEMAND
    #: Whether other endpoints' agents may look through this endpoint's camera.
    share_camera: bool = False
    #: The endpoint's own voice policy (its select), else None: its voice profile's.
    policy: VoicePolicy | None = None
    #: host:port of the satellite's Anima endpoint service (camera frames, earcons).
    service: str | None = None
    #: What other endpoints' agents may do here (all, unless its form says otherwise).
    accepts: frozenset[Permission] = frozenset(Permission)
    #: The key the endpoint service is paired with (never logged or shown).
    service_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_data(cls, endpoint_id: str, name: str, data: Mapping[str, Any]) -> Endpoint:
        """Read an endpoint subentry's data."""

        def money(key: str) -> Decimal | None:
            value = data.get(key)
            return None if value in (None, "") else Decimal(str(value))

        return cls(
            id=endpoint_id,
            name=name,
            device_id=str(data[DEVICE]),
            satellite=data.get(SATELLITE) or None,
            camera=data.get(CAMERA) or None,
            speaker=data.get(SPEAKER) or None,
            area=data.get(AREA) or None,
            persona=str(data.get(PERSONA) or ""),
            agent=data.get(AGENT) or None,
            voice=data.get(VOICE) or None,
            budget=Budget(money(DAILY_BUDGET), money(MONTHLY_BUDGET)),
            vision_mode=VisionMode(data.get(VISION_MODE, VisionMode.ON_DEMAND)),
            share_camera=bool(data.get(SHARE_CAMERA, False)),
            policy=VoicePolicy.from_dict(data[POLICY]) if data.get(POLICY) else None,
            service=data.get(SERVICE) or None,
            accepts=frozenset(p for p in Permission if data.get(p.value, True)),
            service_key=data.get(SERVICE_KEY) or None,
        )


class EndpointRegistry:
    """All endpoints, found by device, area or name."""

    def __init__(self, endpoints: Iterable[Endpoint] = ()) -> None:
        """Index the endpoints by device id."""
        self._by_device = {endpoint.device_id: endpoint for endpoint in endpoints}

    def __iter__(self) -> Iterator[Endpoint]:
        """Iterate over the endpoints."""
        return iter(self._by_device.values())

    def __len__(self) -> int:
        """Return how many endpoints there are."""
        return len(self._by_device)

    def for_device(self, device_id: str | None) -> Endpoint | None:
        """Return the endpoint of the device a turn came from, if it is one."""
        return None if device_id is None else self._by_device.get(device_id)

    def in_area(self, area: str) -> list[Endpoint]:
        """Return the endpoints of an area."""
        return [endpoint for endpoint in self._by_device.values() if endpoint.area == area]

    def find(
        self,
        wanted: str,
        names: Mapping[str, Collection[str]] | None = None,
        areas: Mapping[str, Collection[str]] | None = None,
    ) -> list[Endpoint]:
        """Return the endpoints `wanted` names: all, one by its name, or those of an area.

        `names`: more names of an endpoint, by its id (its device's); `areas`: the names and
        aliases of each area, by area id. Case, punctuation and a leading "the" do not count.
        """
        key = _plain(wanted)
        if not key:
            return []
        if key in EVERYWHERE:
            return list(self)
        named = [
            endpoint
            for endpoint in self
            if key in {_plain(n) for n in (endpoint.name, *(names or {}).get(endpoint.id, ()))}
        ]
        if named:
            return named
        return [
            endpoint
            for endpoint in self
            if endpoint.area is not None
            and key in {_plain(n) for n in (endpoint.area, *(areas or {}).get(endpoint.area, ()))}
        ]

    def allows(self, asking: Endpoint | None, target: Endpoint, permission: Permission) -> bool:
        """Whether a turn from `asking` may do `permission` on `target` (itself: always)."""
        return (asking is not None and asking.id == target.id) or permission in target.accepts

    def named(self, name: str) -> Endpoint | None:
        """Return the endpoint called `name` (case-insensitive), if any."""
        wanted = name.strip().casefold()
        return next((e for e in self._by_device.values() if e.name.casefold() == wanted), None)

    def budgets(self) -> dict[str, Budget]:
        """Return each endpoint's budget by device id (what `BudgetConfig.endpoints` takes)."""
        return {
            endpoint.device_id: endpoint.budget
            for endpoint in self._by_device.values()
            if endpoint.budget != Budget()
        }

    def camera_visible_to(self, asking: Endpoint | None, owner: Endpoint) -> bool:
        """Whether a turn from `asking` may look through `owner`'s camera.

        An endpoint always sees through its own camera; another's only if that one shares it.
        """
        if owner.camera is None:
            return False
        return owner.share_camera or (asking is not None and asking.id == owner.id)


def _plain(name: str) -> str:
    """Return a name as people say it: lower case, words only, no leading "the"."""
    words = re.findall(r"[^\W_]+", name.casefold())
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)
