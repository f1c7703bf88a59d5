"""Repair issues for chains that name a provider connection which no longer exists."""

from __future__ import annotations

from collections.abc import Collection

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from ..const import DOMAIN
from ..core.profiles import all_links, profiles_using
from .hub import endpoint_registry

_PREFIX = "missing_connection_"
_UNPAIRED = "unpaired_endpoint_"


@callback
def async_check_chains(hass: HomeAssistant, removed_titles: dict[str, str] | None = None) -> None:
    """Raise one issue per missing connection still used by a profile; clear the rest.

    `removed_titles` names connections being removed right now (their entry is still there).
    """
    removed_titles = removed_titles or {}
    entries = hass.config_entries.async_entries(DOMAIN)
    existing = {entry.entry_id for entry in entries} - set(removed_titles)
    profiles = {
        subentry_id: (subentry.title, subentry.data)
        for entry in entries
        for subentry_id, subentry in entry.subentries.items()
    }
    missing = {
        link.connection
        for _, data in profiles.values()
        for link in all_links(data)
        if link.connection not in existing
    }
    registry = ir.async_get(hass)
    async_delete_issues_except(hass, _PREFIX, missing)
    for connection in missing:
        issue_id = _PREFIX + connection
        title = removed_titles.get(connection)
        if title is None and (known := registry.async_get_issue(DOMAIN, issue_id)) is not None:
            title = (known.translation_placeholders or {}).get("connection")
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="missing_connection",
            translation_placeholders={
                "connection": title or connection,
                "profiles": ", ".join(profiles_using(profiles, connection)),
            },
        )


@callback
def async_check_pairings(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Ask for the key of every endpoint whose service is known but not paired; clear the rest."""
    unpaired = {
        endpoint.id: endpoint.name
        for endpoint in endpoint_registry(hub)
        if endpoint.service and not endpoint.service_key
    }
    async_delete_issues_except(hass, _UNPAIRED, unpaired)
    for endpoint_id, name in unpaired.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            _UNPAIRED + endpoint_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="unpaired_endpoint",
            translation_placeholders={"name": name},
        )


@callback
def async_delete_issues_except(hass: HomeAssistant, prefix: str, keep: Collection[str]) -> None:
    """Delete Anima's issues `<prefix><key>` whose key is not in `keep`."""
    for domain, issue_id in list(ir.async_get(hass).issues):
        ours = domain == DOMAIN and issue_id.startswith(prefix)
        if ours and issue_id.removeprefix(prefix) not in keep:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
