"""Config flow for Anima: provider connections and the hub that holds the profiles.

Connections are OpenAI-compatible services and Wyoming servers. The hub is one entry whose
subentries are the profiles (flows in profile_flow.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio as vol
from yarl import URL

from .const import (
    API_KEY,
    BASE_URL,
    DOMAIN,
    HOST,
    KIND,
    KIND_HUB,
    KIND_OPENAI,
    KIND_WYOMING,
    LOGGER,
    PORT,
    PRESET,
    VALIDATION_TIMEOUT,
)
from .core.profiles import PROFILE_AGENT, PROFILE_ENDPOINT, PROFILE_LISTENER, PROFILE_VOICE
from .endpoint_flow import EndpointFlow
from .options_flow import ConnectionOptionsFlow, HubOptionsFlow
from .profile_flow import ProfileFlow
from .protocol import ZEROCONF_SATELLITE_PORT
from .providers.base import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
)
from .providers.connection import (
    NoWyomingServicesError,
    ProviderConnection,
    normalize_base_url,
    open_connection,
    unique_id_of,
)
from .providers.naming import connection_title, moved_title
from .providers.presets import CUSTOM, PRESETS
from .runtime.discovery import async_found_endpoint_service
from .runtime.hub import hub_entry

DEFAULT_WYOMING_PORT = 10200
HUB_TITLE = "Anima"

PRESET_SCHEMA = vol.Schema(
    {
        vol.Required(PRESET): SelectSelector(
            SelectSelectorConfig(
                options=[
                    SelectOptionDict(value=preset.id, label=preset.name)
                    for preset in PRESETS.values()
                ],
                mode=SelectSelectorMode.LIST,
            )
        )
    }
)
API_KEY_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


def _openai_schema(base_url: str) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(BASE_URL, default=base_url): URL_SELECTOR,
            vol.Optional(API_KEY): API_KEY_SELECTOR,
        }
    )


def _wyoming_schema(host: str = "", port: int = DEFAULT_WYOMING_PORT) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(HOST, default=host): str,
            vol.Required(PORT, default=port): cv.port,
        }
    )


def _error_key(err: ProviderError, kind: str) -> str:
    """Map a provider error to the form error the user reads."""
    match err:
        case ProviderAuthError():
            return "invalid_auth"
        case ProviderTimeoutError():
            return "timeout"
        case ProviderConnectionError():
            return "cannot_connect"
        case NoWyomingServicesError():
            return "no_wyoming_services"
        case ProviderResponseError():
            return "not_wyoming" if kind == KIND_WYOMING else "not_openai_compatible"
        case ProviderRateLimitError():
            return "rate_limited"
        case ProviderServerError():
            return "server_error"
    return "unknown"


class AnimaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add, re-authenticate and reconfigure provider connections."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with no preset chosen."""
        self._preset = CUSTOM

    async def _async_open(
        self, data: Mapping[str, Any]
    ) -> tuple[ProviderConnection | None, dict[str, str]]:
        """Reach the service: the connection, or None and the form errors to show."""
        if data[KIND] == KIND_OPENAI:
            url = URL(str(data[BASE_URL]).strip())
            if url.scheme not in ("http", "https") or not url.host:
                return None, {BASE_URL: "invalid_url"}
        try:
            connection = await open_connection(
                async_get_clientsession(self.hass), data, timeout=VALIDATION_TIMEOUT
            )
        except ProviderError as err:
            if (key := _error_key(err, data[KIND])) == "unknown":  # the form says: see the log
                LOGGER.warning("The service refused the connection check: %s", err)
            return None, {"base": key}
        except Exception:  # noqa: BLE001 - a bug must not hide behind a form error: log it
            LOGGER.exception("Unexpected error while checking a provider connection")
            return None, {"base": "unknown"}
        return connection, {}

    async def _async_check(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Reach the service; return form errors (empty when it answered as expected)."""
        return (await self._async_open(data))[1]

    async def _async_create(
        self, data: dict[str, Any]
    ) -> tuple[ConfigFlowResult | None, dict[str, str]]:
        """Check a new connection; create its entry, titled by what it is, if it answered."""
        connection, errors = await self._async_open(data)
        if connection is None:
            return None, errors
        return self.async_create_entry(title=connection_title(data, connection), data=data), {}

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Only the hub holds profiles."""
        if config_entry.data.get(KIND) != KIND_HUB:
            return {}
        flows: dict[str, type[ConfigSubentryFlow]] = {
            kind: ProfileFlow for kind in (PROFILE_AGENT, PROFILE_LISTENER, PROFILE_VOICE)
        }
        return flows | {PROFILE_ENDPOINT: EndpointFlow}

    @classmethod
    @callback
    @override
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Offer options everywhere: the hub has budgets, connections their prices."""
        return True

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Edit the hub's budgets, or a connection's prices and patience."""
        if config_entry.data.get(KIND) == KIND_HUB:
            return HubOptionsFlow()
        return ConnectionOptionsFlow()

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of provider to connect (or to add the hub, while there is none)."""
        options = [KIND_OPENAI, KIND_WYOMING]
        if not any(e.data.get(KIND) == KIND_HUB for e in self._async_current_entries()):
            options.append(KIND_HUB)
        return self.async_show_menu(step_id="user", menu_options=options)

    async def async_step_hub(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add the hub, where agent, listener and voice profiles are added as subentries."""
        await self.async_set_unique_id(KIND_HUB)
        self._abort_if_unique_id_configured(error="hub_exists")
        return self.async_create_entry(title=HUB_TITLE, data={KIND: KIND_HUB})

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """Hand an Anima satellite's endpoint service to its endpoint; it is no entry of its own.

        Nothing to confirm: the endpoint bound to that satellite (or bound later) takes it.
        """
        satellite_port = str(discovery_info.properties.get(ZEROCONF_SATELLITE_PORT) or "")
        if not satellite_port.isdigit() or discovery_info.port is None:
            return self.async_abort(reason="not_anima_endpoint_service")
        async_found_endpoint_service(
            self.hass,
            hub_entry(self.hass),
            discovery_info.host,
            int(satellite_port),
            discovery_info.port,
        )
        return self.async_abort(reason="endpoint_service_found")

    async def async_step_openai_compatible(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose a preset, which fills the base URL."""
        if user_input is not None:
            self._preset = user_input[PRESET]
            return await self.async_step_openai_details()
        return self.async_show_form(step_id="openai_compatible", data_schema=PRESET_SCHEMA)

    async def async_step_openai_details(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the base URL and API key, and check them."""
        preset = PRESETS[self._preset]
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                KIND: KIND_OPENAI,
                PRESET: preset.id,
                BASE_URL: normalize_base_url(user_input[BASE_URL]),
                API_KEY: user_input.get(API_KEY, "").strip(),
            }
            await self.async_set_unique_id(unique_id_of(data))
            self._abort_if_unique_id_configured()
            if preset.needs_api_key and not data[API_KEY]:
                errors[API_KEY] = "api_key_required"
            else:
                created, errors = await self._async_create(data)
                if created is not None:
                    return created
        return self.async_show_form(
            # A custom base URL has a step of its own: its title names no preset.
            step_id="openai_custom" if preset.id == CUSTOM else "openai_details",
            data_schema=self.add_suggested_values_to_schema(
                _openai_schema(preset.base_url), user_input
            ),
            errors=errors,
            description_placeholders={"preset": preset.name},
        )

    async_step_openai_custom = async_step_openai_details

    async def async_step_wyoming(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a Wyoming server's address and read what it offers."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {KIND: KIND_WYOMING, HOST: user_input[HOST].strip(), PORT: user_input[PORT]}
            await self.async_set_unique_id(unique_id_of(data))
            self._abort_if_unique_id_configured()
            created, errors = await self._async_create(data)
            if created is not None:
                return created
        return self.async_show_form(
            step_id="wyoming",
            data_schema=self.add_suggested_values_to_schema(_wyoming_schema(), user_input),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start re-authentication after the service rejected the API key."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API key and check it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, API_KEY: user_input[API_KEY].strip()}
            if not (errors := await self._async_check(data)):
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(API_KEY): API_KEY_SELECTOR}),
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change where a connection points; an empty API key keeps the current one."""
        entry = self._get_reconfigure_entry()
        if entry.data[KIND] == KIND_HUB:
            return self.async_abort(reason="hub_not_reconfigurable")
        errors: dict[str, str] = {}
        if user_input is not None:
            if entry.data[KIND] == KIND_WYOMING:
                data = {**entry.data, HOST: user_input[HOST].strip(), PORT: user_input[PORT]}
            else:
                data = {
                    **entry.data,
                    BASE_URL: normalize_base_url(user_input[BASE_URL]),
                    API_KEY: user_input.get(API_KEY, "").strip() or entry.data.get(API_KEY, ""),
                }
            unique_id = unique_id_of(data)
            if any(
                other.unique_id == unique_id and other.entry_id != entry.entry_id
                for other in self._async_current_entries(include_ignore=False)
            ):
                return self.async_abort(reason="already_configured")
            if not (errors := await self._async_check(data)):
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=unique_id,
                    title=moved_title(entry.title, entry.data, data),
                    data=data,
                )
        if entry.data[KIND] == KIND_WYOMING:
            schema = _wyoming_schema(entry.data[HOST], entry.data[PORT])
        else:
            schema = _openai_schema(entry.data[BASE_URL])
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )
