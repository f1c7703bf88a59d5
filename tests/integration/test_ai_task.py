"""AI task entities of agent profiles: structured data, with camera images attached."""

from __future__ import annotations

from pathlib import Path

from homeassistant.components import ai_task
from homeassistant.const import CONF_FILE_PATH, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from PIL import Image
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.anima.core.profiles import AI_TASK, PROFILE_AGENT, Link
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import add_hub, add_openai, profile

TASK = "ai_task.anima_assistant"
STRUCTURE = vol.Schema({vol.Required("people"): int, vol.Required("summary"): str})


async def _camera(hass: HomeAssistant, tmp_path: Path) -> str:
    """A real camera entity (local_file) showing a 320x240 JPEG."""
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (320, 240), (200, 120, 40)).save(image, "JPEG")
    assert await async_setup_component(hass, "media_source", {})
    entry = MockConfigEntry(
        domain="local_file", options={CONF_NAME: "Porch", CONF_FILE_PATH: str(image)}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return "camera.porch"


async def _hub(hass: HomeAssistant, server: FakeOpenAIServer, model: str) -> None:
    cloud = await add_openai(hass, server, "Cloud")
    await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, model)], **{AI_TASK: True})
    )


async def test_structured_data_about_a_camera_image(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    camera = await _camera(hass, tmp_path)
    await _hub(hass, openai_server, "gpt-4.1-mini")
    openai_server.reply(Reply.text('{"people": 2, "summary": "Two people at the door."}'))
    result = await ai_task.async_generate_data(
        hass,
        task_name="porch",
        entity_id=TASK,
        instructions="Who is at the door?",
        structure=STRUCTURE,
        attachments=[
            {
                "media_content_id": f"media-source://camera/{camera}",
                "media_content_type": "image/jpeg",
            }
        ],
    )
    assert result.data == {"people": 2, "summary": "Two people at the door."}
    request = openai_server.requests[-1]
    (image,) = request.images
    assert (image.width, image.height, image.mime_type) == (320, 240, "image/jpeg")
    schema = request.json["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"people", "summary"}


async def test_answer_that_does_not_fit_the_structure_is_a_clear_error(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    await _hub(hass, openai_server, "gpt-4.1-mini")
    openai_server.reply(Reply.text('{"people": "many"}'))
    with pytest.raises(HomeAssistantError, match="does not fit the requested structure"):
        await ai_task.async_generate_data(
            hass, task_name="t", entity_id=TASK, instructions="Count", structure=STRUCTURE
        )


async def test_images_are_not_sent_to_a_text_only_model(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    camera = await _camera(hass, tmp_path)
    await _hub(hass, openai_server, "deepseek-chat")
    openai_server.reply(Reply.text("I cannot see images."))
    result = await ai_task.async_generate_data(
        hass,
        task_name="porch",
        entity_id=TASK,
        instructions="Describe",
        attachments=[
            {
                "media_content_id": f"media-source://camera/{camera}",
                "media_content_type": "image/jpeg",
            }
        ],
    )
    assert result.data == "I cannot see images."
    assert openai_server.requests[-1].images == []


async def test_an_optional_field_left_null_by_a_strict_answer_still_fits(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """OpenAI's strict mode makes an optional field nullable: its null is not an answer."""
    await _hub(hass, openai_server, "gpt-4.1-mini")
    structure = vol.Schema({vol.Required("people"): int, vol.Optional("summary"): str})
    openai_server.reply(Reply.text('{"people": 0, "summary": null}'))
    result = await ai_task.async_generate_data(
        hass, task_name="t", entity_id=TASK, instructions="Count", structure=structure
    )
    assert result.data == {"people": 0}
    schema = openai_server.requests[-1].json["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["people", "summary"]  # what strict mode asks


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"Buy milk.", "Attachments of type text/plain are not supported"),
        ("door.jpg", b"not a picture", "door.jpg could not be read as an image"),
    ],
)
async def test_an_attachment_that_is_not_a_picture_is_refused_by_name(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    """A file from the media folder: a text file, or a "JPEG" that is none. No model is asked."""
    (tmp_path / name).write_bytes(content)
    hass.config.media_dirs = {"local": str(tmp_path)}
    assert await async_setup_component(hass, "media_source", {})
    await _hub(hass, openai_server, "gpt-4.1-mini")
    with pytest.raises(HomeAssistantError, match=message):
        await ai_task.async_generate_data(
            hass,
            task_name="t",
            entity_id=TASK,
            instructions="Describe",
            attachments=[{"media_content_id": f"media-source://media_source/local/{name}"}],
        )
    assert not [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
