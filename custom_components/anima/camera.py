"""Cameras of Anima satellites: frames from an endpoint's service (Anima's own Wyoming events).

An endpoint whose satellite runs Anima's endpoint service (`service`: host:port) gets a camera
entity on its device. With no other camera chosen, it becomes the endpoint's camera, so "what do
you see?" asked to that satellite looks through it.
"""

from __future__ import annotations

from homeassistant.components.camera import Camera
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import LOGGER
from .core.endpoints import CAMERA, SERVICE, Endpoint
from .core.profiles import PROFILE_ENDPOINT
from .entity import AnimaEntity, async_add_per_subentry
from .protocol import EndpointError
from .runtime.hub import HubConfigEntry, service_client

PARALLEL_UPDATES = 1  # one frame at a time per satellite


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a camera for each endpoint with an endpoint service."""
    async_add_per_subentry(
        entry,
        async_add_entities,
        PROFILE_ENDPOINT,
        EndpointCamera,
        lambda subentry: bool(subentry.data.get(SERVICE)),
    )


class EndpointCamera(Camera, AnimaEntity):
    """The camera of an Anima satellite."""

    _attr_translation_key = "satellite_camera"

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
        """Take frames from the endpoint's service."""
        Camera.__init__(self)
        AnimaEntity.__init__(self, subentry.subentry_id, "camera")
        self._entry = entry
        self._subentry_id = subentry.subentry_id

    async def async_added_to_hass(self) -> None:
        """Become the endpoint's camera if it has none."""
        await super().async_added_to_hass()
        subentry = self._entry.subentries[self._subentry_id]
        if not subentry.data.get(CAMERA):
            self.hass.config_entries.async_update_subentry(
                self._entry, subentry, data={**subentry.data, CAMERA: self.entity_id}
            )

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return a JPEG frame from the satellite, or None when it gives none.

        The service's address and key are read at each frame: a key entered later (pairing)
        takes effect without a reload.
        """
        subentry = self._entry.subentries[self._subentry_id]
        client = service_client(
            Endpoint.from_data(subentry.subentry_id, subentry.title, subentry.data)
        )
        if client is None:
            return None
        try:
            return (await client.capture()).jpeg
        except EndpointError as err:
            LOGGER.warning("%s gave no frame: %s (%s)", self.entity_id, err, err.code)
            return None
