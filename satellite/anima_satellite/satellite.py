r"""A Wyoming satellite that Home Assistant's `wyoming` integration adopts as an Assist satellite.

    anima-satellite --name Kitchen --uri tcp://0.0.0.0:10700 \\
        --mic-command "arecord -r 16000 -c 1 -f S16_LE -t raw" \\
        --snd-command "aplay -r 22050 -c 1 -f S16_LE -t raw"

The satellite is a server; Home Assistant connects to it (a new connection replaces a stale one,
so Home Assistant restarting just reconnects). On `run-satellite` it streams its microphone
(16 kHz, 16-bit mono) with `run-pipeline`; wake on Home Assistant: the pipeline starts at wake
word detection and restarts after each turn (with `--speech-gate`, `gate.py`, only speech is
streamed). With a local wake word (`--wake-word`, the `wake`
extra) the microphone stays on the board until the wake word is heard: then `detection` and
`run-pipeline` from speech-to-text, and the audio streams until Home Assistant sends the
transcript. A microphone that is a WAV file (`--mic-file`, for tests and demos) is spoken once
per `run-satellite` (starting at speech-to-text, unless a local wake word listens), then the
stream ends. Reply audio (`audio-start`/`-chunk`/`-stop`) goes to the playback command's stdin
(raw PCM in the format of `audio-start`) or, with `--snd-file`, is appended to a file; `played`
is sent when it is done (announcements arrive the same way). A finished Home Assistant timer
plays the `alert` earcon locally. `pause-satellite` stops the microphone; `ping` gets `pong`.

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
import contextlib
from dataclasses import dataclass, field
from functools import partial
import logging
from pathlib import Path
import shlex
from typing import Any
import wave

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.snd import Played
from wyoming.timer import TimerFinished, TimerStarted
from wyoming.wake import Detection

from . import __version__
from .earcons import SAMPLE_RATE, Earcon, earcon_pcm
from .endpoint_service import ServiceSettings, serve as serve_endpoint
from .gate import SpeechGate
from .wake import LocalWakeWord, WakeWordUnavailableError

_LOGGER = logging.getLogger(__name__)
RATE, WIDTH, CHANNELS = 16000, 2, 1  # what Home Assistant's pipeline takes
CHUNK_SAMPLES = 1024
ATTRIBUTION = Attribution(name="Anima", url="https://github.com/anima-home/anima")
#: Silence sent after a spoken file, so voice activity detection hears the speech end.
TRAILING_SILENCE_S = 1.5
#: The longest request streamed after a local wake word, should no transcript ever come.
MAX_REQUEST_S = 15.0


@dataclass
class SatelliteSettings:
    """What the satellite is and what it listens and speaks with."""

    name: str = "Anima satellite"
    area: str | None = None
    mic_command: Sequence[str] = ()
    mic_file: Path | None = None
    snd_command: Sequence[str] = ()
    snd_file: Path | None = None
    #: Pace a microphone file as if spoken (off in tests that want speed).
    realtime: bool = True
    #: A microphone file waits for this before it speaks (tests: set up first, then ask).
    speak_when: asyncio.Event | None = None
    #: Reply audio received, per `audio-start`: (rate, width, channels, PCM).
    played: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    #: The connection Home Assistant uses now; a new one replaces it (HA restarted).
    current: SatelliteHandler | None = None
    #: Wake on the board, not on Home Assistant.
    wake_word: LocalWakeWord | None = None
    #: Waking on Home Assistant, send it only speech (gate.py).
    speech_gate: SpeechGate | None = None


class SatelliteHandler(AsyncEventHandler):
    """One connection from Home Assistant."""

    def __init__(
        self,
        settings: SatelliteSettings,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Serve Home Assistant with `settings` on one connection."""
        super().__init__(reader, writer)
        self.settings = settings
        self._mic_task: asyncio.Task[None] | None = None
        self._reply: bytearray | None = None
        self._reply_format = (22050, 2, 1)
        #: A local wake word was heard and Home Assistant has not sent the transcript yet.
        self._streaming = False

    async def handle_event(self, event: Event) -> bool:
        """React to one event from Home Assistant; False ends the connection."""
        if Describe.is_type(event.type):
            await self.write_event(self.info().event())
        elif RunSatellite.is_type(event.type):
            previous, self.settings.current = self.settings.current, self
            if previous is not None and previous is not self:
                await previous._stop_microphone()  # a stale connection of an earlier HA run
            self._start_microphone()
        elif PauseSatellite.is_type(event.type):
            await self._stop_microphone()
        elif Transcript.is_type(event.type) or Error.is_type(event.type):
            self._streaming = False  # the request is heard: back to the local wake word
            if self.settings.speech_gate is not None:
                self.settings.speech_gate.release()
        elif Detection.is_type(event.type) and self.settings.speech_gate is not None:
            self.settings.speech_gate.hold(MAX_REQUEST_S)  # the hub heard its wake word
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self._reply, self._reply_format = bytearray(), (start.rate, start.width, start.channels)
        elif AudioChunk.is_type(event.type) and self._reply is not None:
            self._reply += AudioChunk.from_event(event).audio
        elif AudioStop.is_type(event.type) and self._reply is not None:
            await self._play(bytes(self._reply))
            self._reply = None
            await self.write_event(Played().event())
        elif TimerStarted.is_type(event.type):
            timer = TimerStarted.from_event(event)
            _LOGGER.info("Timer %s started: %s s", timer.name or timer.id, timer.total_seconds)
        elif TimerFinished.is_type(event.type):
            # Home Assistant's timers ring on the satellite: the alert earcon, played locally.
            _LOGGER.info("Timer %s finished", TimerFinished.from_event(event).id)
            await play(self.settings, earcon_pcm(Earcon.ALERT), SAMPLE_RATE)
        return True

    def info(self) -> Info:
        """Describe the satellite: what Home Assistant's Wyoming integration adopts."""
        wake = self.settings.wake_word
        return Info(
            wake=[wake.program(ATTRIBUTION)] if wake is not None else [],
            satellite=Satellite(
                name=self.settings.name,
                attribution=ATTRIBUTION,
                installed=True,
                description="Anima satellite",
                version=__version__,
                area=self.settings.area,
            ),
        )

    async def disconnect(self) -> None:
        """Home Assistant went away: stop listening for it."""
        await self._stop_microphone()

    def _start_microphone(self) -> None:
        if self._mic_task is None or self._mic_task.done():
            self._mic_task = asyncio.create_task(self._stream_microphone(), name="microphone")

    async def _stop_microphone(self) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mic_task
            self._mic_task = None

    async def _stream_microphone(self) -> None:
        """Start a pipeline and stream the microphone into it."""
        if self.settings.wake_word is not None:
            await self._wake_locally(self.settings.wake_word)
            return
        from_file = self.settings.mic_file is not None
        await self.write_event(
            RunPipeline(
                start_stage=PipelineStage.ASR if from_file else PipelineStage.WAKE,
                end_stage=PipelineStage.TTS,
                restart_on_end=not from_file,
            ).event()
        )
        gate = None if from_file else self.settings.speech_gate
        async for audio in self._microphone():
            for sent in gate.feed(audio) if gate is not None else [audio]:
                await self.write_event(AudioChunk(RATE, WIDTH, CHANNELS, sent).event())
        if from_file:
            await self.write_event(AudioStop().event())

    async def _wake_locally(self, wake: LocalWakeWord) -> None:
        """Listen for the wake word on the board; stream only what follows it."""
        self._streaming = False
        wake.reset()
        budget = 0  # bytes of the current request still allowed
        async for audio in self._microphone():
            if self._streaming and budget <= 0:  # Home Assistant never answered: let go
                await self.write_event(AudioStop().event())
                self._streaming = False
            if self._streaming:
                await self.write_event(AudioChunk(RATE, WIDTH, CHANNELS, audio).event())
                budget -= len(audio)
            elif wake.heard(audio):
                _LOGGER.info("Heard the wake word %s", wake.phrase)
                await self.write_event(Detection(name=wake.name).event())
                await self.write_event(
                    RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event()
                )
                self._streaming = True
                budget = int(MAX_REQUEST_S * RATE) * WIDTH * CHANNELS
        if self._streaming:  # a microphone file ended during a request
            await self.write_event(AudioStop().event())

    async def _microphone(self) -> AsyncIterator[bytes]:
        """Yield chunks of 16 kHz 16-bit mono audio from the file or the command."""
        size = CHUNK_SAMPLES * WIDTH * CHANNELS
        if self.settings.mic_file is not None:
            if self.settings.speak_when is not None:
                await self.settings.speak_when.wait()
            pcm = read_pcm(self.settings.mic_file)
            pcm += bytes(int(TRAILING_SILENCE_S * RATE) * WIDTH)
            for start in range(0, len(pcm), size):
                yield pcm[start : start + size]
                if self.settings.realtime:
                    await asyncio.sleep(CHUNK_SAMPLES / RATE)
            return
        process = await asyncio.create_subprocess_exec(
            *self.settings.mic_command, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        try:
            while chunk := await process.stdout.read(size):
                yield chunk
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    async def _play(self, pcm: bytes) -> None:
        await play(self.settings, pcm, *self._reply_format)


async def play(
    settings: SatelliteSettings, pcm: bytes, rate: int, width: int = 2, channels: int = 1
) -> None:
    """Play audio: the playback command, the file, and the record of what played."""
    settings.played.append((rate, width, channels, pcm))
    if settings.snd_file is not None:
        with settings.snd_file.open("ab") as out:
            out.write(pcm)
    if settings.snd_command:
        process = await asyncio.create_subprocess_exec(
            *settings.snd_command, stdin=asyncio.subprocess.PIPE
        )
        await process.communicate(pcm)


def read_pcm(path: Path) -> bytes:
    """Read a WAV file that is 16 kHz, 16-bit mono (what the pipeline takes)."""
    with wave.open(str(path), "rb") as reader:
        layout = (reader.getframerate(), reader.getsampwidth(), reader.getnchannels())
        if layout != (RATE, WIDTH, CHANNELS):
            raise ValueError(f"{path}: need 16 kHz 16-bit mono WAV, got {layout}")
        return reader.readframes(reader.getnframes())


async def serve(uri: str, settings: SatelliteSettings) -> None:
    """Serve Home Assistant until cancelled."""
    server = AsyncServer.from_uri(uri)
    _LOGGER.info("Satellite %s on %s", settings.name, uri)
    await server.run(partial(SatelliteHandler, settings))


async def run_until_one_stops(servers: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run the servers until one returns, then stop the others.

    On SIGTERM (systemd stopping the unit) each Wyoming server stops itself, but only the last
    one started gets the signal: the others would keep the process alive.
    """
    tasks = [asyncio.create_task(server) for server in servers]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()  # a server's error ends the satellite with it


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `anima-satellite` command."""
    parser = argparse.ArgumentParser(prog="anima-satellite", description="Anima satellite")
    parser.add_argument("--uri", default="tcp://0.0.0.0:10700")
    parser.add_argument("--name", default="Anima satellite")
    parser.add_argument("--area")
    parser.add_argument("--mic-command", type=shlex.split, default=[])
    parser.add_argument("--mic-file", type=Path)
    parser.add_argument("--snd-command", type=shlex.split, default=[])
    parser.add_argument("--snd-file", type=Path)
    parser.add_argument("--service-uri", help="Anima's endpoint service (camera, earcons)")
    parser.add_argument("--camera-image", type=Path, help="frames from this JPEG file")
    parser.add_argument("--camera-device", help="frames from this V4L2 device, via ffmpeg")
    parser.add_argument(
        "--wake-word",
        help="wake on the board with this microWakeWord model (okay_nabu, hey_jarvis, "
        "hey_mycroft, alexa, or a model's .json); needs the wake extra",
    )
    parser.add_argument(
        "--speech-gate",
        action="store_true",
        help="waking on Home Assistant, send it only speech, not the microphone all day",
    )
    parser.add_argument(
        "--zeroconf", action="store_true", help="announce over mDNS (needs the discovery extra)"
    )
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    if not args.mic_command and args.mic_file is None:
        parser.error("give --mic-command or --mic-file")
    if args.speech_gate and args.wake_word:
        parser.error("--speech-gate is for waking on Home Assistant, --wake-word on the board")
    try:
        wake_word = LocalWakeWord.load(args.wake_word) if args.wake_word else None
    except WakeWordUnavailableError as err:
        parser.error(str(err))
    settings = SatelliteSettings(
        wake_word=wake_word,
        speech_gate=SpeechGate() if args.speech_gate else None,
        name=args.name,
        area=args.area,
        mic_command=args.mic_command,
        mic_file=args.mic_file,
        snd_command=args.snd_command,
        snd_file=args.snd_file,
    )
    satellite_port = int(args.uri.rsplit(":", 1)[-1])
    service_port = int(args.service_uri.rsplit(":", 1)[-1]) if args.service_uri else None
    servers = [serve(args.uri, settings)]
    if args.service_uri:
        service = ServiceSettings(
            name=args.name,
            camera_image=args.camera_image,
            camera_device=args.camera_device,
            satellite_port=satellite_port,
            play=partial(play, settings),
        )
        servers.append(serve_endpoint(args.service_uri, service))

    async def run_all() -> None:
        announced = None
        if args.zeroconf:
            from .discovery import announce  # noqa: PLC0415 - an optional extra

            announced = await announce(args.name, satellite_port, service_port)
        try:
            await run_until_one_stops(servers)
        finally:
            if announced is not None:
                await announced.async_close()  # withdraws the services

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_all())


if __name__ == "__main__":
    main()
