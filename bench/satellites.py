"""Anima's real satellites in a process of their own, for the latency benchmark.

    python -m bench.satellites [--realtime] MIC_WAV PORT [PORT ...]

One `anima-satellite` (satellite/anima_satellite/satellite.py, as a board runs it) per port,
its microphone a WAV file, its speaker a playback command that reads the reply's PCM (`cat` to
/dev/null: the write is what is timed, not a sound card). Home Assistant adopts each through
its Wyoming integration. The file is sent as fast as the socket takes it, then its trailing
silence, so Home Assistant's voice activity detection ends the request at once: the clock runs
from the last chunk of speech, not from the end of a silence every stack waits for alike (but
the detection's work on the whole request falls inside it). With `--realtime` the file is
spoken at its pace, as a live microphone: the detection's work is spread over the speech, and
the request ends 0.7 s (Home Assistant's default silence) after it.

Lines on stdin: `speak N ...` has those satellites (by index) ask their question once their
last reply has played (as Home Assistant's run-satellite would: each asks once per run).
Each reply's timing, on the satellite's own clock, comes back on stdout as `timing N
<speech_end> <first_sample> <delay_ms>` (SpeakerTiming), `ready` once all listen. Runs until
stdin closes.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
import sys

from wyoming.satellite import RunSatellite

from anima_satellite.satellite import SatelliteSettings, SpeakerTiming, serve

PLAYBACK = ("sh", "-c", "exec cat >/dev/null")
#: After a reply has played: Home Assistant hears `played` and ends the turn's pipeline.
SETTLE_S = 0.3


async def _idle(settings: SatelliteSettings) -> None:
    """Wait until the last reply has played and Home Assistant has ended its pipeline.

    A user asks again after the answer, not while it plays: a request that comes while Home
    Assistant still winds down the last pipeline has its audio dropped.
    """
    while settings.speaker is not None:  # noqa: ASYNC110 - the satellite has no event for it
        await asyncio.sleep(0.02)
    await asyncio.sleep(SETTLE_S)


def _report(index: int, timing: SpeakerTiming) -> None:
    delay = "-" if timing.delay_ms is None else f"{timing.delay_ms:.1f}"
    end = "-" if timing.speech_end is None else f"{timing.speech_end:.6f}"
    print(f"timing {index} {end} {timing.first_sample:.6f} {delay}", flush=True)


async def run(mic: Path, ports: list[int], realtime: bool) -> None:
    """Serve one satellite per port until stdin closes."""
    satellites = [
        SatelliteSettings(
            name=f"Bench {index}",
            mic_file=mic,
            snd_command=PLAYBACK,
            realtime=realtime,
            on_timing=partial(_report, index),
        )
        for index in range(len(ports))
    ]
    servers = [
        asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
        for port, settings in zip(ports, satellites, strict=True)
    ]
    await asyncio.sleep(0.2)
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] != "speak":
            continue
        chosen = [satellites[index] for index in map(int, line[1:])]
        await asyncio.gather(*(_idle(settings) for settings in chosen))
        for settings in chosen:
            if settings.current is not None:  # as Home Assistant's run-satellite: ask again
                await settings.current.handle_event(RunSatellite().event())
    for server in servers:
        server.cancel()
    await asyncio.gather(*servers, return_exceptions=True)


def main() -> None:
    """Run the satellites the command line names."""
    args = sys.argv[1:]
    realtime = args[:1] == ["--realtime"]
    args = args[1:] if realtime else args
    asyncio.run(run(Path(args[0]), [int(port) for port in args[1:]], realtime))


if __name__ == "__main__":
    main()
