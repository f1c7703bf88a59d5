"""The satellite's local wake word (pymicro-wakeword's real okay_nabu model, espeak-ng speech)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
import subprocess
import sys
import wave

import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.wake import Detection

from anima_satellite.satellite import (
    MAX_REQUEST_S,
    RATE,
    TRAILING_SILENCE_S,
    WIDTH,
    SatelliteSettings,
    serve,
)
from anima_satellite.wake import LocalWakeWord, WakeWordUnavailableError
from scripts.hassctl import free_port
from tests.fixtures.spoken import spoken

QUESTION = "What is the capital of France?"


def _pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as reader:
        return reader.readframes(reader.getnframes())


@pytest.mark.parametrize(
    ("phrase", "woken"),
    [("okay nabu", True), (QUESTION, False), ("hey jarvis", False), ("okay", False)],
)
def test_the_wake_word_is_heard_and_nothing_else(tmp_path: Path, phrase: str, woken: bool) -> None:
    wake = LocalWakeWord.load("okay_nabu")
    assert (wake.name, wake.phrase) == ("okay_nabu", "Okay Nabu")
    pcm = _pcm(spoken(tmp_path, phrase)) + bytes(RATE * WIDTH)  # then a second of silence
    heard = [wake.heard(pcm[i : i + 2048]) for i in range(0, len(pcm), 2048)]
    assert any(heard) is woken
    assert heard.count(True) <= 1  # once per utterance


def test_an_unknown_model_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(WakeWordUnavailableError, match="okay_nabu"):
        LocalWakeWord.load("hey_computer")
    command = [sys.executable, "-m", "anima_satellite.satellite", "--mic-command", "true"]
    refused = subprocess.run(
        [*command, "--wake-word", "hey_computer"], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2
    assert "Unknown wake word model 'hey_computer'" in refused.stderr


@asynccontextmanager
async def _satellite(mic: Path, realtime: bool = False) -> AsyncIterator[AsyncTcpClient]:
    """A satellite waking on the board, its microphone a file; a client in Home Assistant's
    place, the satellite already told to run."""
    wake = LocalWakeWord.load("okay_nabu")
    settings = SatelliteSettings(name="Hall", mic_file=mic, realtime=realtime, wake_word=wake)
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.1)
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            info = Info.from_event(await client.read_event())
            (program,) = info.wake  # Home Assistant names detections after the model's phrase
            assert [(m.name, m.phrase) for m in program.models] == [("okay_nabu", "Okay Nabu")]
            await client.write_event(RunSatellite().event())
            yield client
    finally:
        task.cancel()


async def _next(client: AsyncTcpClient, seconds: float = 10) -> Event | None:
    try:
        async with asyncio.timeout(seconds):
            return await client.read_event()
    except TimeoutError:
        return None


async def test_only_what_follows_the_wake_word_is_streamed(
    socket_enabled: None, tmp_path: Path
) -> None:
    mic = spoken(tmp_path, "okay nabu", QUESTION)
    async with _satellite(mic) as client:
        detection = await _next(client)
        assert detection is not None
        assert Detection.from_event(detection).name == "okay_nabu"
        run = await _next(client)
        assert run is not None
        assert RunPipeline.from_event(run).start_stage == "asr"  # the wake word is done
        streamed = bytearray()
        while (event := await _next(client)) is not None and AudioChunk.is_type(event.type):
            streamed += AudioChunk.from_event(event).audio
        assert event is not None
        assert AudioStop.is_type(event.type)  # the file ended during the request
    question = len(_pcm(spoken(tmp_path, QUESTION, name="question")))
    wake_word = len(_pcm(spoken(tmp_path, "okay nabu", name="wake")))
    everything = len(_pcm(mic)) + int(TRAILING_SILENCE_S * RATE) * WIDTH
    # The question (and the pause before it), not the wake word.
    assert question <= len(streamed) < everything - wake_word // 2


async def test_without_the_wake_word_nothing_leaves_the_board(
    socket_enabled: None, tmp_path: Path
) -> None:
    async with _satellite(spoken(tmp_path, QUESTION)) as client:
        assert await _next(client, 3) is None


async def test_after_the_transcript_it_listens_for_the_wake_word_again(
    socket_enabled: None, tmp_path: Path
) -> None:
    mic = spoken(tmp_path, "okay nabu", "hello", "okay nabu", QUESTION)
    async with _satellite(mic, realtime=True) as client:  # time to answer, as HA would
        detections = runs = 0
        while (event := await _next(client, 5)) is not None:
            detections += Detection.is_type(event.type)
            if RunPipeline.is_type(event.type):
                runs += 1
                if runs == 1:  # "hello" was the request
                    await client.write_event(Transcript(text="hello").event())
    assert (detections, runs) == (2, 2)


async def test_a_request_home_assistant_never_answers_is_let_go(
    socket_enabled: None, tmp_path: Path
) -> None:
    mic = spoken(tmp_path, "okay nabu")
    pcm = _pcm(mic)
    with wave.open(str(mic), "wb") as writer:  # then half a minute of silence
        writer.setnchannels(1)
        writer.setsampwidth(WIDTH)
        writer.setframerate(RATE)
        writer.writeframes(pcm + bytes(30 * RATE * WIDTH))
    async with _satellite(mic) as client:
        streamed = 0
        while (event := await _next(client, 3)) is not None and not AudioStop.is_type(event.type):
            if AudioChunk.is_type(event.type):
                streamed += len(AudioChunk.from_event(event).audio)
        assert event is not None  # the request was ended by the satellite
        assert await _next(client, 3) is None  # and it listens for the wake word again
    assert streamed / (RATE * WIDTH) == pytest.approx(MAX_REQUEST_S, abs=0.1)
