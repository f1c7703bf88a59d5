"""The integration's live services, made once in `async_setup` and read by every other part.

As esphome's `DomainData`: one typed object in `hass.data`, so no module keeps a service of its
own and nothing is made lazily on first use. Entities reach it as `self.anima`.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN, LOGGER, SIGNAL_ATTEMPT
from ..core.health import Attempt
from ..core.routing import Router
from ..core.timing import TimingLog
from ..core.turn_notes import TurnNotes
from .availability import AvailabilityLog
from .budgeting import BudgetKeeper, async_setup_budgets
from .calls import ProviderCalls
from .coordination import Coordinator
from .frames import FrameCache
from .metering import Meter, async_setup_meter
from .turns import TurnTracker

DATA: HassKey[AnimaData] = HassKey(DOMAIN)


@dataclass(frozen=True, slots=True)
class AnimaData:
    """Every live service of the integration."""

    #: One router for every profile: a provider's breaker and cooldown are shared by all chains.
    router: Router
    meter: Meter
    budgets: BudgetKeeper
    #: The provider-call pipeline (calls.py): the only way anything calls a provider.
    calls: ProviderCalls
    #: Where recent turns' time went, per stage (diagnostics).
    timings: TimingLog
    #: Camera frames taken when an eager endpoint's satellite starts listening.
    frames: FrameCache
    #: What the agents said, for the voice that speaks it (see core/turn_notes.py).
    turn_notes: TurnNotes
    #: Turns in progress and each device's last: the anima_turn event, logbook, last-turn sensor.
    turns: TurnTracker
    #: Endpoints working together: wake-ups, handed-over conversations, follow-ups.
    coordination: Coordinator

    @staticmethod
    def of(hass: HomeAssistant) -> AnimaData:
        """Return the integration's services (made by `async_setup_data`)."""
        return hass.data[DATA]


async def async_setup_data(hass: HomeAssistant) -> AnimaData:
    """Load the ledger and lifts and make every service; once, in the integration's set-up."""
    meter = await async_setup_meter(hass)
    budgets = await async_setup_budgets(hass, meter)

    @callback
    def start_reauth(entry_id: str) -> None:
        if (entry := hass.config_entries.async_get_entry(entry_id)) is not None:
            LOGGER.warning("%s rejected its API key; asking for a new one", entry.title)
            entry.async_start_reauth(hass)

    @callback
    def attempted(attempt: Attempt) -> None:
        availability.on_attempt(attempt)
        async_dispatcher_send(hass, SIGNAL_ATTEMPT, attempt)

    router = Router(on_auth_failure=start_reauth, on_attempt=attempted)
    availability = AvailabilityLog(hass, router)
    timings = TimingLog()
    turns = TurnTracker(hass, meter)
    turns.async_start()
    data = hass.data[DATA] = AnimaData(
        router=router,
        meter=meter,
        budgets=budgets,
        calls=ProviderCalls(hass, router, meter, budgets, timings),
        timings=timings,
        frames=FrameCache(),
        turn_notes=TurnNotes(),
        turns=turns,
        coordination=Coordinator(hass),
    )
    return data
