"""The voice speaks in the format the listener asked for, so Home Assistant need not convert it.

A pipeline hands the voice its satellite's preferred options (Wyoming satellites: WAV at
22,050 Hz; ESPHome devices: 16,000 Hz; a media player perhaps 48,000 Hz stereo); a browser asks
for nothing and gets Home Assistant's default, MP3. Home Assistant 2026.11 passes the voice's
audio on untouched when it is what was asked for, and spawns ffmpeg otherwise (2026.10 runs
ffmpeg whenever a sample rate is asked for, whatever the voice gives).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import io
import struct
from typing import Any
import wave

from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.core import HomeAssistant
import numpy as np
import pytest

from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import PROFILE_VOICE, Link
from custom_components.anima.core.speech.earcons import Earcon, earcon_seconds
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity
from tests.fakes.openai_server import SPEECH_RATE, FakeOpenAIServer, Reply, tone
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai, add_wyoming, profile

JOE = "en_US-joe-medium"
ASKED = {  # what each kind of listener puts in the pipeline's TTS options
    "wyoming satellite": (22050, 1, 2),
    "esphome satellite": (16000, 1, 2),
    "stereo media player": (48000, 2, 2),
}


def _options(rate: int, channels: int, width: int, **more: Any) -> dict[str, Any]:
    return {
        tts.ATTR_PREFERRED_FORMAT: "wav",
        tts.ATTR_PREFERRED_SAMPLE_RATE: rate,
        tts.ATTR_PREFERRED_SAMPLE_CHANNELS: channels,
        tts.ATTR_PREFERRED_SAMPLE_BYTES: width,
        **more,
    }


def _entity(hass: HomeAssistant) -> AnimaTextToSpeechEntity:
    entity = hass.data["tts"].get_entity("tts.anima_voice")
    assert isinstance(entity, AnimaTextToSpeechEntity)
    return entity


async def _text(message: str) -> AsyncIterator[str]:
    yield message


async def _streamed(
    hass: HomeAssistant, message: str, options: dict[str, Any]
) -> tuple[str, bytes]:
    """What the voice itself streams for `message`: its extension and bytes."""
    request = TTSAudioRequest("en", options, _text(message))
    response = await _entity(hass).async_stream_tts_audio(request)
    return response.extension, b"".join([data async for data in response.data_gen])


def _streamed_wav(data: bytes) -> tuple[AudioFormat, bytes]:
    """Read a streamed WAV (sizes unknown): its layout and samples."""
    assert data[:4] == b"RIFF"
    assert data[8:16] == b"WAVEfmt "
    _, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, 20)
    assert data[36:40] == b"data"
    return AudioFormat(rate, bits // 8, channels), data[44:]


async def _decoded(data: bytes) -> np.ndarray:
    """Decode any audio file with ffmpeg (as a browser would play it): 24 kHz mono samples."""
    process = await asyncio.create_subprocess_exec(
        *("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0"),
        *("-f", "s16le", "-ac", "1", "-ar", str(SPEECH_RATE), "pipe:1"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    pcm, _ = await process.communicate(data)
    assert process.returncode == 0
    return np.frombuffer(pcm, dtype="<i2")


async def _heard(whisper: SpeechServer, pcm: bytes, audio_format: AudioFormat) -> str:
    async def chunks() -> AsyncIterator[bytes]:
        yield pcm

    client = WyomingClient(whisper.host, whisper.port, timeout=30)
    text = (await client.transcribe(chunks(), audio_format, language="en")).text
    return " ".join(text.lower().replace(".", " ").split())


async def _cloud_voice(hass: HomeAssistant, server: FakeOpenAIServer) -> None:
    cloud = await add_openai(hass, server, "Cloud", preset="openai")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(cloud.entry_id, "tts-1", "nova")]))


@pytest.mark.parametrize("listener", list(ASKED))
async def test_a_satellite_gets_piper_in_the_layout_it_asked_for(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer, listener: str
) -> None:
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    rate, channels, width = ASKED[listener]
    extension, data = await _streamed(hass, "The garage door is open.", _options(*ASKED[listener]))
    assert extension == "wav"
    audio_format, pcm = _streamed_wav(data)
    assert audio_format == AudioFormat(rate, width, channels)
    samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    assert (samples == samples[:, :1]).all()  # the one voice on every channel
    mono = samples[:, 0].tobytes()
    assert "garage door is open" in await _heard(whisper_server, mono, AudioFormat(rate))


async def test_resampled_speech_keeps_its_length_and_pitch(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """Two sentences of the cloud's 24 kHz, 440 Hz tone, to a 16 kHz satellite."""
    await _cloud_voice(hass, openai_server)
    openai_server.reply(Reply.audio(tone(0.5)), Reply.audio(tone(0.5)), endpoint="speech")
    extension, data = await _entity(hass).async_get_tts_audio(
        "Hello there. The door is open.", "en", _options(16000, 1, 2)
    )
    assert extension == "wav"
    with_header = data[:4] + b"\xff\xff\xff\xff" + data[8:40] + b"\xff\xff\xff\xff" + data[44:]
    audio_format, pcm = _streamed_wav(with_header)
    assert audio_format == AudioFormat(16000)
    samples = np.frombuffer(pcm, dtype="<i2")
    assert abs(len(samples) - 2 * 8000) <= 2  # each sentence within one sample of 0.5 s
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * 16000 / len(samples) == pytest.approx(440, abs=2)


async def test_an_earcon_comes_in_the_layout_the_satellite_asked_for(
    hass: HomeAssistant, piper_server: SpeechServer
) -> None:
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    options = _options(16000, 1, 2, message_class="confirmation")  # confirmations: an earcon
    extension, data = await _streamed(hass, "Turned on the kitchen light.", options)
    audio_format, pcm = _streamed_wav(data)
    assert (extension, audio_format) == ("wav", AudioFormat(16000))
    assert abs(len(pcm) // 2 - earcon_seconds(Earcon.CONFIRM) * 16000) <= 1


async def test_a_browser_gets_the_mp3_the_cloud_voice_spoke(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """No format asked for: Home Assistant's default, MP3, straight from the cloud voice."""
    await _cloud_voice(hass, openai_server)
    openai_server.reply(Reply.audio(tone(0.5)), Reply.audio(tone(0.5)), endpoint="speech")
    extension, _ = await _streamed(hass, "Hello there. The door is open.", {})
    assert extension == "mp3"  # nothing for Home Assistant to convert
    openai_server.reply(Reply.audio(tone(0.5)), Reply.audio(tone(0.5)), endpoint="speech")
    media = tts.generate_media_source_id(hass, "Hi there. It is open.", "tts.anima_voice", "en")
    extension, data = await tts.async_get_media_source_audio(hass, media)
    assert extension == "mp3"
    asked = [r.json["response_format"] for r in openai_server.requests if "speech" in r.path]
    assert asked == ["mp3"] * 4
    played = await _decoded(data)
    assert 1.0 <= len(played) / SPEECH_RATE <= 1.3  # two sentences of 0.5 s (and MP3 padding)
    spectrum = np.abs(np.fft.rfft(played))
    assert np.argmax(spectrum) * SPEECH_RATE / len(played) == pytest.approx(440, abs=3)
    records = [r for r in AnimaData.of(hass).meter.ledger.records() if r.kind is Kind.TTS]
    assert 2.0 <= sum(r.audio_seconds for r in records) <= 2.5  # booked from the MP3 frames


async def test_a_browser_gets_piper_as_mp3_that_plays(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    """A PCM voice to a browser: the one conversion left, Home Assistant's ffmpeg."""
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    media = tts.generate_media_source_id(hass, "The garage door is open.", "tts.anima_voice", "en")
    extension, data = await tts.async_get_media_source_audio(hass, media)
    assert extension == "mp3"
    played = (await _decoded(data)).tobytes()
    assert "garage door is open" in await _heard(whisper_server, played, AudioFormat(SPEECH_RATE))


async def test_a_listener_that_asks_for_raw_pcm_gets_samples_without_a_header(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """Half a second of the cloud's 440 Hz tone at 16 kHz, whole and streamed."""
    await _cloud_voice(hass, openai_server)
    raw = _options(16000, 1, 2) | {tts.ATTR_PREFERRED_FORMAT: "raw"}
    openai_server.reply(Reply.audio(tone(0.5)), endpoint="speech")
    whole = await _entity(hass).async_get_tts_audio("The door is open.", "en", raw)
    openai_server.reply(Reply.audio(tone(0.5)), endpoint="speech")
    streamed = await _streamed(hass, "The door is open.", raw)
    for extension, data in (whole, streamed):
        assert extension == "raw"
        samples = np.frombuffer(data, dtype="<i2")  # every byte a sample: no RIFF header
        assert abs(len(samples) - 8000) <= 1
        spectrum = np.abs(np.fft.rfft(samples))
        assert np.argmax(spectrum) * 16000 / len(samples) == pytest.approx(440, abs=2)


@pytest.mark.parametrize("rate", ["fast", 1_000_000], ids=["not-a-number", "implausible"])
async def test_a_sample_rate_that_cannot_be_is_ignored_with_one_warning(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
    rate: object,
) -> None:
    """A lying pipeline's sample rate: the voice's own (the cloud's 24 kHz) is used."""
    await _cloud_voice(hass, openai_server)
    openai_server.reply(Reply.audio(tone(0.5)), endpoint="speech")
    extension, data = await _entity(hass).async_get_tts_audio(
        "The door is open.", "en", _options(16000, 1, 2) | {tts.ATTR_PREFERRED_SAMPLE_RATE: rate}
    )
    assert extension == "wav"
    with wave.open(io.BytesIO(data)) as played:
        layout = (played.getframerate(), played.getnchannels(), played.getsampwidth())
        assert layout == (SPEECH_RATE, 1, 2)
        assert played.getnframes() == SPEECH_RATE // 2
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "custom_components.anima" and r.levelname == "WARNING"
    ]
    assert warnings == [f"Ignoring preferred_sample_rate {str(rate)!r}: the voice's own is used"]
