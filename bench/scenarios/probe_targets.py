"""The satellite and the formant voice as processes of their own, for bench/faults.py's probes.

    ANIMA_PAIRING_KEY=... python -m bench.scenarios.probe_targets satellite SATELLITE SERVICE
    python -m bench.scenarios.probe_targets formant PORT

(SATELLITE, SERVICE, PORT: the ports to serve on.)
The shipped code (anima_satellite's servers and their guards) with two bounds shortened, so the
slow-loris and idle probes end in seconds: a connection silent for 2 s is closed (shipped: 60 s
on the satellite, 30 s on the formant voice, 10 s on the endpoint service), a reader stalled
for 1 s too (shipped: 10 s). The satellite's microphone never runs dry (`cat /dev/zero`).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
import logging
import os
import sys

from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.formant import Formant, FormantEventHandler
from anima_satellite.protocol import parse_key
from anima_satellite.satellite import SatelliteSettings, serve as serve_satellite
from anima_satellite.serving import GuardedServer, run_until_one_stops

IDLE_S, WRITE_S = 2.0, 1.0


async def satellite(satellite_port: int, service_port: int, key: str) -> None:
    """The satellite's Wyoming port and its endpoint service (paired with `key`)."""
    settings = SatelliteSettings(
        name="Hall", mic_command=["cat", "/dev/zero"], idle_timeout=IDLE_S, write_timeout=WRITE_S
    )
    service = ServiceSettings(name="Hall", key=parse_key(key), idle_timeout=IDLE_S)
    await run_until_one_stops(
        [
            serve_satellite(f"tcp://127.0.0.1:{satellite_port}", settings),
            serve_endpoint(f"tcp://127.0.0.1:{service_port}", service),
        ]
    )


async def formant(port: int) -> None:
    """The formant voice (espeak-ng over Wyoming)."""
    voice = await Formant.load()
    voice.guard = replace(voice.guard, idle_timeout=IDLE_S, write_timeout=WRITE_S)
    await GuardedServer(voice.guard, partial(FormantEventHandler, voice)).serve(
        f"tcp://127.0.0.1:{port}"
    )


def main() -> None:
    """Serve what the command line names until stopped."""
    logging.basicConfig(level=logging.INFO)
    kind, *args = sys.argv[1:]
    if kind == "satellite":
        asyncio.run(satellite(int(args[0]), int(args[1]), os.environ["ANIMA_PAIRING_KEY"]))
    else:
        asyncio.run(formant(int(args[0])))


if __name__ == "__main__":
    main()
