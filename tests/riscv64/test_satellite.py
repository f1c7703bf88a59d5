"""The satellite as a riscv64 process, Home Assistant on this machine: adopted by Home Assistant's
Wyoming integration, one voice turn (espeak-ng question, Whisper, the agent on the fake OpenAI
server, Piper, the reply played on the board and transcribed back), earcons and the endpoint
service's camera frame, then Anima's formant voice served from the board."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import re
import time

import numpy as np
from PIL import Image
import pytest

from custom_components.anima.core.speech.earcons import earcon_pcm
from custom_components.anima.protocol import new_key
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from scripts.hassctl import HassProcess, free_port
from tests.e2e.test_voice_loop import adopt_satellite, bind_endpoint, voice_hass
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.satellites import transcribe
from tests.riscv64.conftest import TIMINGS, InstalledSatellite, played_on_board, running

__all__ = ["voice_hass"]  # the fixture, shared with tests/e2e
REPLY_RATE = 22050  # Piper's Joe


async def test_a_question_to_the_riscv64_satellite_is_answered_out_loud(
    voice_hass: HassProcess,
    installed: InstalledSatellite,
    openai_server: FakeOpenAIServer,
    whisper_server: SpeechServer,
    tmp_path: Path,
) -> None:
    board = installed.board
    openai_server.reply(Reply.text("Paris is the capital of France."))
    spoken(board.share, "What is the capital of France?", name="question")
    speaker = board.share / "speaker-question.raw"
    port = free_port()
    args = ["--name", "Attic", "--uri", f"tcp://127.0.0.1:{port}"]
    args += ["--mic-file", "/share/question.wav", "--snd-file", f"/share/{speaker.name}"]
    async with running(installed, "anima-satellite", *args, port=port, timing="satellite_start_s"):
        started = time.monotonic()
        await adopt_satellite(voice_hass, port)  # Home Assistant runs it: the file is spoken
        reply = await played_on_board(speaker)
        TIMINGS["voice_turn_s"] = time.monotonic() - started
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert "capital of france" in " ".join(re.findall(r"[a-z]+", str(chats[-1].json).lower()))
    assert "capital of france" in await transcribe(whisper_server, (REPLY_RATE, 2, 1, reply))


async def test_the_riscv64_satellite_plays_earcons_and_serves_its_camera(
    voice_hass: HassProcess, installed: InstalledSatellite
) -> None:
    """On the hub with an agent and a voice (an endpoint needs one of them)."""
    board = installed.board
    image = board.share / "porch.jpg"
    Image.new("RGB", (640, 480), (30, 160, 90)).save(image, "JPEG")
    speaker = board.share / "speaker-earcons.raw"
    port, service_port = free_port(), free_port()
    args = ["--name", "Porch", "--uri", f"tcp://127.0.0.1:{port}"]
    args += ["--mic-command", "sleep 3600", "--snd-file", f"/share/{speaker.name}"]
    key_file = board.share / "endpoint.key"  # the pairing key, as the board keeps it
    key_file.write_text(new_key() + "\n")
    key_file.chmod(0o600)
    args += [
        "--service-uri",
        f"tcp://127.0.0.1:{service_port}",
        "--key-file",
        "/share/endpoint.key",
        "--camera-image",
        "/share/porch.jpg",
    ]
    async with running(installed, "anima-satellite", *args, port=port, timing="satellite_start_s"):
        wyoming_entry = await adopt_satellite(voice_hass, port)
        device = await bind_endpoint(
            voice_hass,
            wyoming_entry,
            service=f"127.0.0.1:{service_port}",
            service_key=key_file.read_text().strip(),
        )
        frame = await voice_hass.request_bytes("GET", "/api/camera_proxy/camera.porch_camera")
        assert frame == image.read_bytes()
        await voice_hass.request(
            "POST",
            "/api/services/anima/play_earcon",
            {"device_id": device["id"], "earcon": "confirm"},
        )
        played = await played_on_board(speaker)
    # numpy on riscv64 made the same tone as on this machine, to the last bit or nearly.
    here = earcon_pcm("confirm")
    assert len(played) == len(here)
    assert _largest_difference(played, here) <= 1


def _largest_difference(one: bytes, other: bytes) -> int:
    first, second = (np.frombuffer(pcm, dtype="<i2").astype(np.int32) for pcm in (one, other))
    return int(np.abs(first - second).max())


async def test_the_formant_voice_runs_on_the_board(
    installed: InstalledSatellite, whisper_server: SpeechServer, socket_enabled: None
) -> None:
    port = free_port()
    async with running(
        installed, "anima-formant", "--uri", f"tcp://127.0.0.1:{port}", port=port,
        timing="formant_start_s",
    ):  # fmt: skip
        voice = WyomingClient("127.0.0.1", port, timeout=120)
        started = time.monotonic()
        chunks = [chunk async for chunk in voice.synthesize("Turned on the kitchen light.")]
        TIMINGS["formant_sentence_s"] = time.monotonic() - started
    pcm = b"".join(chunk.audio for chunk in chunks)
    assert pcm
    audio_format: AudioFormat = chunks[0].format
    whisper = WyomingClient(whisper_server.host, whisper_server.port, timeout=30)

    async def stream() -> AsyncIterator[bytes]:
        yield pcm

    transcript = await whisper.transcribe(stream(), audio_format, language="en")
    assert "kitchen light" in re.sub(r"[^a-z ]", "", transcript.text.lower())


pytestmark = pytest.mark.timeout(1800)
