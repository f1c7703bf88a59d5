"""The base of every Anima entity, and of the entities of one hub profile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import slugify

from .const import DOMAIN
from .core.endpoints import DEVICE
from .core.profiles import PROFILE_ENDPOINT, Link, chain_of, profile_name
from .runtime.data import AnimaData


class AnimaEntity(Entity):
    """An entity on one of Anima's devices, reaching the integration's live services.

    The devices are a connection's, the hub's, a profile's or an endpoint's.
    """

    _attr_has_entity_name = True

    def __init__(self, device: str, key: str | None = None) -> None:
        """Live on Anima's device `device` (an entry or subentry id); `key` names the entity there.

        The unique id is `<device>-<key>`, or the device's id for its one main entity.
        """
        self._attr_unique_id = device if key is None else f"{device}-{key}"
        self._attr_device_info = dr.DeviceInfo(identifiers={(DOMAIN, device)})

    @property
    def anima(self) -> AnimaData:
        """The integration's live services."""
        return AnimaData.of(self.hass)


class AnimaProfileEntity(AnimaEntity):
    """The entity of one hub profile; its profile data is read live at every call.

    The entity id is `<platform>.anima_<profile name>` when first registered and never changes
    after, so pipelines and automations keep working whatever the profile's chain becomes.
    """

    _attr_name: str | None = None

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry, platform: str) -> None:
        """Bind the entity to its profile, on the profile's device."""
        super().__init__(subentry.subentry_id)
        self.entry = entry
        self.subentry_id = subentry.subentry_id
        object_id = slugify(subentry.title)
        if object_id.partition("_")[0] != "anima":  # "Anima kitchen": anima_kitchen, once
            object_id = f"anima_{object_id}"
        self.entity_id = f"{platform}.{object_id}"

    @property
    def profile(self) -> Mapping[str, Any]:
        """The profile's data as it is now (reconfiguring changes it without a reload)."""
        return self.entry.subentries[self.subentry_id].data

    @property
    def chain(self) -> tuple[Link, ...]:
        """The profile's links, best first."""
        return chain_of(self.profile)


def profile_device_info(hass: HomeAssistant, subentry: ConfigSubentry) -> dr.DeviceInfo:
    """Describe the device of a profile or endpoint, where its entities, cost and policy live.

    An endpoint's device is Anima's own, connected through the device it binds (a device
    belongs to one integration, so Anima cannot add entities to the ESPHome or Wyoming one).
    """
    if subentry.subentry_type == PROFILE_ENDPOINT:
        bound = dr.async_get(hass).async_get(str(subentry.data.get(DEVICE)))
        info = dr.DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer="Anima",
            model="Endpoint",
        )
        if bound is not None:
            info["via_device_id"] = bound.id
        return info
    return dr.DeviceInfo(
        identifiers={(DOMAIN, subentry.subentry_id)},
        name=profile_name(subentry.subentry_type, subentry.title),
        manufacturer="Anima",
        model=f"{subentry.subentry_type.capitalize()} profile",
        entry_type=dr.DeviceEntryType.SERVICE,
    )


@callback
def async_add_per_subentry(
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    kind: str,
    make: Callable[[ConfigEntry, ConfigSubentry], Entity],
    wanted: Callable[[ConfigSubentry], bool] = lambda _: True,
) -> None:
    """Add one entity for each subentry of `kind` (that `wanted` accepts), tied to it."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == kind and wanted(subentry):
            async_add_entities([make(entry, subentry)], config_subentry_id=subentry.subentry_id)
