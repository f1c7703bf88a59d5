"""Announce the satellite and its endpoint service over zeroconf (mDNS).

Home Assistant's Wyoming integration discovers `_wyoming._tcp` services and offers to add them;
Anima's endpoint service is announced as `_anima._tcp` with the satellite's port, so the hub can
tell the two belong together. The announcement says nothing of a camera: what the service
offers (`anima-info`) is told only to a client that proves the pairing key, and the hub needs
the address to pair with it in the first place. Needs the `zeroconf` package (the `discovery`
extra).
"""

from __future__ import annotations

from collections.abc import Sequence
import socket

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from .protocol import (
    PROTOCOL_VERSION,
    ZEROCONF_SATELLITE_PORT,
    ZEROCONF_TYPE,
    ZEROCONF_VERSION,
)

WYOMING_TYPE = "_wyoming._tcp.local."


def outward_address() -> str:
    """Return the address other machines reach this one at (the outward route's source)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: UDP connect only picks a route
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


async def announce(
    name: str,
    satellite_port: int,
    service_port: int | None = None,
    *,
    address: str | None = None,
    interfaces: Sequence[str] | None = None,
) -> AsyncZeroconf:
    """Register the services; close the returned AsyncZeroconf to withdraw them."""
    address = address or outward_address()
    host = f"{socket.gethostname().split('.')[0]}.local."
    zeroconf = (
        AsyncZeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
        if interfaces
        else AsyncZeroconf(ip_version=IPVersion.V4Only)
    )
    packed = [socket.inet_aton(address)]
    announced = await zeroconf.async_register_service(
        ServiceInfo(
            WYOMING_TYPE,
            f"{name}.{WYOMING_TYPE}",
            addresses=packed,
            port=satellite_port,
            server=host,
        )
    )
    await announced  # the announcements are out (and no broadcast is left running)
    if service_port is not None:
        properties = {
            ZEROCONF_SATELLITE_PORT: str(satellite_port),
            ZEROCONF_VERSION: str(PROTOCOL_VERSION),
        }
        announced = await zeroconf.async_register_service(
            ServiceInfo(
                ZEROCONF_TYPE,
                f"{name}.{ZEROCONF_TYPE}",
                addresses=packed,
                port=service_port,
                properties=properties,
                server=host,
            )
        )
        await announced
    return zeroconf
