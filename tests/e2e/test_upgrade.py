"""An installation made by an earlier Anima upgrades without losing anything.

`upgrade/d3c0afa/` holds the storage of a real Home Assistant 2026.11 in which Anima as of commit
d3c0afa (the layout before `core/` and `runtime/`) was set up through its flows: an OpenAI
connection, Piper and Whisper, the hub with an agent, a listener, a voice, an endpoint, hub options
(EUR, a house budget), and a ledger with the costs of two turns and a spoken reply. The test puts
that storage under today's Anima, with the servers on today's ports and the ledger's day moved to
today, and checks that every entry loads, every entity keeps its id and unique id, the cost
history is shown and kept, and the old profiles still answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
import json
from pathlib import Path
import re
from typing import Any
from zoneinfo import ZoneInfo

from scripts.hassctl import HassProcess, free_port
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer

FIXTURE = Path(__file__).parent / "upgrade" / "d3c0afa"
STORES = (
    "core.config_entries",
    "core.entity_registry",
    "core.device_registry",
    "anima.ledger",
    "anima.ledger_archive",
    "anima.budget_lifts",
)
TZ = ZoneInfo("Europe/Amsterdam")  # scripts/hassctl.py's configuration


def _moved(text: str, ports: dict[str, int], made: dict[str, Any]) -> str:
    """The stored text with the servers' ports of today."""
    for name, port in ports.items():
        text = re.sub(rf"(?<!\d){made[name]}(?!\d)", str(port), text)
    return text


def _ledger_moved(store: dict[str, Any], days: int) -> dict[str, Any]:
    """A ledger store with its records and day moved `days` days on (the same local times)."""
    data = store["data"]
    shift = timedelta(days=days)

    def at(epoch: float) -> float:
        local = datetime.fromtimestamp(epoch, TZ)
        return (local.replace(tzinfo=None) + shift).replace(tzinfo=TZ).timestamp()

    def day(key: str) -> str:
        return (date.fromisoformat(key) + shift).isoformat()

    data["records"] = [[at(row[0]), *row[1:]] for row in data["records"]]
    data["days"] = {day(key): value for key, value in data.get("days", {}).items()}
    if "months" in data:
        data["months"] = {day(f"{key}-01")[:7]: value for key, value in data["months"].items()}
    if "before" in data:
        data["before"], data["before_day"] = at(data["before"]), day(data["before_day"])
    return store


def _install(config: Path, ports: dict[str, int]) -> dict[str, Any]:
    """Write the old storage into `config`; return the old entity registry."""
    made = json.loads((FIXTURE / "made_with.json").read_text())
    today = datetime.now(UTC).astimezone(TZ).date()
    days = (today - date.fromisoformat(made["day"])).days
    storage = config / ".storage"
    storage.mkdir(parents=True)
    for name in STORES:
        text = _moved((FIXTURE / f"{name}.json").read_text(), ports, made)
        if name in ("anima.ledger", "anima.ledger_archive"):
            text = json.dumps(_ledger_moved(json.loads(text), days))
        (storage / name).write_text(text)
    return dict(json.loads((storage / "core.entity_registry").read_text()))


async def test_an_earlier_installation_keeps_its_profiles_entities_and_costs(
    tmp_path: Path, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    async with FakeOpenAIServer(api_key="test-key") as cloud:
        cloud.models = ["gpt-4.1-mini", "whisper-1", "tts-1"]
        cloud.default_reply = Reply.text("Hello from today's Anima.", usage=(1000, 100))
        config = tmp_path / "config"
        ports = {"openai": cloud.port, "piper": piper_server.port, "whisper": whisper_server.port}
        registry = _install(config, ports)
        old_ledger = json.loads((config / ".storage" / "anima.ledger").read_text())["data"]
        async with HassProcess(config, port=free_port(), start_timeout=240) as hass:
            entries = await hass.entries()
            assert {e["title"]: e["state"] for e in entries} == {
                "OpenAI": "loaded",
                f"127.0.0.1:{piper_server.port}": "loaded",
                f"127.0.0.1:{whisper_server.port}": "loaded",
                "Anima": "loaded",
            }
            hub = next(e for e in entries if e["title"] == "Anima")
            assert hub["num_subentries"] == 4  # agent, listener, voice, endpoint

            # Every entity keeps its entity id and unique id.
            now = {
                (e["entity_id"], e["unique_id"])
                for e in await hass.websocket({"type": "config/entity_registry/list"})
                if e["platform"] == "anima"
            }
            old = {
                (e["entity_id"], e["unique_id"])
                for e in registry["data"]["entities"]
                if e["platform"] == "anima"
            }
            assert len(old) == 28
            assert old <= now

            # The cost history is shown: today's house cost, in the hub's EUR at its rate 0.9.
            day = next(iter(old_ledger["days"]))
            spent = Decimal(old_ledger["days"][day]["total"]["cost"]) * Decimal("0.9")
            state = await hass.request("GET", "/api/states/sensor.anima_cost_today")
            assert state["attributes"]["unit_of_measurement"] == "EUR"
            assert Decimal(state["state"]) == spent.quantize(Decimal(state["state"]))

            # The old profiles answer: the agent on the old chain, the voice on Piper.
            answer = await hass.request(
                "POST",
                "/api/conversation/process",
                {"text": "Hello", "language": "en", "agent_id": "conversation.anima_assistant"},
            )
            assert answer["response"]["speech"]["plain"]["speech"] == "Hello from today's Anima."
            url = await hass.request(
                "POST",
                "/api/tts_get_url",
                {
                    "engine_id": "tts.anima_voice",
                    "message": "Still speaking.",
                    "language": "en",
                    "options": {"preferred_format": "wav"},
                },
            )
            assert len(await hass.request_bytes("GET", url["path"])) > 10_000
        # Stopped: the ledger saved holds every old record and the new turn's on top.
        saved = json.loads((config / ".storage" / "anima.ledger").read_text())["data"]
        assert saved["records"][: len(old_ledger["records"])] == old_ledger["records"]
        total = saved["days"][day]["total"]
        assert total["records"] == old_ledger["days"][day]["total"]["records"] + 2
        assert total["input_tokens"] == old_ledger["days"][day]["total"]["input_tokens"] + 1000
