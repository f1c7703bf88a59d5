"""The turn tracker: each agent turn assembled from the pipeline, then published once.

The agent (answering.py) begins a turn and says how it answered; the ledger's records
(`SIGNAL_RECORDED`) and the stage timings (`SIGNAL_TIMED`, from calls.py) booked to the asking
device join it; the voice (speaking.py) says which tier speaks it and when its audio ends. A turn
ends when its reply has been spoken, or `SPEECH_GRACE` seconds after the answer when no voice
of Anima speaks it (a typed chat, another integration's voice). Then:

- `anima_turn` fires on the bus with the record's JSON-ready data (the logbook describes it:
  logbook.py, on the endpoint's Anima device);
- `SIGNAL_TURN` refreshes the endpoint's last-turn sensor.

`anima_question` fires when a turn begins, for automations that react to what was asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import time
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send
from homeassistant.helpers.event import async_call_later

from ..const import DOMAIN, EVENT_QUESTION, EVENT_TURN, SIGNAL_RECORDED, SIGNAL_TIMED, SIGNAL_TURN
from ..core.ledger import UsageRecord
from ..core.speech.tiers import MessageClass, Tier
from ..core.timing import StageTiming
from ..core.turns import TurnDraft, TurnLog, TurnRecord
from ..providers.base import AudioChunk
from .devices import anima_device_id
from .hub import async_endpoint_of
from .metering import Meter

#: How long after the answer a voice may still begin to speak it.
SPEECH_GRACE: Final = 5.0
#: A turn never answered, or whose voice never ends, is published after this.
TURN_LIMIT: Final = 180.0


class TurnTracker:
    """Turns in progress and the last one of each device; one per integration (AnimaData)."""

    def __init__(self, hass: HomeAssistant, meter: Meter) -> None:
        """Price turns with `meter`; `async_start` connects it to the pipeline's signals."""
        self.hass = hass
        self.meter = meter
        self._log = TurnLog()
        self._last: dict[str, TurnRecord] = {}
        self._timers: dict[str | None, CALLBACK_TYPE] = {}

    @callback
    def async_start(self) -> None:
        """Follow the ledger and the stage timings (for as long as Home Assistant runs)."""
        async_dispatcher_connect(self.hass, SIGNAL_RECORDED, self._recorded)
        async_dispatcher_connect(self.hass, SIGNAL_TIMED, self._timed)

    def last(self, device_id: str) -> TurnRecord | None:
        """Return the last finished turn asked on `device_id`."""
        return self._last.get(device_id)

    @callback
    def begin(
        self, device_id: str | None, agent: str, conversation_id: str | None, question: str
    ) -> None:
        """Begin the turn of `question`, asked on `device_id` (None: typed) to `agent`."""
        endpoint = async_endpoint_of(self.hass, device_id)
        draft = TurnDraft(
            time.time(),
            device_id,
            endpoint.name if endpoint else None,
            agent,
            conversation_id,
            question,
        )
        if (replaced := self._log.begin(draft)) is not None:
            self._publish(replaced.finish())
        self._schedule(device_id, TURN_LIMIT)
        asked = draft.finish()
        data = {"endpoint": asked.endpoint, "agent": agent, "conversation_id": conversation_id}
        data["question"] = asked.question
        self.hass.bus.async_fire(EVENT_QUESTION, self._devices(device_id) | data)

    @callback
    def answered(
        self,
        device_id: str | None,
        text: str,
        message_class: MessageClass | None,
        *,
        success: bool,
        continue_conversation: bool,
    ) -> None:
        """Note how the agent answered the device's turn (`success` False: it could not)."""
        if (draft := self._log.draft(device_id)) is None:
            return
        draft.answer(
            text, message_class, success=success, continue_conversation=continue_conversation
        )
        if draft.done:
            self._finish(device_id)
        elif not draft.speaking:
            self._schedule(device_id, SPEECH_GRACE)

    @callback
    def answered_locally(
        self,
        device_id: str | None,
        agent: str,
        conversation_id: str,
        question: str,
        answer: str,
        message_class: MessageClass,
    ) -> None:
        """Record a turn Home Assistant answered itself (a local intent, no agent of Anima)."""
        self.begin(device_id, agent, conversation_id, question)
        self.answered(device_id, answer, message_class, success=True, continue_conversation=False)

    def speech(
        self, device_id: str | None, tier: Tier, audio: AsyncIterator[AudioChunk]
    ) -> AsyncIterator[AudioChunk]:
        """Follow a voice speaking for `device_id` in `tier`: its turn ends with the audio."""
        if (draft := self._log.draft(device_id)) is None:
            return audio
        return self._spoken(draft, tier, audio)

    async def _spoken(
        self, draft: TurnDraft, tier: Tier, audio: AsyncIterator[AudioChunk]
    ) -> AsyncIterator[AudioChunk]:
        draft.speak(tier)
        try:
            async for chunk in audio:
                yield chunk
        finally:
            draft.spoken()
            if draft.done and self._log.draft(draft.device_id) is draft:
                self._finish(draft.device_id)

    @callback
    def _recorded(self, record: UsageRecord | None) -> None:
        if record is not None:
            self._log.record(record, time.time())

    @callback
    def _timed(self, device_id: str | None, timing: StageTiming) -> None:
        self._log.time_stage(device_id, timing.stage, timing.total_ms, time.time())

    @callback
    def _schedule(self, device_id: str | None, delay: float) -> None:
        if (cancel := self._timers.pop(device_id, None)) is not None:
            cancel()

        @callback
        def expired(_: Any) -> None:
            self._timers.pop(device_id, None)
            draft = self._log.draft(device_id)
            if draft is not None and draft.speaking and delay < TURN_LIMIT:
                self._schedule(device_id, TURN_LIMIT)  # still speaking: its end finishes it
            elif draft is not None:
                self._finish(device_id)

        job = HassJob(expired, "anima turn ends", cancel_on_shutdown=True)
        self._timers[device_id] = async_call_later(self.hass, delay, job)

    @callback
    def _finish(self, device_id: str | None) -> None:
        if (cancel := self._timers.pop(device_id, None)) is not None:
            cancel()
        if (draft := self._log.take(device_id)) is not None:
            self._publish(draft.finish())

    @callback
    def _publish(self, record: TurnRecord) -> None:
        if record.device_id is not None:
            self._last[record.device_id] = record
        self.hass.bus.async_fire(EVENT_TURN, self._devices(record.device_id) | self.data_of(record))
        async_dispatcher_send(self.hass, SIGNAL_TURN, record)

    def data_of(self, record: TurnRecord) -> dict[str, Any]:
        """Return what a turn's event and sensor show: costs shown, connections by title."""
        entries = self.hass.config_entries.async_entries(DOMAIN)
        names = {entry.entry_id: entry.title for entry in entries}
        return record.as_data(self.meter.shown, self.meter.currency, names)

    def _devices(self, device_id: str | None) -> dict[str, str | None]:
        """Return the event's devices: the endpoint's own (logbook, triggers) and the asker."""
        endpoint = async_endpoint_of(self.hass, device_id)
        own = anima_device_id(self.hass, endpoint.id) if endpoint else None
        return {"device_id": own, "satellite_device_id": device_id}
