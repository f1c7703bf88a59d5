"""A real Home Assistant with an Anima assistant on a fake OpenAI service, as a user sets it up.

Shared by the end-to-end tests and bench/faults.py: the connection, hub and agent through the
config flows, a question asked over REST, and the cost sensor.
"""

from __future__ import annotations

from scripts.hassctl import HassProcess, chain_options
from tests.e2e.test_smoke import wait_for_state
from tests.fakes.openai_server import FakeOpenAIServer

AGENT = "conversation.anima_assistant"


async def add_assistant(hass: HassProcess, server: FakeOpenAIServer) -> str:
    """Add the connection, the hub and its agent `Assistant` (gpt-4.1-mini); the hub's id."""
    cloud = await hass.config_flow(
        "anima",
        [
            {"next_step_id": "openai_compatible"},
            {"preset": "openai"},
            {"base_url": server.base_url, "api_key": server.api_key or ""},
        ],
    )
    hub = await hass.config_flow("anima", [{"next_step_id": "hub"}])
    await wait_for_state(hass, cloud["result"]["entry_id"], "loaded")
    hub_id = str(hub["result"]["entry_id"])
    await wait_for_state(hass, hub_id, "loaded")

    def agent(form: dict[str, object]) -> dict[str, object]:
        chain = [value for value, label in chain_options(form) if "gpt-4.1-mini" in label]
        return {"name": "Assistant", "chain": chain}

    await hass.subentry_flow(hub_id, "agent", agent)
    await wait_for_state(hass, hub_id, "loaded")
    return hub_id


async def ask(hass: HassProcess, text: str = "Hello") -> str:
    """Ask the assistant over REST, as the Assist dialog does; what it said."""
    result = await hass.request(
        "POST", "/api/conversation/process", {"text": text, "agent_id": AGENT}
    )
    return str(result["response"]["speech"]["plain"]["speech"])


async def cost_today(hass: HassProcess) -> str:
    """The house's cost today, as its sensor shows it."""
    state = await hass.request("GET", "/api/states/sensor.anima_cost_today")
    return str(state["state"])
