"""The espeak-ng Wyoming server (formant tier), run for real on loopback with real espeak-ng.

Needs the Debian package espeak-ng (scripts/setup installs it). The last test has the real
faster-whisper server (tests/fixtures/speech_servers.py) transcribe what the formant voice said.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
import json
import logging
import os
from pathlib import Path
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from anima_satellite import formant as formant_module
from anima_satellite.formant import (
    EspeakVoice,
    Formant,
    FormantError,
    FormantEventHandler,
    bcp47,
    parse_variants,
    parse_voices,
    read_wav_format,
    speakable,
)
from custom_components.anima.core.speech.shaping import shape
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from tests.fixtures.speech_servers import SpeechServer, free_port

ROOT = Path(__file__).resolve().parents[2]
KITCHEN = "Turned on the kitchen light."
TIMEOUT = 15


@pytest.fixture(scope="module")
def espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        pytest.fail("espeak-ng is missing: apt-get install -y espeak-ng (scripts/setup does it)")
    return path


@dataclass
class Running:
    """A formant server on a loopback port."""

    formant: Formant
    port: int
    server: asyncio.Server = field(repr=False)

    def client(self) -> AsyncTcpClient:
        return AsyncTcpClient("127.0.0.1", self.port, read_timeout=TIMEOUT)


@pytest.fixture
async def formant_server(espeak: str, socket_enabled: None) -> AsyncIterator[Running]:
    formant = await Formant.load(espeak)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await FormantEventHandler(formant, reader, writer).run()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield Running(formant, server.sockets[0].getsockname()[1], server)
    finally:
        server.close()
        server.close_clients()
        await server.wait_closed()


@dataclass
class Spoken:
    """What a synthesis returned."""

    events: list[Event]

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    @property
    def start(self) -> AudioStart:
        return AudioStart.from_event(next(e for e in self.events if AudioStart.is_type(e.type)))

    @property
    def chunks(self) -> list[AudioChunk]:
        return [AudioChunk.from_event(e) for e in self.events if AudioChunk.is_type(e.type)]

    @property
    def pcm(self) -> bytes:
        return b"".join(chunk.audio for chunk in self.chunks)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * 22050)


async def _read_until(client: AsyncTcpClient, *last: str) -> Spoken:
    events: list[Event] = []
    while True:
        event = await client.read_event()
        assert event is not None, f"connection closed after {[e.type for e in events]}"
        events.append(event)
        if event.type in (*last, "error"):
            return Spoken(events)


async def _speak(server: Running | int, text: str, voice: SynthesizeVoice | None = None) -> Spoken:
    port = server if isinstance(server, int) else server.port
    async with AsyncTcpClient("127.0.0.1", port, read_timeout=TIMEOUT) as client:
        await client.write_event(Synthesize(text=text, voice=voice).event())
        return await _read_until(client, "audio-stop")


# --- parsing, without a server ---------------------------------------------------------------


def test_voice_listing_is_parsed() -> None:
    listing = (
        "Pty Language       Age/Gender VoiceName          File                 Other Languages\n"
        " 5  af              --/M      Afrikaans          gmw/af               \n"
        " 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)\n"
        " 5  en-gb-x-rp      --/M      English_(Received_Pronunciation) gmw/en-GB-x-rp"
        "       (en-gb 4)(en 5)\n"
        "garbage line\n"
    )
    voices = parse_voices(listing)
    assert [v.name for v in voices] == ["af", "en-us", "en-gb-x-rp"]
    assert voices[1] == EspeakVoice(
        "en-us", "English (America)", ("en-US", "en"), (("en-US", 2), ("en", 3))
    )
    assert voices[2].languages == ("en-GB-x-rp", "en-GB", "en")
    variants = " 5  variant         --/F      female3            !v/f3                \n"
    assert parse_variants("header\n" + variants) == ["f3"]
    assert bcp47("en-us") == "en-US"
    assert bcp47("zh-hans") == "zh-Hans"
    assert bcp47("en-gb-x-gbclan") == "en-GB-x-gbclan"
    assert bcp47("pt_br") == "pt-BR"


async def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_wav_header_is_read_or_rejected() -> None:
    header = (
        b"RIFF\x24\xf0\xff\x7fWAVE"
        b"fmt \x10\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00\x44\xac\x00\x00\x02\x00\x10\x00"
        b"data\x00\xf0\xff\x7f"
    )
    assert await read_wav_format(await _reader(header + b"\x00\x00")) == (22050, 2, 1)
    # An extra chunk before the data is skipped.
    listed = header[:12] + b"LIST\x03\x00\x00\x00abc\x00" + header[12:]
    assert await read_wav_format(await _reader(listed)) == (22050, 2, 1)
    assert await read_wav_format(await _reader(b"")) is None  # espeak-ng on empty text
    with pytest.raises(FormantError, match="not a WAV"):
        await read_wav_format(await _reader(b"ID3\x00 not audio at all"))
    with pytest.raises(FormantError, match="inside the WAV header"):
        await read_wav_format(await _reader(header[:20]))
    with pytest.raises(FormantError, match="no fmt"):
        await read_wav_format(await _reader(header[:12] + b"data\x00\x00\x00\x00"))
    float_wav = header.replace(b"\x01\x00\x01\x00", b"\x03\x00\x01\x00", 1)
    with pytest.raises(FormantError, match="not PCM"):
        await read_wav_format(await _reader(float_wav))


async def test_voice_choice(espeak: str) -> None:
    formant = await Formant.load(espeak)
    assert formant.default_voice == "en-us"
    assert formant.voice_argument(None) == "en-us"
    assert formant.voice_argument(SynthesizeVoice(name="de")) == "de"
    assert formant.voice_argument(SynthesizeVoice(name="en-GB")) == "en-gb"
    assert formant.voice_argument(SynthesizeVoice(name="de", speaker="f3")) == "de+f3"
    assert formant.voice_argument(SynthesizeVoice(name="en-us+klatt")) == "en-us+klatt"
    assert formant.voice_argument(SynthesizeVoice(language="fr")) == "fr-fr"
    assert formant.voice_argument(SynthesizeVoice(language="en")) == "en-gb"  # espeak's choice
    assert formant.voice_argument(SynthesizeVoice(language="pt-BR")) == "pt-br"
    # Unknown names and speakers fall back; nothing from the client reaches argv unchecked.
    assert formant.voice_argument(SynthesizeVoice(name="--help")) == "en-us"
    assert formant.voice_argument(SynthesizeVoice(name="de", speaker="--stdout")) == "de"
    assert formant.words_per_minute_for(None) == 175
    assert formant.words_per_minute_for(1.2) == 210
    assert formant.words_per_minute_for(10) == 350  # clamped to 2x
    assert formant.words_per_minute_for("fast") == 175
    assert formant.words_per_minute_for(True) == 175

    only = await Formant.load(espeak, languages=["de", "fr"], default_voice="en-us")
    assert {lang.split("-")[0] for v in only.voices for lang in v.languages} == {"de", "fr"}
    assert only.default_voice in {v.name for v in only.voices}
    with pytest.raises(FormantError, match="no voice"):
        await Formant.load(espeak, languages=["tlh"])
    with pytest.raises(FormantError, match="not found"):
        await Formant.load("no-such-espeak-ng")


# --- the server ------------------------------------------------------------------------------


async def test_describe_lists_espeak_voices(formant_server: Running) -> None:
    async with formant_server.client() as client:
        await client.write_event(Describe().event())
        event = await client.read_event()
    assert event is not None
    info = Info.from_event(event)
    [program] = info.tts
    assert program.name == "espeak-ng"
    assert program.installed
    assert program.supports_synthesize_streaming
    voices = {voice.name: voice for voice in program.voices}
    assert len(voices) > 50
    assert {"en-us", "en-gb", "de", "fr-fr", "es"} <= set(voices)
    assert voices["en-us"].languages == ["en-US", "en"]
    assert voices["en-us"].installed
    assert voices["en-us"].description == "English (America)"
    assert {speaker.name for speaker in voices["en-us"].speakers or []} >= {"f3", "klatt"}


async def test_synthesize_streams_22050_hz_pcm(formant_server: Running) -> None:
    spoken = await _speak(formant_server, KITCHEN)
    assert spoken.types[0] == "audio-start"
    assert spoken.types[-1] == "audio-stop"
    start = spoken.start
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    chunks = spoken.chunks
    assert len(chunks) > 5
    assert all((c.rate, c.width, c.channels) == (22050, 2, 1) for c in chunks)
    assert all(len(c.audio) == 2048 for c in chunks[:-1])  # 1024 samples each
    assert 0 < len(chunks[-1].audio) <= 2048
    assert 0.8 < spoken.seconds < 4.0
    assert formant_server.formant.active == 0


async def test_voice_and_speed_change_the_audio(formant_server: Running) -> None:
    base = await _speak(formant_server, KITCHEN)
    german = await _speak(formant_server, KITCHEN, SynthesizeVoice(name="de"))
    assert german.pcm != base.pcm
    async with formant_server.client() as client:
        fast = Synthesize(text=KITCHEN).event()
        fast.data["speed"] = 2.0  # Anima's extension: a speed factor
        await client.write_event(fast)
        quick = await _read_until(client, "audio-stop")
    assert quick.seconds < 0.75 * base.seconds


async def test_concurrent_requests_all_succeed(formant_server: Running) -> None:
    texts = [KITCHEN, "The front door is locked.", "It is 21 degrees.", "Good night."] * 2
    results = await asyncio.gather(*(_speak(formant_server, text) for text in texts))
    for text, spoken in zip(texts, results, strict=True):
        assert spoken.types[-1] == "audio-stop", text
        assert 0.3 < spoken.seconds < 4.0, text
    assert results[0].pcm == results[4].pcm  # same text, same audio, whatever the interleaving
    assert results[0].pcm != results[1].pcm
    assert formant_server.formant.active == 0


async def test_client_leaving_mid_stream_does_not_hurt_the_server(
    formant_server: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anima_satellite.formant")
    long_text = " ".join(f"This is sentence number {n} of a very long story." for n in range(250))
    reader, writer = await asyncio.open_connection("127.0.0.1", formant_server.port)
    client = AsyncTcpClient("127.0.0.1", formant_server.port, read_timeout=TIMEOUT)
    client._reader, client._writer = reader, writer  # reuse the raw socket
    await client.write_event(Synthesize(text=long_text).event())
    first = await client.read_event()
    assert first is not None
    assert first.type == "audio-start"
    chunk = await client.read_event()
    assert chunk is not None
    assert chunk.type == "audio-chunk"
    writer.transport.abort()  # gone without a goodbye, with audio still unread

    deadline = time.monotonic() + 10
    while formant_server.formant.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert formant_server.formant.active == 0  # espeak-ng was killed, not left running
    assert "Client went away" in caplog.text  # noticed while streaming, not after the end
    spoken = await _speak(formant_server, KITCHEN)
    assert 0.8 < spoken.seconds < 4.0


async def test_shell_characters_are_only_text(formant_server: Running, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"-5 --help $(touch {marker}) `touch {marker}`; touch {marker} && echo | cat > x <b>"
    spoken = await _speak(formant_server, text)
    assert spoken.types[-1] == "audio-stop"
    assert spoken.seconds > 1.0  # it was all read out
    assert not marker.exists()


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "..."])
async def test_empty_text_gives_a_short_silence(formant_server: Running, text: str) -> None:
    spoken = await _speak(formant_server, text)
    assert spoken.types[0] == "audio-start"
    assert spoken.types[-1] == "audio-stop"
    assert (spoken.start.rate, spoken.start.width, spoken.start.channels) == (22050, 2, 1)
    assert spoken.seconds < 0.5
    if not text.strip():
        assert set(spoken.pcm) == {0}


async def test_streamed_text_is_spoken_sentence_by_sentence(formant_server: Running) -> None:
    async with formant_server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="en-us")).event())
        await client.write_event(SynthesizeChunk(text="Turned on the ").event())
        await client.write_event(SynthesizeChunk(text="kitchen light. The front").event())
        # The first sentence is complete: its audio comes before the stream ends.
        first = await asyncio.wait_for(client.read_event(), TIMEOUT)
        assert first is not None
        assert first.type == "audio-start"
        await client.write_event(SynthesizeChunk(text=" door is locked").event())
        full = "Turned on the kitchen light. The front door is locked"
        await client.write_event(Synthesize(text=full).event())  # sent for old servers: ignored
        await client.write_event(SynthesizeStop().event())
        rest = await _read_until(client, "synthesize-stopped")
    spoken = Spoken([first, *rest.events])
    assert spoken.types.count("audio-start") == 1
    assert spoken.types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert 1.5 < spoken.seconds < 6.0
    # The same two sentences as one request: streaming neither lost nor repeated anything.
    whole = await _speak(formant_server, full + ".")
    assert abs(spoken.seconds - whole.seconds) < 0.6


async def test_empty_stream_still_ends_properly(formant_server: Running) -> None:
    async with formant_server.client() as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeStop().event())
        spoken = await _read_until(client, "synthesize-stopped")
    assert spoken.types[0] == "audio-start"
    assert spoken.types[-2:] == ["audio-stop", "synthesize-stopped"]


async def test_espeak_failure_is_an_error_event(formant_server: Running) -> None:
    broken = Formant(espeak="false", voices=formant_server.formant.voices)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await FormantEventHandler(broken, reader, writer).run()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        async with AsyncTcpClient("127.0.0.1", port, read_timeout=TIMEOUT) as client:
            await client.write_event(Synthesize(text=KITCHEN).event())
            spoken = await _read_until(client, "audio-stop")
            assert spoken.types == ["error"]
            assert "exited with 1" in Error.from_event(spoken.events[0]).text
            # The connection stays usable.
            await client.write_event(Describe().event())
            event = await client.read_event()
            assert event is not None
            assert event.type == "info"
        assert broken.active == 0
    finally:
        server.close()
        server.close_clients()
        await server.wait_closed()


async def test_command_line_server(espeak: str, socket_enabled: None) -> None:
    """`python -m anima_satellite.formant` (what the `anima-formant` script runs) serves."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "anima_satellite.formant"),
            *("--uri", f"tcp://127.0.0.1:{port}", "--language", "en", "--voice", "en-gb"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "satellite")},
    )
    try:
        deadline = time.monotonic() + 20
        info: Info | None = None
        while info is None:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            try:
                async with AsyncTcpClient("127.0.0.1", port, read_timeout=5) as client:
                    await client.write_event(Describe().event())
                    event = await client.read_event()
                    info = Info.from_event(event) if event else None
            except OSError:
                await asyncio.sleep(0.1)
        languages = {lang.split("-")[0] for v in info.tts[0].voices for lang in v.languages}
        assert languages == {"en"}
        spoken = await _speak(port, KITCHEN)
        assert 0.8 < spoken.seconds < 4.0
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
    assert process.returncode in (0, -15)


# --- hostile text and clients ------------------------------------------------------------------


async def test_clients_that_never_read_do_not_hold_the_voice(formant_server: Running) -> None:
    """Four clients ask for long speech and never read it; a fifth is still answered at once
    (sooner than the write time-out that would drop them)."""
    long_text = " ".join(f"This is sentence {n} of a story nobody hears." for n in range(400))
    stalled = []
    try:
        for _ in range(formant_server.formant.max_concurrent):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", formant_server.port))
            sock.sendall(_wire(Synthesize(text=long_text).event()))
            stalled.append(sock)
        await asyncio.sleep(1.0)  # their audio fills every buffer on the way
        async with asyncio.timeout(formant_server.formant.guard.write_timeout / 2):
            spoken = await _speak(formant_server, KITCHEN)
        assert 0.8 < spoken.seconds < 4.0
    finally:
        for sock in stalled:
            sock.close()
        async with asyncio.timeout(TIMEOUT):  # their syntheses end with them
            while formant_server.formant.active:
                await asyncio.sleep(0.05)


def _wire(event: Event) -> bytes:
    data = json.dumps(event.data).encode()
    return json.dumps({"type": event.type, "data_length": len(data)}).encode() + b"\n" + data


async def test_streamed_text_without_a_sentence_end_is_spoken_in_pieces(
    formant_server: Running,
) -> None:
    words = " ".join(["and then"] * 400)  # 3,599 characters, no sentence end
    async with formant_server.client() as client:
        await client.write_event(SynthesizeStart().event())
        for start in range(0, len(words), 50):
            await client.write_event(SynthesizeChunk(text=words[start : start + 50]).event())
        # Audio comes while the stream is still open: the text is not held back whole.
        first = await asyncio.wait_for(client.read_event(), TIMEOUT)
        assert first is not None
        assert first.type == "audio-start"
        await client.write_event(SynthesizeStop().event())
        rest = await _read_until(client, "synthesize-stopped")
    spoken = Spoken([first, *rest.events])
    assert spoken.types.count("audio-start") == 1
    assert spoken.seconds > 60  # all of it, about 800 words


async def test_streamed_text_is_scanned_once(
    formant_server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream sent one character at a time costs what its length does, not its square."""

    class Counting:
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern, self.scanned = pattern, 0

        def finditer(self, text: str, pos: int = 0) -> Iterator[re.Match[str]]:
            self.scanned += len(text) - pos
            return self.pattern.finditer(text, pos)

    counting = Counting(formant_module._SENTENCE_BREAK)
    monkeypatch.setattr(formant_module, "_SENTENCE_BREAK", counting)
    text = "x" * 3000  # no sentence end, no space
    async with formant_server.client() as client:
        await client.write_event(SynthesizeStart().event())
        for character in text:
            await client.write_event(SynthesizeChunk(text=character).event())
        await client.write_event(SynthesizeStop().event())
        await _read_until(client, "synthesize-stopped")
    assert counting.scanned <= 20 * len(text), counting.scanned


def test_control_characters_are_removed_before_espeak_reads_the_text() -> None:
    assert (
        speakable("Loud\x01200A and fast\x0190S\x07 now\x00\x1b[0m\x85.")
        == "Loud and fast now [0m ."
    )
    assert speakable("two\nlines\tand  spaces") == "two lines and spaces"


async def test_embedded_espeak_commands_do_not_change_the_voice(formant_server: Running) -> None:
    plain = await _speak(formant_server, "It is twenty one degrees.")
    commanded = await _speak(formant_server, "It is \x01200A\x01450S twenty one\x07 degrees.")
    assert commanded.pcm == plain.pcm  # not louder, not faster: the same speech
    async with formant_server.client() as client:  # the same when the text is streamed
        await client.write_event(SynthesizeStart().event())
        for part in ("It is \x01", "200A twenty", " one degrees."):
            await client.write_event(SynthesizeChunk(text=part).event())
        await client.write_event(SynthesizeStop().event())
        streamed = await _read_until(client, "synthesize-stopped")
    assert streamed.pcm == plain.pcm


def test_command_line_reports_missing_espeak() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anima_satellite.formant", "--espeak", "no-such-espeak"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT / "satellite")},
        check=False,
    )
    assert result.returncode == 1
    assert "apt-get install -y espeak-ng" in result.stderr


async def test_whisper_understands_the_formant_voice(
    formant_server: Running, whisper_server: SpeechServer
) -> None:
    spoken = await _speak(formant_server, KITCHEN)
    pcm = spoken.pcm

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), 4096):
            yield pcm[start : start + 4096]

    whisper = WyomingClient(whisper_server.host, whisper_server.port, timeout=30)
    transcript = await whisper.transcribe(stream(), AudioFormat(22050, 2, 1), language="en")
    assert "kitchen light" in re.sub(r"[^a-z ]", "", transcript.text.lower())


async def test_shaped_markdown_is_heard_as_plain_speech(
    formant_server: Running, whisper_server: SpeechServer
) -> None:
    """Why shaping matters: espeak-ng reads markdown and URLs out loud; shaped text it doesn't."""
    raw = "**Turned on** the [kitchen light](https://example.com/x) 💡 at 14:30."
    shaped = shape(raw).text
    assert shaped == "Turned on the kitchen light at 2:30 PM."
    whisper = WyomingClient(whisper_server.host, whisper_server.port, timeout=30)

    async def heard(text: str) -> str:
        pcm = (await _speak(formant_server, text)).pcm

        async def stream() -> AsyncIterator[bytes]:
            for start in range(0, len(pcm), 4096):
                yield pcm[start : start + 4096]

        transcript = await whisper.transcribe(stream(), AudioFormat(22050, 2, 1), language="en")
        return re.sub(r"[^a-z0-9 ]", " ", transcript.text.lower())

    raw_heard, shaped_heard = await heard(raw), await heard(shaped)
    assert "slash" in raw_heard or "https" in raw_heard  # the URL was read out
    assert "kitchen light" in shaped_heard
    assert "2 30 pm" in " ".join(shaped_heard.split())
    assert not {"slash", "https", "asterisk", "bulb"} & set(shaped_heard.split())
