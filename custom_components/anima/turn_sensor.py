"""Each endpoint's last-turn sensor: what its last turn cost, who answered, how long it took.

State: the turn's cost in the shown currency; attributes: the providers used, the milliseconds
of each stage, the tier that spoke it, its class, the question and the answer. The same record
as the `anima_turn` event and the logbook entry (runtime/turns.py).
"""

from __future__ import annotations

from homeassistant.components.sensor import RestoreSensor, SensorDeviceClass
from homeassistant.core import callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util import dt as dt_util

from .const import SIGNAL_TURN
from .core.turns import TurnRecord
from .entity import AnimaEntity

#: The record's fields the sensor shows as attributes (its cost is the state).
ATTRIBUTES = ("providers", "stages", "tier", "message_class", "question", "answer", "success")


class LastTurnSensor(RestoreSensor, AnimaEntity):
    """The last turn asked on one endpoint."""

    _attr_translation_key = "last_turn"
    _attr_device_class = SensorDeviceClass.MONETARY
    _attr_suggested_display_precision = 4
    _attr_should_poll = False

    def __init__(self, endpoint_id: str, device_id: str) -> None:
        """Show the turns asked on `device_id`, on the endpoint's own device."""
        super().__init__(endpoint_id, "last_turn")
        self._device_id = device_id

    async def async_added_to_hass(self) -> None:
        """Show the last turn (kept across restarts), and each new one."""
        await super().async_added_to_hass()
        if (record := self.anima.turns.last(self._device_id)) is not None:
            self._show(record)
        elif (restored := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = restored.native_value
            self._attr_native_unit_of_measurement = restored.native_unit_of_measurement
            if (state := await self.async_get_last_state()) is not None:
                kept = ("time", *ATTRIBUTES)
                self._attr_extra_state_attributes = {
                    key: state.attributes[key] for key in kept if key in state.attributes
                }
        self.async_on_remove(async_dispatcher_connect(self.hass, SIGNAL_TURN, self._turn))

    @callback
    def _turn(self, record: TurnRecord) -> None:
        if record.device_id == self._device_id:
            self._show(record)
            self.async_write_ha_state()

    def _show(self, record: TurnRecord) -> None:
        data = self.anima.turns.data_of(record)
        self._attr_native_value = data["cost"]
        self._attr_native_unit_of_measurement = data["currency"]
        when = dt_util.as_local(dt_util.utc_from_timestamp(record.time)).isoformat()
        self._attr_extra_state_attributes = {"time": when} | {key: data[key] for key in ATTRIBUTES}
