"""Actions of the integration: `anima.lift_budget`."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import probatio as vol

from .budgeting import KEEPER
from .const import DOMAIN

SERVICE_LIFT_BUDGET = "lift_budget"
ATTR_DEVICE_ID = "device_id"


async def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, with the integration)."""

    async def lift_budget(call: ServiceCall) -> ServiceResponse:
        """Suspend the house's budgets, or one endpoint's, for the rest of the day."""
        until = await hass.data[KEEPER].async_lift(call.data.get(ATTR_DEVICE_ID))
        return {"until": dt_util.as_local(dt_util.utc_from_timestamp(until)).isoformat()}

    hass.services.async_register(
        DOMAIN,
        SERVICE_LIFT_BUDGET,
        lift_budget,
        schema=vol.Schema({vol.Optional(ATTR_DEVICE_ID): cv.string}),
        supports_response=SupportsResponse.OPTIONAL,
    )
