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
stream ends. Reply audio (`audio-start`/`-chunk`/`-stop`) plays as it arrives (`playback.py`):
to the playback command's stdin (raw PCM in the format of `audio-start`) and/or, with
`--snd-file`, appended to a file; `played` is sent when the last sample has played
(announcements arrive the same way); nothing of it is kept. A finished Home Assistant timer
plays the `alert` earcon locally. `pause-satellite` stops the microphone; `ping` gets `pong`.
With a local wake word, the hub can have it listen without the wake word through the endpoint
service (`anima-listen`, listening.py): follow-ups, handed-over conversations, questions.

Only the peers of `--allow` (Home Assistant's address; this machine by default) may connect:
the Wyoming port cannot carry a secret. Its events are read within bounds (`serving.py`).

For latency measurements the satellite notes, on its own clock (`time.monotonic()`), when the
last microphone chunk of a request was sent and when the first sample of the reply was written
to playback: `SatelliteSettings.on_timing` and a debug log line
`speaker-timing speech_end=<s> first_sample=<s> delay_ms=<ms>` (`-` when unknown).

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
import contextlib
from dataclasses import dataclass
from functools import partial
import logging
from pathlib import Path
import shlex
import time
import wave

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerFinished, TimerStarted
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from . import __version__
from .earcons import SAMPLE_RATE, Earcon, earcon_pcm
from .endpoint_service import ServiceSettings, serve as serve_endpoint
from .gate import SpeechGate
from .listening import ListenRequests, NotHeardError
from .pairing import KeyFileError, default_key_file, load_or_create_key
from .playback import JITTER_S, PcmFormat, Playback, ReplyRejectedError, Sinks
from .protocol import AUDIO_CHUNK, WireLimits, parse_key
from .serving import (
    LOOPBACK,
    Guard,
    GuardedHandler,
    GuardedServer,
    Network,
    allowed_network,
    run_until_one_stops,
)
from .wake import LocalWakeWord, WakeWordUnavailableError

_LOGGER = logging.getLogger(__name__)
RATE, WIDTH, CHANNELS = 16000, 2, 1  # what Home Assistant's pipeline takes
CHUNK_SAMPLES = 1024
ATTRIBUTION = Attribution(name="Anima", url="https://github.com/anima-home/anima")
#: Silence sent after a spoken file, so voice activity detection hears the speech end.
TRAILING_SILENCE_S = 1.5
#: The longest request streamed after a local wake word, should no transcript ever come.
MAX_REQUEST_S = 15.0
#: What one event from Home Assistant may hold: its TTS chunks are 2 KiB; room for others' more.
LIMITS = WireLimits(payload={AUDIO_CHUNK: 256 * 1024})
#: Home Assistant pings every few seconds while it holds the satellite.
IDLE_TIMEOUT_S = 60.0
#: Home Assistant reads the microphone as it comes: this long without reading is a stall.
WRITE_TIMEOUT_S = 10.0


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
    #: Wake on the board, not on Home Assistant.
    wake_word: LocalWakeWord | None = None
    #: Peers that may connect (Home Assistant's address); this machine only by default.
    allow: tuple[Network, ...] = LOOPBACK
    #: A connection with no event this long is closed; one that reads nothing this long too.
    idle_timeout: float = IDLE_TIMEOUT_S
    write_timeout: float = WRITE_TIMEOUT_S
    #: Audio queued before the first sample of a reply is written (or that long, at most).
    jitter_s: float = JITTER_S
    #: Tests only: a list to record each played reply in, (rate, width, channels, PCM). None
    #: (the default) keeps nothing of what played.
    played: list[tuple[int, int, int, bytes]] | None = None
    #: Called with each reply's timing on the satellite's clock (benchmarks).
    on_timing: Callable[[SpeakerTiming], None] | None = None
    #: The connection Home Assistant uses now; a new one replaces it (HA restarted).
    current: SatelliteHandler | None = None
    #: The reply playing now (one at a time: a new reply replaces it).
    speaker: Playback | None = None

    @property
    def sinks(self) -> Sinks:
        """Where reply audio goes."""
        return Sinks(tuple(self.snd_command), self.snd_file)

    #: Waking on Home Assistant, send it only speech (gate.py).
    speech_gate: SpeechGate | None = None


@dataclass(frozen=True)
class SpeakerTiming:
    """When, on the satellite's clock (`time.monotonic()`), a request ended and its reply began.

    `speech_end`: the last microphone chunk of the request was sent (a microphone file: the
    chunk with its last sample, before the trailing silence; a live microphone: the last chunk
    before Home Assistant's `voice-stopped` or `transcript`); None for a reply to no request
    (an announcement). `first_sample`: the first sample of the reply was written to playback.
    """

    speech_end: float | None
    first_sample: float

    @property
    def delay_ms(self) -> float | None:
        """Milliseconds from the end of speech to the first sample played."""
        if self.speech_end is None:
            return None
        return (self.first_sample - self.speech_end) * 1000

    def log_line(self) -> str:
        """Return the stable debug line benchmarks read from the satellite's log."""
        end = "-" if self.speech_end is None else f"{self.speech_end:.6f}"
        delay = "-" if self.delay_ms is None else f"{self.delay_ms:.1f}"
        return (
            f"speaker-timing speech_end={end} first_sample={self.first_sample:.6f} delay_ms={delay}"
        )


class SatelliteHandler(GuardedHandler):
    """One connection from Home Assistant."""

    def __init__(
        self,
        settings: SatelliteSettings,
        guard: Guard,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Serve Home Assistant with `settings` on one connection."""
        super().__init__(reader, writer, guard)
        self.settings = settings
        self._mic_task: asyncio.Task[None] | None = None
        self._reply: Playback | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        #: A local wake word was heard and Home Assistant has not sent the transcript yet.
        self._streaming = False
        #: The request's end, for SpeakerTiming: when its last microphone chunk was sent.
        self._speech_end: float | None = None
        #: Home Assistant stopped listening (`voice-stopped`, `transcript`) until `voice-started`.
        self._heard = False
        #: Of a microphone file: bytes sent, and bytes that are speech (not trailing silence).
        self._mic_sent = 0
        self._speech_bytes: int | None = None
        #: The hub's requests to listen without the wake word (`anima-listen`).
        self.listen_requests = ListenRequests()

    async def handle_event(self, event: Event) -> bool:
        """React to one event from Home Assistant; False ends the connection."""
        self.trusted = True
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
            self._heard = True
            if self.settings.speech_gate is not None:
                self.settings.speech_gate.release()
            if Transcript.is_type(event.type):
                self.listen_requests.heard(Transcript.from_event(event).text)
            else:
                self.listen_requests.failed("not_heard", Error.from_event(event).text)
        elif VoiceStopped.is_type(event.type):
            self._heard = True
        elif VoiceStarted.is_type(event.type):
            self._heard = False
        elif Detection.is_type(event.type) and self.settings.speech_gate is not None:
            self.settings.speech_gate.hold(MAX_REQUEST_S)  # the hub heard its wake word
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif AudioStart.is_type(event.type):
            return self._start_reply(AudioStart.from_event(event))
        elif AudioChunk.is_type(event.type) and self._reply is not None:
            try:
                self._reply.feed(AudioChunk.from_event(event).audio)
            except ReplyRejectedError as err:
                self.complain(err.code, f"closed: {err}")
                return False
        elif AudioStop.is_type(event.type) and self._reply is not None:
            reply, self._reply = self._reply, None
            reply.end()
            task = asyncio.create_task(self._finish_reply(reply), name="reply played")
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)
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
        """Home Assistant went away: stop listening for it and playing its reply."""
        await self._stop_microphone()
        if self._reply is not None:
            self._reply.stop()
            await self._reply.done()
        for task in list(self._finishing):
            task.cancel()
        await asyncio.gather(*self._finishing, return_exceptions=True)

    def _start_reply(self, start: AudioStart) -> bool:
        """Start playing a reply as it comes; False (close) for a format no speaker plays."""
        if self.settings.speaker is not None:
            self.settings.speaker.stop()  # a new reply replaces the one playing
        speech_end, self._speech_end = self._speech_end, None
        try:
            reply = Playback(
                self.settings.sinks,
                PcmFormat(start.rate, start.width, start.channels),
                jitter_s=self.settings.jitter_s,
                keep=self.settings.played is not None,
                on_first_sample=partial(self._first_sample, speech_end),
                on_failed=self._reply_failed,
            )
        except ReplyRejectedError as err:
            self.complain(err.code, f"closed: {err}")
            return False
        self._reply = self.settings.speaker = reply
        return True

    def _first_sample(self, speech_end: float | None, first_sample: float) -> None:
        timing = SpeakerTiming(speech_end, first_sample)
        _LOGGER.debug(timing.log_line())
        if self.settings.on_timing is not None:
            self.settings.on_timing(timing)

    def _reply_failed(self, error: ReplyRejectedError) -> None:
        self.complain(error.code, f"closed: {error}")
        self.abort()

    async def _finish_reply(self, reply: Playback) -> None:
        """Tell Home Assistant when the reply has played (not when it was only received)."""
        played = await reply.done()
        if self.settings.speaker is reply:
            self.settings.speaker = None
        if not played:
            return
        if self.settings.played is not None and reply.kept is not None:
            pcm_format = reply.format
            self.settings.played.append(
                (pcm_format.rate, pcm_format.width, pcm_format.channels, bytes(reply.kept))
            )
        with contextlib.suppress(ConnectionError):
            await self.write_event(Played().event())

    def _sent_microphone(self, size: int) -> None:
        """Note a microphone chunk sent: the request's end moves with it while it is speech."""
        if not self._heard and (self._speech_bytes is None or self._mic_sent < self._speech_bytes):
            self._speech_end = time.monotonic()
        self._mic_sent += size

    async def listen(self, respond: bool) -> str:
        """Listen now, without the wake word (the hub's `anima-listen`); return the transcript."""
        if self.settings.wake_word is None or self.settings.mic_file is not None:
            raise NotHeardError(
                "cannot_listen", "Listening on request needs a microphone and --wake-word"
            )
        return await self.listen_requests.ask(respond)

    def _start_microphone(self) -> None:
        if self._mic_task is None or self._mic_task.done():
            self._mic_task = asyncio.create_task(self._stream_microphone(), name="microphone")

    async def _stop_microphone(self) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._mic_task  # ConnectionError: it found the peer gone first
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
                self._sent_microphone(len(sent))
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
                self._sent_microphone(len(audio))
                budget -= len(audio)
            elif (respond := self.listen_requests.take()) is not None:
                _LOGGER.info("Listening without the wake word, as the hub asked")
                end = PipelineStage.TTS if respond else PipelineStage.ASR
                await self.write_event(
                    RunPipeline(start_stage=PipelineStage.ASR, end_stage=end).event()
                )
                self._streaming, self._heard = True, False
                budget = int(MAX_REQUEST_S * RATE) * WIDTH * CHANNELS
            elif wake.heard(audio):
                _LOGGER.info("Heard the wake word %s", wake.phrase)
                await self.write_event(Detection(name=wake.name).event())
                await self.write_event(
                    RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event()
                )
                self._streaming, self._heard = True, False
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
            self._mic_sent, self._speech_bytes, self._heard = 0, len(pcm), False
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


async def play(
    settings: SatelliteSettings, pcm: bytes, rate: int, width: int = 2, channels: int = 1
) -> None:
    """Play a whole sound (an earcon): the playback command and/or the file."""
    playback = Playback(settings.sinks, PcmFormat(rate, width, channels), jitter_s=0)
    try:
        playback.feed(pcm)
        playback.end()
        played = await playback.done()
    finally:
        playback.stop()
    if played and settings.played is not None:
        settings.played.append((rate, width, channels, pcm))


async def listen(settings: SatelliteSettings, respond: bool) -> str:
    """Have the connection Home Assistant uses now listen without the wake word."""
    if settings.current is None:
        raise NotHeardError("cannot_listen", "Home Assistant is not connected")
    return await settings.current.listen(respond)


def read_pcm(path: Path) -> bytes:
    """Read a WAV file that is 16 kHz, 16-bit mono (what the pipeline takes)."""
    with wave.open(str(path), "rb") as reader:
        layout = (reader.getframerate(), reader.getsampwidth(), reader.getnchannels())
        if layout != (RATE, WIDTH, CHANNELS):
            raise ValueError(f"{path}: need 16 kHz 16-bit mono WAV, got {layout}")
        return reader.readframes(reader.getnframes())


async def serve(uri: str, settings: SatelliteSettings) -> None:
    """Serve Home Assistant until cancelled."""
    guard = Guard(
        "Satellite",
        LIMITS,
        allow=settings.allow,
        idle_timeout=settings.idle_timeout,
        write_timeout=settings.write_timeout,
    )
    allowed = ", ".join(str(network) for network in settings.allow)
    _LOGGER.info("Satellite %s on %s for %s", settings.name, uri, allowed)
    await GuardedServer(guard, partial(SatelliteHandler, settings, guard)).serve(uri)


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser of `anima-satellite`."""
    parser = argparse.ArgumentParser(prog="anima-satellite", description="Anima satellite")
    parser.add_argument("--uri", default="tcp://0.0.0.0:10700")
    parser.add_argument("--name", default="Anima satellite")
    parser.add_argument("--area")
    parser.add_argument("--mic-command", type=shlex.split, default=[])
    parser.add_argument("--mic-file", type=Path)
    parser.add_argument("--snd-command", type=shlex.split, default=[])
    parser.add_argument("--snd-file", type=Path)
    parser.add_argument(
        "--allow",
        type=allowed_network,
        action="append",
        default=[],
        metavar="ADDRESS[/PREFIX]",
        help="who may connect to the satellite port: Home Assistant's address (repeatable; "
        "default: this machine only)",
    )
    parser.add_argument(
        "--jitter-ms",
        type=float,
        default=JITTER_S * 1000,
        help="reply audio queued before playback starts (50)",
    )
    parser.add_argument("--service-uri", help="Anima's endpoint service (camera, earcons)")
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="the endpoint service's pairing key, made at the first start "
        f"(default: $STATE_DIRECTORY or ~/.local/state/anima-satellite, {default_key_file().name})",
    )
    parser.add_argument(
        "--print-key",
        action="store_true",
        help="print the pairing key to enter in the endpoint's form in Home Assistant, and exit",
    )
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
    return parser


def _endpoint_key(parser: argparse.ArgumentParser, path: Path) -> bytes:
    """Return the pairing key, made and kept in `path` at the first start (never logged)."""
    try:
        key, made = load_or_create_key(path)
    except KeyFileError as err:
        parser.error(str(err))
    if made:
        _LOGGER.warning(
            "Made a new pairing key in %s: show it with `anima-satellite --print-key "
            "--key-file %s` and enter it in the endpoint's form in Home Assistant",
            path,
            path,
        )
    return parse_key(key)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `anima-satellite` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    key_file = args.key_file or default_key_file()
    if args.print_key:
        try:
            print(load_or_create_key(key_file)[0])
        except KeyFileError as err:
            parser.error(str(err))
        return
    if not args.mic_command and args.mic_file is None:
        parser.error("give --mic-command or --mic-file")
    if args.speech_gate and args.wake_word:
        parser.error("--speech-gate is for waking on Home Assistant, --wake-word on the board")
    try:
        wake_word = LocalWakeWord.load(args.wake_word) if args.wake_word else None
    except WakeWordUnavailableError as err:
        parser.error(str(err))
    if not args.allow:
        _LOGGER.warning("Only this machine may connect: give --allow <Home Assistant's address>")
    settings = SatelliteSettings(
        wake_word=wake_word,
        speech_gate=SpeechGate() if args.speech_gate else None,
        name=args.name,
        area=args.area,
        mic_command=args.mic_command,
        mic_file=args.mic_file,
        snd_command=args.snd_command,
        snd_file=args.snd_file,
        allow=tuple(args.allow) or LOOPBACK,
        jitter_s=max(0.0, args.jitter_ms) / 1000,
    )
    satellite_port = int(args.uri.rsplit(":", 1)[-1])
    service_port = int(args.service_uri.rsplit(":", 1)[-1]) if args.service_uri else None
    servers = [serve(args.uri, settings)]
    if args.service_uri:
        service = ServiceSettings(
            name=args.name,
            key=_endpoint_key(parser, key_file),
            camera_image=args.camera_image,
            camera_device=args.camera_device,
            satellite_port=satellite_port,
            play=partial(play, settings),
            listen=partial(listen, settings),
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
