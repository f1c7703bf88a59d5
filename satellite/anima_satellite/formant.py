"""A Wyoming text-to-speech server for espeak-ng: Anima's formant voice tier.

The formant voice is robotic but free, local and fast (about 20 ms a sentence even on small
boards), so Anima uses it for notifications and as the spoken fallback when the budget or the
network rule out neural voices. Home Assistant's Wyoming integration (or Anima itself) talks to
this server like to any Wyoming TTS service:

    python -m anima_satellite.formant --uri tcp://0.0.0.0:10400
    anima-formant --uri tcp://0.0.0.0:10400 --language en --language de --zeroconf

- `describe` -> `info` listing the installed espeak-ng voices (read once at start from
  `espeak-ng --voices`; `--language` keeps only some languages), each with a few variants as
  speakers ("f3", "klatt", ...).
- `synthesize` -> `audio-start`, `audio-chunk`s of `--samples-per-chunk` samples (1024), and
  `audio-stop`, 16-bit mono at 22050 Hz (the format is read from the WAV header espeak-ng
  writes). The voice comes from the event's voice name, else its language, else `--voice`; a
  speaker picks a variant. Anima may add `"speed"` (a factor, 0.5-2.0) to the event's data.
- Streaming text (`synthesize-start`, `synthesize-chunk`..., `synthesize-stop`, as Home
  Assistant sends when the agent streams): every finished sentence is spoken as soon as it
  arrives; one `audio-start` ... `audio-stop` spans the stream, then `synthesize-stopped`.

espeak-ng runs as a subprocess without a shell, text on its stdin (so "-5" or "$(...)" are just
text), with control characters (espeak-ng's embedded Ctrl-A commands change volume, speed and
voice) removed first; at most `--max-concurrent` make audio at a time: a client that does not
read what it asked for holds no slot while it does not read, and is dropped after the write
time-out. A client that disconnects mid-stream only ends its own synthesis: the process is
killed and the server carries on. Empty text gives a short silence rather than no audio, so
every player gets a valid file. Streamed text with no sentence end is spoken in pieces of at
most `MAX_PENDING_CHARACTERS`, and each chunk is scanned once. Events are read within bounds and
connections limited (`serving.py`).

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncGenerator, Sequence
import contextlib
from dataclasses import dataclass, field
from functools import partial
import logging
import re
import shutil
import struct

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
from wyoming.server import AsyncServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from . import __version__
from .protocol import WireLimits, without_voice_commands
from .serving import Guard, GuardedHandler, GuardedServer, run_until_one_stops

_LOGGER = logging.getLogger(__name__)

RATE = 22050
WIDTH = 2
CHANNELS = 1
SAMPLES_PER_CHUNK = 1024
DEFAULT_VOICE = "en-us"
DEFAULT_WPM = 175  # espeak-ng's own default speed, words per minute
MIN_WPM, MAX_WPM = 80, 450
MIN_SPEED, MAX_SPEED = 0.5, 2.0
MAX_TEXT_CHARACTERS = 20_000
#: Streamed text with no sentence end is spoken at its last space once it is this long.
MAX_PENDING_CHARACTERS = 1_000
#: A synthesize event's data holds at most the text (UTF-8: up to 4 bytes a character).
LIMITS = WireLimits(data=4 * MAX_TEXT_CHARACTERS + 4096)
IDLE_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 32
#: Variants offered as speakers when installed (espeak-ng ships about a hundred).
SPEAKER_VARIANTS = ("m1", "m2", "m3", "f1", "f2", "f3", "f4", "klatt", "whisper", "croak")
ATTRIBUTION = Attribution(name="eSpeak NG", url="https://github.com/espeak-ng/espeak-ng")
_SENTENCE_BREAK = re.compile(r"[.!?…;:]+[\"')\]\u2019\u201d]*\s+|\n\s*")
#: What a sentence break starts with, looked back over when new text arrives.
_BREAK_CHARACTERS = frozenset(".!?…;:\"')]\u2019\u201d")
_LOOK_BACK = 16


class FormantError(Exception):
    """espeak-ng failed or produced something that is not a PCM WAV stream."""


# --- voices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EspeakVoice:
    """One espeak-ng voice (a language or dialect)."""

    name: str  # what `-v` takes, e.g. "en-us"
    description: str  # e.g. "English (America)"
    languages: tuple[str, ...]  # BCP 47, own language first, e.g. ("en-US", "en")
    #: espeak-ng's preference per language (lower is preferred), from its "Other Languages".
    priorities: tuple[tuple[str, int], ...] = ()


def bcp47(code: str) -> str:
    """espeak-ng's lower-case language code in BCP 47 case: "en-us" -> "en-US"."""
    parts = code.replace("_", "-").split("-")
    out = [parts[0].lower()]
    private = False
    for part in parts[1:]:
        if part.lower() == "x":
            private = True
            out.append("x")
        elif not private and len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif not private and len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


def parse_voices(listing: str) -> list[EspeakVoice]:
    """Parse `espeak-ng --voices` output."""
    voices: list[EspeakVoice] = []
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) < 5 or not columns[0].isdigit():
            continue
        priority, language, _gender, voice_name = (
            int(columns[0]),
            columns[1],
            columns[2],
            columns[3],
        )
        others = re.findall(r"\(([\w-]+) (\d+)\)", " ".join(columns[5:]))
        priorities = ((bcp47(language), priority), *((bcp47(lang), int(p)) for lang, p in others))
        languages = tuple(dict.fromkeys(lang for lang, _ in priorities))
        description = voice_name.replace("_", " ")
        voices.append(EspeakVoice(language, description, languages, priorities))
    return voices


def parse_variants(listing: str) -> list[str]:
    """Parse `espeak-ng --voices=variant` output into variant ids ("f3", "klatt", ...)."""
    variants: list[str] = []
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 5 and columns[4].startswith("!v/"):
            variants.append(columns[4][3:])
    return variants


def _language_matches(wanted: str, languages: Sequence[str]) -> bool:
    primary = wanted.lower().replace("_", "-").split("-")[0]
    return any(lang.lower().split("-")[0] == primary for lang in languages)


async def _run(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode:
        raise FormantError(f"{' '.join(argv)} failed: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


# --- WAV from espeak-ng's stdout --------------------------------------------------------------


async def read_wav_format(stream: asyncio.StreamReader) -> tuple[int, int, int] | None:
    """Read a RIFF/WAVE header up to the data chunk; (rate, width, channels).

    None when the stream ends before any byte (espeak-ng writes nothing for empty text). The data
    chunk's size is ignored: espeak-ng cannot seek stdout and writes a placeholder.
    """
    try:
        riff = await stream.readexactly(12)
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise FormantError("espeak-ng's output ended inside the WAV header") from err
    if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise FormantError("espeak-ng's output is not a WAV stream")
    audio_format: tuple[int, int, int] | None = None
    try:
        while True:
            chunk_id, size = struct.unpack("<4sI", await stream.readexactly(8))
            if chunk_id == b"data":
                break
            body = await stream.readexactly(size + (size & 1))
            if chunk_id == b"fmt ":
                tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", body[:16])
                if tag != 1 or bits % 8:
                    raise FormantError(f"espeak-ng wrote WAV format {tag}/{bits} bits, not PCM")
                audio_format = (rate, bits // 8, channels)
    except asyncio.IncompleteReadError as err:
        raise FormantError("espeak-ng's output ended inside the WAV header") from err
    if audio_format is None:
        raise FormantError("espeak-ng's WAV output has no fmt chunk")
    return audio_format


# --- the engine ----------------------------------------------------------------------------


@dataclass
class Formant:
    """espeak-ng and its voices; makes PCM chunks for text."""

    espeak: str = "espeak-ng"
    voices: list[EspeakVoice] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    default_voice: str = DEFAULT_VOICE
    words_per_minute: int = DEFAULT_WPM
    samples_per_chunk: int = SAMPLES_PER_CHUNK
    max_concurrent: int = 4
    version: str | None = None
    #: espeak-ng processes running now (for tests and diagnostics).
    active: int = 0
    #: The bounds of the server's connections.
    guard: Guard = field(
        default_factory=lambda: Guard(
            "Formant voice",
            LIMITS,
            allow=None,
            max_connections=MAX_CONNECTIONS,
            idle_timeout=IDLE_TIMEOUT_S,
        ),
        repr=False,
    )
    _slots: asyncio.Semaphore | None = field(default=None, repr=False)

    @classmethod
    async def load(
        cls,
        espeak: str = "espeak-ng",
        *,
        languages: Sequence[str] = (),
        default_voice: str = DEFAULT_VOICE,
        words_per_minute: int = DEFAULT_WPM,
        samples_per_chunk: int = SAMPLES_PER_CHUNK,
        max_concurrent: int = 4,
    ) -> Formant:
        """Find espeak-ng and read its voices (optionally only `languages`)."""
        path = shutil.which(espeak)
        if path is None:
            raise FormantError(
                f"{espeak} not found; install it (Debian: apt-get install -y espeak-ng)"
            )
        version_text = await _run(path, "--version")
        version = re.search(r"(\d+\.\d+(?:\.\d+)?)", version_text)
        voices = parse_voices(await _run(path, "--voices"))
        if languages:
            voices = [
                v for v in voices if any(_language_matches(w, v.languages) for w in languages)
            ]
        if not voices:
            raise FormantError(
                f"espeak-ng has no voice for {', '.join(languages) or 'any language'}"
            )
        variants = parse_variants(await _run(path, "--voices=variant"))
        names = {voice.name for voice in voices}
        if default_voice not in names:
            default_voice = voices[0].name
        return cls(
            espeak=path,
            voices=voices,
            variants=variants,
            default_voice=default_voice,
            words_per_minute=max(MIN_WPM, min(MAX_WPM, words_per_minute)),
            samples_per_chunk=max(1, samples_per_chunk),
            max_concurrent=max(1, max_concurrent),
            version=version.group(1) if version else None,
        )

    def info(self) -> Info:
        """Return what `describe` answers."""
        speakers = [TtsVoiceSpeaker(name=v) for v in SPEAKER_VARIANTS if v in self.variants]
        voices = [
            TtsVoice(
                name=voice.name,
                attribution=ATTRIBUTION,
                installed=True,
                description=voice.description,
                version=self.version,
                languages=list(voice.languages),
                speakers=list(speakers) or None,
            )
            for voice in self.voices
        ]
        program = TtsProgram(
            name="espeak-ng",
            attribution=ATTRIBUTION,
            installed=True,
            description="Anima formant voice (espeak-ng)",
            version=__version__,
            voices=voices,
            supports_synthesize_streaming=True,
        )
        return Info(tts=[program])

    def voice_argument(self, voice: SynthesizeVoice | None) -> str:
        """Return the `-v` argument for a voice: a known name, its language, or the default."""
        known = {v.name.lower(): v.name for v in self.voices}
        name = speaker = language = None
        if voice is not None:
            name, speaker, language = voice.name, voice.speaker, voice.language
        if name and "+" in name and speaker is None:
            name, speaker = name.split("+", 1)
        chosen = known.get(name.lower().replace("_", "-")) if name else None
        if chosen is None:
            wanted = name or language
            chosen = self._voice_for_language(wanted) if wanted else None
        base = chosen or self.default_voice
        if speaker and speaker in self.variants:
            return f"{base}+{speaker}"
        return base

    def _voice_for_language(self, wanted: str) -> str | None:
        tag = bcp47(wanted).lower()
        best: tuple[int, int, str] | None = None
        for voice in self.voices:
            for language, priority in voice.priorities:
                lang = language.lower()
                if lang == tag:
                    rank = (0, priority, voice.name)
                elif lang.split("-")[0] == tag.split("-")[0]:
                    rank = (1, priority, voice.name)
                else:
                    continue
                if best is None or rank < best:
                    best = rank
        return best[2] if best else None

    def words_per_minute_for(self, speed: object) -> int:
        """espeak-ng's `-s` for a speed factor (1.0 = the configured speed)."""
        factor = 1.0
        if isinstance(speed, (int, float)) and not isinstance(speed, bool) and speed > 0:
            factor = max(MIN_SPEED, min(MAX_SPEED, float(speed)))
        return max(MIN_WPM, min(MAX_WPM, round(self.words_per_minute * factor)))

    async def _espeak(self, voice: str, words_per_minute: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.espeak,
            "--stdout",
            "--stdin",
            "-b",
            "1",  # input is UTF-8
            "-v",
            voice,
            "-s",
            str(words_per_minute),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def speak(
        self, text: str, voice: str, words_per_minute: int
    ) -> AsyncGenerator[AudioChunk, None]:  # noqa: UP043 (Python 3.11 needs both arguments)
        """Yield PCM chunks for `text` from one espeak-ng process.

        A slot of `max_concurrent` is held while espeak-ng makes audio, not while the consumer
        of a chunk takes its time (a client that does not read holds no slot). Close the
        generator (`contextlib.aclosing`) to stop early: the process is killed.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        slot = _Slot(self._slots)
        await slot.hold()
        try:
            process = await self._espeak(voice, words_per_minute)
        except BaseException:
            slot.let_go()
            raise
        self.active += 1
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        feeder = asyncio.create_task(_feed(process.stdin, text.encode("utf-8")))
        errors = asyncio.create_task(process.stderr.read())
        try:
            audio_format = await read_wav_format(process.stdout)
            if audio_format is not None:
                rate, width, channels = audio_format
                frame = width * channels
                size = self.samples_per_chunk * frame
                while data := await _read_frames(process.stdout, size, frame):
                    slot.let_go()  # espeak-ng waits on a full pipe meanwhile: no work, no slot
                    yield AudioChunk(rate, width, channels, data)
                    await slot.hold()
            code = await process.wait()
            if code:
                message = (await errors).decode(errors="replace").strip()
                raise FormantError(f"espeak-ng exited with {code}: {message}")
        finally:
            slot.let_go()
            try:
                feeder.cancel()
                errors.cancel()
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                await process.wait()
                for task in (feeder, errors):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            finally:
                self.active -= 1


async def _read_frames(stdout: asyncio.StreamReader, size: int, frame: int) -> bytes:
    """Read `size` bytes, or the whole frames left at the end (b"" once nothing is left)."""
    try:
        return await stdout.readexactly(size)
    except asyncio.IncompleteReadError as err:
        return err.partial[: len(err.partial) - len(err.partial) % frame]


class _Slot:
    """One of `max_concurrent` slots: held while espeak-ng makes audio, let go while it waits."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots, self._held = slots, False

    async def hold(self) -> None:
        await self._slots.acquire()
        self._held = True

    def let_go(self) -> None:
        if self._held:
            self._slots.release()
            self._held = False


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    """Write the text and close stdin; espeak-ng may exit early, which is not our error."""
    with contextlib.suppress(ConnectionError):
        stdin.write(data)
        await stdin.drain()
    with contextlib.suppress(ConnectionError):
        stdin.close()
        await stdin.wait_closed()


# --- Wyoming --------------------------------------------------------------------------------


@dataclass
class _TextStream:
    """State of one synthesis (one `synthesize`, or synthesize-start ... synthesize-stop)."""

    voice: str
    words_per_minute: int
    buffer: str = ""
    #: Characters received: a stream is at most MAX_TEXT_CHARACTERS, like one request.
    received: int = 0
    started: bool = False
    sent_bytes: int = 0

    def add(self, text: str) -> str:
        """Add streamed text; return what is ready to speak (finished sentences)."""
        self.received += len(text)
        if self.received > MAX_TEXT_CHARACTERS:
            raise FormantError(f"streamed text longer than {MAX_TEXT_CHARACTERS} characters")
        scanned = len(self.buffer)
        self.buffer += text
        ready, self.buffer = _split_finished(self.buffer, scanned)
        return ready


class FormantEventHandler(GuardedHandler):
    """One client connection."""

    def __init__(
        self,
        formant: Formant,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(reader, writer, formant.guard)
        self.formant = formant
        self._stream: _TextStream | None = None

    async def handle_event(self, event: Event) -> bool:
        """Answer one event; False ends the connection."""
        self.trusted = True
        try:
            return await self._handle(event)
        except ConnectionError as err:
            _LOGGER.debug("Client went away: %s", err)
            self._stream = None
            return False
        except Exception as err:  # noqa: BLE001 (a failed synthesis is an error event, not a crash)
            self.complain("synthesis_failed", f"asked for a synthesis that failed: {err}")
            self._stream = None
            with contextlib.suppress(ConnectionError):
                await self.write_event(Error(text=str(err), code=type(err).__name__).event())
            return True

    async def _handle(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.formant.info().event())
            return True
        if Synthesize.is_type(event.type):
            if self._stream is not None:
                return True  # the whole text again, sent inside a stream for old servers
            synthesize = Synthesize.from_event(event)
            voice = self.formant.voice_argument(synthesize.voice)
            wpm = self.formant.words_per_minute_for(event.data.get("speed"))
            state = _TextStream(voice, wpm)
            await self._speak(state, synthesize.text)
            await self._finish(state)
            return True
        if SynthesizeStart.is_type(event.type):
            start = SynthesizeStart.from_event(event)
            self._stream = _TextStream(
                self.formant.voice_argument(start.voice),
                self.formant.words_per_minute_for(event.data.get("speed")),
            )
            return True
        if SynthesizeChunk.is_type(event.type):
            if self._stream is None:
                return True
            ready = self._stream.add(SynthesizeChunk.from_event(event).text)
            if ready:
                await self._speak(self._stream, ready)
            return True
        if SynthesizeStop.is_type(event.type):
            stream, self._stream = self._stream, None
            if stream is not None:
                await self._speak(stream, stream.buffer)
                await self._finish(stream)
            await self.write_event(SynthesizeStopped().event())
            return True
        return True  # other events are not for us

    async def _speak(self, state: _TextStream, text: str) -> None:
        text = speakable(text)
        if len(text) > MAX_TEXT_CHARACTERS:
            raise FormantError(f"text longer than {MAX_TEXT_CHARACTERS} characters")
        if not text:
            return
        async with contextlib.aclosing(
            self.formant.speak(text, state.voice, state.words_per_minute)
        ) as chunks:
            async for chunk in chunks:
                if not state.started:
                    await self.write_event(
                        AudioStart(chunk.rate, chunk.width, chunk.channels).event()
                    )
                    state.started = True
                await self.write_event(chunk.event())
                state.sent_bytes += len(chunk.audio)

    async def _finish(self, state: _TextStream) -> None:
        """End the audio; nothing spoken (empty text) still gives a valid, short silence."""
        if not state.started:
            await self.write_event(AudioStart(RATE, WIDTH, CHANNELS).event())
        if state.sent_bytes == 0:
            silence = bytes(self.formant.samples_per_chunk * WIDTH * CHANNELS)
            await self.write_event(AudioChunk(RATE, WIDTH, CHANNELS, silence).event())
        await self.write_event(AudioStop().event())


def speakable(text: str) -> str:
    """Text as espeak-ng may read it: no embedded commands or control characters, one space."""
    return " ".join(without_voice_commands(text).split())


def _split_finished(buffer: str, scanned: int = 0) -> tuple[str, str]:
    """Split streamed text after its last finished sentence: (ready, rest).

    Only the text after `scanned` (what an earlier call already looked at) is searched, from a
    few break characters before it (a break split across chunks), so a long stream is scanned
    once. With no sentence end in a text longer than MAX_PENDING_CHARACTERS, its first part up
    to the last space is ready anyway.
    """
    start = scanned
    while start > 0 and scanned - start < _LOOK_BACK and buffer[start - 1] in _BREAK_CHARACTERS:
        start -= 1
    end = 0
    for match in _SENTENCE_BREAK.finditer(buffer, start):
        end = match.end()
    if not end and len(buffer) > MAX_PENDING_CHARACTERS:
        space = buffer.rfind(" ", 0, MAX_PENDING_CHARACTERS)
        end = space + 1 if space > 0 else MAX_PENDING_CHARACTERS
    return buffer[:end], buffer[end:]


# --- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser of `anima-formant`."""
    parser = argparse.ArgumentParser(
        prog="anima-formant", description="Wyoming text-to-speech server for espeak-ng"
    )
    parser.add_argument(
        "--uri", default="tcp://0.0.0.0:10400", help="tcp://HOST:PORT, unix://PATH or stdio://"
    )
    parser.add_argument("--voice", default=DEFAULT_VOICE, help="default espeak-ng voice (en-us)")
    parser.add_argument(
        "--language",
        action="append",
        default=[],
        help="offer only voices of this language (repeatable; default: every installed voice)",
    )
    parser.add_argument("--speed", type=int, default=DEFAULT_WPM, help="words per minute (175)")
    parser.add_argument("--samples-per-chunk", type=int, default=SAMPLES_PER_CHUNK)
    parser.add_argument("--max-concurrent", type=int, default=4, help="espeak-ng processes at once")
    parser.add_argument("--espeak", default="espeak-ng", help="espeak-ng executable")
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const="anima-formant",
        default=None,
        metavar="NAME",
        help="announce the server to Home Assistant over mDNS (needs the 'discovery' extra)",
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=__version__)
    return parser


async def run(args: argparse.Namespace) -> None:
    """Load espeak-ng and serve until stopped."""
    formant = await Formant.load(
        args.espeak,
        languages=args.language,
        default_voice=args.voice,
        words_per_minute=args.speed,
        samples_per_chunk=args.samples_per_chunk,
        max_concurrent=args.max_concurrent,
    )
    _LOGGER.info(
        "espeak-ng %s: %d voices, default %s",
        formant.version,
        len(formant.voices),
        formant.default_voice,
    )
    if args.zeroconf:
        await _announce(args.uri, args.zeroconf)
    _LOGGER.info("Serving on %s", args.uri)
    if args.uri.startswith("stdio://"):  # a parent process, not a network peer
        await AsyncServer.from_uri(args.uri).run(partial(FormantEventHandler, formant))
    else:
        server = GuardedServer(formant.guard, partial(FormantEventHandler, formant))
        await run_until_one_stops([server.serve(args.uri)])


async def _announce(uri: str, name: str) -> None:
    from urllib.parse import urlparse  # noqa: PLC0415

    from wyoming.zeroconf import HomeAssistantZeroconf  # noqa: PLC0415 (needs zeroconf)

    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or parsed.port is None:
        raise FormantError("--zeroconf needs a tcp:// URI")
    host = parsed.hostname if parsed.hostname not in (None, "0.0.0.0", "::") else None  # noqa: S104
    await HomeAssistantZeroconf(port=parsed.port, name=name, host=host).register_server()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `anima-formant` and `python -m anima_satellite.formant`."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass
    except FormantError as err:
        raise SystemExit(f"anima-formant: {err}") from err


if __name__ == "__main__":
    main()
