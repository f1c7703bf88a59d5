"""The endpoint registry: finding endpoints, who may look through whose camera, who may speak,
ask or hand over where."""

from __future__ import annotations

from decimal import Decimal

from custom_components.anima.core.budgets import Budget
from custom_components.anima.core.endpoints import (
    AREA,
    CAMERA,
    DAILY_BUDGET,
    DEVICE,
    SHARE_CAMERA,
    VISION_MODE,
    Endpoint,
    EndpointRegistry,
    Permission,
    VisionMode,
)

KITCHEN = Endpoint.from_data(
    "e1",
    "Kitchen",
    {DEVICE: "d1", CAMERA: "camera.kitchen", DAILY_BUDGET: 0.5, VISION_MODE: "eager"},
)
HALL = Endpoint.from_data("e2", "Hall", {DEVICE: "d2", CAMERA: "camera.hall", SHARE_CAMERA: True})
ATTIC = Endpoint.from_data("e3", "Attic", {DEVICE: "d3"})
REGISTRY = EndpointRegistry([KITCHEN, HALL, ATTIC])


def test_endpoints_are_found_by_device_and_name() -> None:
    assert REGISTRY.for_device("d2") is HALL
    assert REGISTRY.for_device("nope") is None
    assert REGISTRY.for_device(None) is None
    assert REGISTRY.named("  kitchen ") is KITCHEN
    assert len(REGISTRY) == 3


def test_endpoint_data_is_read_with_defaults() -> None:
    assert KITCHEN.vision_mode is VisionMode.EAGER
    assert KITCHEN.budget == Budget(daily=Decimal("0.5"))
    assert ATTIC.vision_mode is VisionMode.ON_DEMAND
    assert ATTIC.share_camera is False
    assert REGISTRY.budgets() == {"d1": Budget(daily=Decimal("0.5"))}


def test_cameras_are_private_unless_shared() -> None:
    assert REGISTRY.camera_visible_to(KITCHEN, KITCHEN)  # its own
    assert not REGISTRY.camera_visible_to(HALL, KITCHEN)  # not shared
    assert REGISTRY.camera_visible_to(KITCHEN, HALL)  # shared
    assert REGISTRY.camera_visible_to(None, HALL)  # shared, even with an automation
    assert not REGISTRY.camera_visible_to(None, KITCHEN)
    assert not REGISTRY.camera_visible_to(ATTIC, ATTIC)  # no camera at all


def test_endpoints_are_named_by_name_device_name_area_or_alias_and_everywhere() -> None:
    office = Endpoint.from_data("e4", "Office speaker", {DEVICE: "d4", AREA: "office"})
    den = Endpoint.from_data("e5", "Den", {DEVICE: "d5", AREA: "living_room"})
    sofa = Endpoint.from_data("e6", "Sofa", {DEVICE: "d6", AREA: "living_room"})
    registry = EndpointRegistry([office, den, sofa])
    names = {"e4": {"Sam's desk"}}
    areas = {"living_room": {"Living Room", "lounge"}, "office": {"Office"}}
    assert registry.find("the Office speaker!", names, areas) == [office]
    assert registry.find("sam's desk", names, areas) == [office]
    assert registry.find("the living room", names, areas) == [den, sofa]  # an area: all of it
    assert registry.find("Lounge", names, areas) == [den, sofa]  # an alias of the area
    assert registry.find("living_room", names, areas) == [den, sofa]  # its id
    assert registry.find("office", names, areas) == [office]
    assert registry.find("everywhere", names, areas) == [office, den, sofa]
    assert registry.find("garage", names, areas) == []
    assert registry.find("  ", names, areas) == []


def test_other_endpoints_may_act_here_unless_the_endpoint_refuses() -> None:
    quiet = Endpoint.from_data(
        "e7", "Nursery", {DEVICE: "d7", Permission.ANNOUNCE.value: False, "accept_handoffs": False}
    )
    assert REGISTRY.allows(KITCHEN, HALL, Permission.ANNOUNCE)  # nothing set: all accepted
    assert REGISTRY.allows(None, HALL, Permission.HANDOFF)  # a typed chat asks too
    assert not REGISTRY.allows(KITCHEN, quiet, Permission.ANNOUNCE)
    assert not REGISTRY.allows(None, quiet, Permission.HANDOFF)
    assert REGISTRY.allows(KITCHEN, quiet, Permission.ASK)
    assert REGISTRY.allows(quiet, quiet, Permission.ANNOUNCE)  # itself: always
