"""The satellite and its endpoint service announced over zeroconf, resolved like HA does."""

from __future__ import annotations

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from anima_satellite.discovery import WYOMING_TYPE, announce
from custom_components.anima.protocol import ZEROCONF_TYPE


async def test_both_services_are_found_with_their_ports(socket_enabled: None) -> None:
    announced = await announce(
        "Kitchen", 10700, 10701, address="127.0.0.1", interfaces=["127.0.0.1"]
    )
    browser = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        satellite = await browser.async_get_service_info(
            WYOMING_TYPE, f"Kitchen.{WYOMING_TYPE}", timeout=3000
        )
        service = await browser.async_get_service_info(
            ZEROCONF_TYPE, f"Kitchen.{ZEROCONF_TYPE}", timeout=3000
        )
    finally:
        await browser.async_close()
        await announced.async_close()
    assert satellite is not None
    assert satellite.port == 10700
    assert service is not None
    assert service.port == 10701
    # Where to pair, nothing more: no word of a camera before a client proves the key.
    assert service.properties == {b"satellite_port": b"10700", b"version": b"2"}
