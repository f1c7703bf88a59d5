"""Listener and voice profiles: STT and TTS entities over chains of real Wyoming servers and a
fake OpenAI-compatible service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import io
from pathlib import Path
import re
import wave

from homeassistant.components import stt, tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.core import HomeAssistant
import pytest

from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import PROFILE_LISTENER, PROFILE_VOICE, Link
from custom_components.anima.core.speech.earcons import Earcon, earcon_pcm
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity
from tests.fakes.openai_server import SPEECH_RATE, FakeOpenAIServer, Reply, tone
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import (
    SPEECH_METADATA as METADATA,
    add_hub,
    add_openai,
    add_wyoming,
    profile,
)

PIPER_FORMAT = AudioFormat(rate=22050)
JOE = "en_US-joe-medium"


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def _said(folder: Path, text: str) -> bytes:
    """What a satellite would send: `text` spoken, as 16 kHz 16-bit mono PCM.

    espeak-ng, not Piper: Piper's voices vary a little from run to run (VITS noise), and tiny.en
    then sometimes mishears them; the same bytes every run make the listener tests repeatable.
    """
    with wave.open(str(spoken(folder, text)), "rb") as reader:
        return reader.readframes(reader.getnframes())


async def _chunks(pcm: bytes, size: int = 3200) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


async def _heard(whisper: SpeechServer, pcm: bytes, audio_format: AudioFormat) -> str:
    client = WyomingClient(whisper.host, whisper.port, timeout=30)
    return _words((await client.transcribe(_chunks(pcm), audio_format, language="en")).text)


def _wav(data: bytes) -> tuple[AudioFormat, bytes]:
    with wave.open(io.BytesIO(data)) as reader:
        audio_format = AudioFormat(
            reader.getframerate(), reader.getsampwidth(), reader.getnchannels()
        )
        return audio_format, reader.readframes(reader.getnframes())


def _stt(hass: HomeAssistant, entity_id: str = "stt.anima_listener") -> stt.SpeechToTextEntity:
    entity = stt.async_get_speech_to_text_entity(hass, entity_id)
    assert entity is not None
    return entity


def _tts(hass: HomeAssistant, entity_id: str = "tts.anima_voice") -> AnimaTextToSpeechEntity:
    entity = hass.data["tts"].get_entity(entity_id)
    assert isinstance(entity, AnimaTextToSpeechEntity)
    return entity


# --- listener ------------------------------------------------------------------------------------


async def test_listener_transcribes_with_whisper(
    hass: HomeAssistant, whisper_server: SpeechServer, tmp_path: Path
) -> None:
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    await add_hub(hass, profile(PROFILE_LISTENER, "Listener", [Link(whisper.entry_id)]))
    entity = _stt(hass)
    assert "en" in entity.supported_languages
    result = await entity.async_process_audio_stream(
        METADATA, _chunks(_said(tmp_path, "Turn on the kitchen light."))
    )
    assert result.result is stt.SpeechResultState.SUCCESS
    assert "kitchen light" in _words(result.text or "")


async def test_listener_falls_back_with_the_whole_utterance(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    whisper_server: SpeechServer,
    tmp_path: Path,
) -> None:
    """The cloud fails after it took all the audio; Whisper still hears the whole sentence."""
    cloud = await add_openai(hass, openai_server, "Cloud")
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    chain = [Link(cloud.entry_id, "whisper-1"), Link(whisper.entry_id)]
    await add_hub(hass, profile(PROFILE_LISTENER, "Listener", chain))
    openai_server.reply(Reply.error(503), endpoint="transcriptions")
    pcm = _said(tmp_path, "Turn on the kitchen light.")
    result = await _stt(hass).async_process_audio_stream(METADATA, _chunks(pcm))
    uploaded = next(r for r in openai_server.requests if r.path.endswith("/transcriptions"))
    assert len(uploaded.files["file"]) > len(pcm)  # the cloud got it all, as a WAV file
    assert result.result is stt.SpeechResultState.SUCCESS
    assert "kitchen light" in _words(result.text or "")


async def test_listener_with_no_working_provider_reports_an_error(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    await add_hub(hass, profile(PROFILE_LISTENER, "Listener", [Link(cloud.entry_id, "whisper-1")]))
    openai_server.reply(Reply.error(500), endpoint="transcriptions")
    result = await _stt(hass).async_process_audio_stream(METADATA, _chunks(b"\0" * 32000))
    assert result.result is stt.SpeechResultState.ERROR


# --- voice ---------------------------------------------------------------------------------------


async def test_voice_speaks_with_piper_and_lists_its_voices(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    entity = _tts(hass)
    # Only the voice the profile speaks with: Piper also lists voices it would have to download.
    assert [voice.voice_id for voice in entity.async_get_supported_voices("en") or []] == [JOE]
    assert entity.default_options["voice"] == JOE
    extension, data = await entity.async_get_tts_audio("The **garage** door is open.", "en", {})
    assert extension == "wav"
    audio_format, pcm = _wav(data)
    assert audio_format == PIPER_FORMAT
    assert "garage door is open" in await _heard(whisper_server, pcm, audio_format)


async def test_voice_answers_home_assistants_tts_media_source(
    hass: HomeAssistant, piper_server: SpeechServer
) -> None:
    """The path pipelines and tts.speak take: Home Assistant's TTS manager, by entity id."""
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    media_id = tts.generate_media_source_id(
        hass, "Hello from Anima.", "tts.anima_voice", "en", {"preferred_format": "wav"}
    )
    extension, data = await tts.async_get_media_source_audio(hass, media_id)
    assert extension == "wav"
    assert PIPER_FORMAT.seconds(len(_wav(data)[1])) > 0.5


async def test_streamed_text_is_spoken_before_the_writer_finishes(
    hass: HomeAssistant, piper_server: SpeechServer
) -> None:
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    first_audio = asyncio.Event()
    writer_done = False

    async def llm_writing() -> AsyncIterator[str]:
        nonlocal writer_done
        for piece in ("The first sentence ", "is done. ", "The second "):
            yield piece
        # A streaming voice has spoken the first sentence by now; wait for it.
        await asyncio.wait_for(first_audio.wait(), timeout=30)
        yield "one comes later."
        writer_done = True

    response = await _tts(hass).async_stream_tts_audio(TTSAudioRequest("en", {}, llm_writing()))
    chunks: list[bytes] = []
    async for data in response.data_gen:
        chunks.append(data)
        if len(chunks) == 2:  # header, then the first PCM of the first sentence
            assert not writer_done
            first_audio.set()
    assert writer_done
    assert chunks[0].startswith(b"RIFF")
    assert sum(map(len, chunks[1:])) > 22050


async def test_voice_falls_back_per_sentence_and_keeps_one_format(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, piper_server: SpeechServer
) -> None:
    """The cloud speaks sentence one at 24 kHz, then fails; Piper's audio is made 24 kHz too."""
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    piper = await add_wyoming(hass, piper_server, "Piper")
    chain = [Link(cloud.entry_id, "tts-1", "nova"), Link(piper.entry_id, voice=JOE)]
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", chain))
    cloud_pcm = tone(0.5)
    openai_server.reply(Reply.audio(cloud_pcm), Reply.error(500), endpoint="speech")
    _, data = await _tts(hass).async_get_tts_audio("Hello there. The door is open.", "en", {})
    audio_format, pcm = _wav(data)
    assert audio_format == AudioFormat(rate=SPEECH_RATE)
    assert pcm.startswith(cloud_pcm)
    assert len(pcm) - len(cloud_pcm) > SPEECH_RATE  # Piper's second sentence, resampled
    speech_requests = [r.json for r in openai_server.requests if r.path.endswith("/speech")]
    assert speech_requests[0]["voice"] == "nova"
    assert speech_requests[0]["model"] == "tts-1"
    assert speech_requests[0]["input"] == "Hello there."


async def test_voice_with_no_working_provider_plays_the_error_earcon(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(cloud.entry_id, "tts-1", "nova")]))
    openai_server.reply(Reply.error(500), endpoint="speech")
    _, data = await _tts(hass).async_get_tts_audio("Hello there.", "en", {})
    assert _wav(data)[1] == earcon_pcm(Earcon.ERROR)


async def test_a_voice_no_provider_can_speak_is_spoken_by_the_chains_own(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    """A pipeline still set to a voice Piper lists but cannot speak (nothing downloads here)."""
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice=JOE)]))
    _, data = await _tts(hass).async_get_tts_audio(
        "The garage door is open.", "en", {"voice": "en_GB-alan-low"}
    )
    audio_format, pcm = _wav(data)
    assert pcm != earcon_pcm(Earcon.ERROR)
    assert "garage door is open" in await _heard(whisper_server, pcm, audio_format)
    (record,) = [r for r in AnimaData.of(hass).meter.ledger.records() if r.kind is Kind.TTS]
    assert record.voice == JOE


@pytest.mark.parametrize("voice", ["nova", "shimmer"])
async def test_a_voice_option_picks_the_providers_voice(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, voice: str
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", [Link(cloud.entry_id, "tts-1", "nova")]))
    await _tts(hass).async_get_tts_audio("Hello.", "en", {"voice": voice})
    assert openai_server.requests[-1].json["voice"] == voice
