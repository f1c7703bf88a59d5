"""The endpoint registry: finding endpoints and who may look through whose camera."""

from __future__ import annotations

from decimal import Decimal

from custom_components.anima.core.budgets import Budget
from custom_components.anima.core.endpoints import (
    CAMERA,
    DAILY_BUDGET,
    DEVICE,
    SHARE_CAMERA,
    VISION_MODE,
    Endpoint,
    EndpointRegistry,
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
