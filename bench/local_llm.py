"""The prompt cache of a real local model behind Anima's agent in a real Home Assistant.

Run: .venv/bin/python bench/local_llm.py [--requests FILE] (or scripts/bench local_llm)
Writes bench/results/local_llm.json and bench/results/local_llm.md; with --requests, also every
chat request Anima sent, as JSON (to read the prompts themselves).

A real `hass` (scripts/hassctl.py, .venv-hass) with a small house (template lights and a switch
in two areas), Anima's agent on the local model (scripts/local-llm: llama-server with
Qwen2.5-Coder-0.5B-Instruct, one slot) with Home Assistant's Assist API, temperature 0, driven
over REST as a user's app would: 10 turns of one conversation, then conversations of two turns.
Between Home Assistant and the model sits a recording proxy: it keeps every chat request Anima
sent and reads the server's own `timings` at the end of each answer (`cache_n`: prompt tokens
taken from the cache, `prompt_n`: those evaluated, `prompt_ms`), and times the first token.

Figures: `cached_prompt_share` (prompt tokens served from the server's prefix cache, over all
prompt tokens), in one conversation and across conversations; `ttft_ms_p50_turn2`, the model's
time to first token on the first request of each conversation's second turn; and what changed
between consecutive prompts (the first difference in the system prompt, the tools, the history),
which is what costs the cache: it holds only the unchanged beginning of a prompt.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
import itertools
import json
import os
from pathlib import Path
import signal
import socket
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp
from aiohttp import web
from common import ROOT, environment, write_results

sys.path.insert(0, str(ROOT))
from scripts.hassctl import HassProcess, chain_options, free_port
from tests.fixtures.local_llm import running_local_llm

AGENT = "conversation.anima_assistant"  # with the Assist API
CHAT_AGENT = "conversation.anima_chat"  # without: Home Assistant puts the time in its prompt
#: Anima's router: a provider failing this many times in a row is paused for that many seconds.
BREAKER_FAILURES, BREAKER_SECONDS = 3, 30.0
HOUSE = """
input_boolean:
  kitchen_power:
  lamp_power:
  coffee_power:
template:
  - light:
      - name: Kitchen Light
        unique_id: bench_kitchen_light
        state: "{{ is_state('input_boolean.kitchen_power', 'on') }}"
        turn_on: {action: input_boolean.turn_on, target: {entity_id: input_boolean.kitchen_power}}
        turn_off: {action: input_boolean.turn_off, target: {entity_id: input_boolean.kitchen_power}}
      - name: Living Room Lamp
        unique_id: bench_living_room_lamp
        state: "{{ is_state('input_boolean.lamp_power', 'on') }}"
        turn_on: {action: input_boolean.turn_on, target: {entity_id: input_boolean.lamp_power}}
        turn_off: {action: input_boolean.turn_off, target: {entity_id: input_boolean.lamp_power}}
  - switch:
      - name: Coffee Machine
        unique_id: bench_coffee_machine
        state: "{{ is_state('input_boolean.coffee_power', 'on') }}"
        turn_on: {action: input_boolean.turn_on, target: {entity_id: input_boolean.coffee_power}}
        turn_off: {action: input_boolean.turn_off, target: {entity_id: input_boolean.coffee_power}}
"""
AREAS = {
    "Kitchen": ["light.kitchen_light", "switch.coffee_machine"],
    "Living Room": ["light.living_room_lamp"],
}
ONE_CONVERSATION = (
    "Hello!",
    "What is the capital of France?",
    "Turn on the kitchen light.",
    "What is two plus two?",
    "Turn off the kitchen light.",
    "Turn on the living room lamp.",
    "What is the capital of Italy?",
    "Turn off the living room lamp.",
    "Turn on the coffee machine.",
    "Thank you, goodbye.",
)
WITHOUT_TOOLS = (
    "Hello!",
    "What is the capital of France?",
    "What is two plus two?",
    "What is the capital of Italy?",
    "Thank you, goodbye.",
)
ACROSS_CONVERSATIONS = (
    ("What is the capital of Spain?", "Turn on the kitchen light."),
    ("Good morning!", "Turn off the kitchen light."),
    ("What is the capital of Germany?", "Turn on the living room lamp."),
    ("How many days are in a week?", "Turn off the living room lamp."),
)


# --- the recording proxy ------------------------------------------------------------------------


@dataclass(slots=True)
class Call:
    """One chat completion request Anima sent, and what the server said about it."""

    scenario: str
    conversation: int
    turn: int
    body: dict[str, Any]
    ttft_ms: float | None = None  # to the first text or tool call fragment
    total_ms: float = 0.0
    timings: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    #: Whether Anima hung up before the answer was complete.
    abandoned: bool = False
    #: What the model streamed: text and tool call fragments (the first 1,000 characters).
    said: str = ""

    @property
    def prompt_tokens(self) -> int:
        return int(self.timings.get("cache_n", 0)) + int(self.timings.get("prompt_n", 0))

    @property
    def cached_tokens(self) -> int:
        return int(self.timings.get("cache_n", 0))


class RecordingProxy:
    """Forwards /v1/* to llama-server, keeping every chat request and its server timings."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: list[Call] = []
        self.where = ("", 0, 0)  # scenario, conversation, turn of the requests to come
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        #: Read answers to their end when Anima hangs up: the server then finishes the prompt,
        #: which is in its cache for the next request, and reports its timings.
        self.read_on = False
        #: Failed turns in a row (Anima's breaker opens at BREAKER_FAILURES), and waits for it.
        self.failures = 0
        self.breaker_waits = 0
        self._session: aiohttp.ClientSession | None = None

    async def settled(self) -> None:
        """Wait until the server has finished every request (those Anima gave up on, too)."""
        await self._idle.wait()

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Yield the proxy's base URL while it runs."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/v1/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        # A new connection per request: llama-server closes each after a stream anyway.
        connector = aiohttp.TCPConnector(force_close=True)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as self._session:
            await web.SockSite(runner, sock).start()
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
            finally:
                await runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        call = None
        if request.method == "POST" and request.path.endswith("/chat/completions"):
            call = Call(*self.where, body=json.loads(body))
            self.calls.append(call)
        self.in_flight += 1
        self._idle.clear()
        try:
            return await self._relay(request, body, call)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def _relay(
        self, request: web.Request, body: bytes, call: Call | None
    ) -> web.StreamResponse:
        assert self._session is not None
        started = time.perf_counter()
        url = self.upstream + request.path.removeprefix("/v1")
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._session.request(request.method, url, data=body, headers=headers) as up:
            response = web.StreamResponse(status=up.status)
            response.content_type = up.content_type
            gone = not await _try(response.prepare(request))
            buffer = b""
            async for chunk in up.content.iter_any():
                gone = gone or not await _try(response.write(chunk))
                if call is None:
                    continue
                call.abandoned = gone
                if gone and not self.read_on:
                    break  # as a direct connection would: the server stops the answer
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    _read_event(call, line, started)
            call_total = (time.perf_counter() - started) * 1000
            if call is not None:
                call.total_ms = round(call_total, 1)
            await _try(response.write_eof())
            return response


async def _try(write: Awaitable[Any]) -> bool:
    """Write to Anima; return False if it has hung up."""
    try:
        await write
    except ConnectionResetError:
        return False
    return True


def _read_event(call: Call, line: bytes, started: float) -> None:
    """Note the first token's time and the last chunk's timings and usage."""
    if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
        return
    with suppress(ValueError):
        chunk = json.loads(line[6:])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if call.ttft_ms is None and (delta.get("content") or delta.get("tool_calls")):
                call.ttft_ms = round((time.perf_counter() - started) * 1000, 1)
            for piece in (delta.get("content"), *_fragments(delta.get("tool_calls"))):
                if isinstance(piece, str) and len(call.said) < 1000:
                    call.said += piece
        if isinstance(error := chunk.get("error"), dict):
            call.said += f" [error event: {error.get('message')}]"
        call.timings = chunk.get("timings") or call.timings
        call.usage = chunk.get("usage") or call.usage


def _fragments(calls: Any) -> list[Any]:
    """The name and argument pieces of streamed tool call fragments."""
    pieces = []
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            pieces += [function.get("name"), function.get("arguments")]
    return pieces


# --- the servers ----------------------------------------------------------------------------


async def wait_loaded(hass: HassProcess, entry_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        entry = next(e for e in await hass.entries("anima") if e["entry_id"] == entry_id)
        if entry["state"] == "loaded":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"entry {entry['title']!r} is {entry['state']!r}")
        await asyncio.sleep(0.2)


async def set_up(hass: HassProcess, base_url: str) -> None:
    """The areas, the local model as a connection, the hub and an agent with the Assist API."""
    # Onboarding made a few areas (Kitchen, Living Room, Bedroom) already.
    known = {
        a["name"]: a["area_id"] for a in await hass.websocket({"type": "config/area_registry/list"})
    }
    for area, entities in AREAS.items():
        if area not in known:
            created = await hass.websocket({"type": "config/area_registry/create", "name": area})
            known[area] = created["area_id"]
        for entity_id in entities:
            await hass.websocket(
                {
                    "type": "config/entity_registry/update",
                    "entity_id": entity_id,
                    "area_id": known[area],
                }
            )
    steps = [{"next_step_id": "openai_compatible"}, {"preset": "local_server"}]
    connection = await hass.config_flow("anima", [*steps, {"base_url": base_url}])
    hub = await hass.config_flow("anima", [{"next_step_id": "hub"}])
    for entry in (connection, hub):
        await wait_loaded(hass, entry["result"]["entry_id"])

    def agent(name: str, apis: list[str]) -> Any:
        def choose(form: dict[str, Any]) -> dict[str, Any]:
            chain = [value for value, label in chain_options(form) if "qwen" in label.lower()]
            return {"name": name, "chain": chain, "llm_hass_api": apis, "temperature": 0}

        return choose

    for choose in (agent("Assistant", ["assist"]), agent("Chat", [])):
        created = await hass.subentry_flow(hub["result"]["entry_id"], "agent", choose)
        if created.get("type") != "create_entry":
            raise RuntimeError(f"no agent profile: {created}")
    await wait_loaded(hass, hub["result"]["entry_id"])


async def converse(
    hass: HassProcess,
    proxy: RecordingProxy,
    scenario: str,
    number: int,
    texts: tuple[str, ...],
    first_turn: int = 1,
    agent: str = AGENT,
) -> list[dict[str, Any]]:
    """Hold one conversation; return each turn's question, answer and time."""
    conversation_id = None
    turns = []
    for turn, text in enumerate(texts, start=first_turn):
        proxy.where = (scenario, number, turn)
        body: dict[str, Any] = {"text": text, "agent_id": agent, "language": "en"}
        if conversation_id:
            body["conversation_id"] = conversation_id
        started = time.perf_counter()
        result = await hass.request("POST", "/api/conversation/process", body)
        took = round((time.perf_counter() - started) * 1000)
        conversation_id = result.get("conversation_id")
        speech = result["response"]["speech"].get("plain", {}).get("speech", "")
        failed = result["response"].get("response_type") == "error"
        proxy.failures = proxy.failures + 1 if failed else 0
        if failed:
            await proxy.settled()
        if proxy.failures >= BREAKER_FAILURES:  # the breaker is open: wait until it lets a probe by
            await asyncio.sleep(BREAKER_SECONDS + 1)
            proxy.breaker_waits += 1
        turns.append(
            {
                "scenario": scenario,
                "conversation": number,
                "turn": turn,
                "text": text,
                "answer": speech,
                "response_type": result["response"].get("response_type"),
                "ms": took,
            }
        )
    return turns


# --- analysis -----------------------------------------------------------------------------------


def share(calls: list[Call]) -> float | None:
    prompt = sum(c.prompt_tokens for c in calls)
    return round(sum(c.cached_tokens for c in calls) / prompt, 3) if prompt else None


def first_difference(before: str, after: str) -> dict[str, Any] | None:
    """Where two texts first differ, with a little of each around that place."""
    if before == after:
        return None
    at = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), None)
    at = min(len(before), len(after)) if at is None else at
    return {
        "offset": at,
        "of": len(after),
        "before": before[max(0, at - 60) : at + 40],
        "after": after[max(0, at - 60) : at + 40],
    }


def prompt_changes(calls: list[Call]) -> list[dict[str, Any]]:
    """For each request after the first: what differs from the request before it."""
    changes = []
    for previous, call in itertools.pairwise(calls):
        old, new = previous.body, call.body
        old_system = _system(old)
        new_system = _system(new)
        old_tools = [t["function"]["name"] for t in old.get("tools") or ()]
        new_tools = [t["function"]["name"] for t in new.get("tools") or ()]
        old_history = old["messages"][1:]
        new_history = new["messages"][1 : 1 + len(old_history)]
        changes.append(
            {
                "conversation": call.conversation,
                "turn": call.turn,
                "system_prompt": first_difference(old_system, new_system),
                "tools_same_names_and_order": old_tools == new_tools,
                "tools_same_schemas": old.get("tools") == new.get("tools"),
                "history_kept_as_sent": old_history == new_history,
                "cached_tokens": call.cached_tokens,
                "prompt_tokens": call.prompt_tokens,
            }
        )
    return changes


def _system(body: dict[str, Any]) -> str:
    first = body["messages"][0] if body.get("messages") else {}
    return str(first.get("content") or "") if first.get("role") == "system" else ""


def summary(calls: list[Call], turns: list[dict[str, Any]]) -> dict[str, Any]:
    one = [c for c in calls if c.scenario == "one_conversation"]
    across = [c for c in calls if c.scenario == "across_conversations"]
    firsts = [c for c in across if c.turn == 1 and c is _first_of(across, c)]
    bare = [c for c in calls if c.scenario == "without_tools"]
    measured = one + across
    turn2 = [
        c.ttft_ms
        for c in measured
        if c.turn == 2 and c is _first_of(measured, c) and c.ttft_ms is not None
    ]
    warm_up = [c for c in calls if c.scenario == "warm_up"]
    asked = [t for t in turns if t["scenario"] != "warm_up"]
    return {
        "cached_prompt_share": {
            "one_conversation": share(one),
            "across_conversations": share(across),
            "first_requests_of_new_conversations": share(firsts),
            "without_tools": share(bare),
        },
        "ttft_ms_p50_turn2": round(statistics.median(turn2), 1) if turn2 else None,
        "ttft_ms_turn2_samples": turn2,
        "cold_prompt": {
            "prompt_tokens": warm_up[0].prompt_tokens if warm_up else None,
            "ttft_ms": warm_up[0].ttft_ms if warm_up else None,
            "server_prompt_ms": warm_up[0].timings.get("prompt_ms") if warm_up else None,
            "anima_gave_up": warm_up[0].abandoned if warm_up else None,
            "asked_until_answered": len([t for t in turns if t["scenario"] == "warm_up"]),
        },
        "requests": len(measured),
        "turns": len(asked),
        "turns_answered": sum(1 for t in asked if t["response_type"] != "error"),
        "prompt_changes_one_conversation": prompt_changes(one),
        "prompt_changes_across_conversations": prompt_changes(firsts),
        "prompt_changes_without_tools": prompt_changes(bare),
    }


def _first_of(calls: list[Call], call: Call) -> Call:
    """The first request of `call`'s turn (a turn with a tool call makes two)."""
    return next(
        c
        for c in calls
        if (c.scenario, c.conversation, c.turn) == (call.scenario, call.conversation, call.turn)
    )


def markdown(data: dict[str, Any]) -> str:
    shares, cold = data["cached_prompt_share"], data["cold_prompt"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.0f}%"

    lines = [
        "# Local LLM: prompt cache and time to first token",
        "",
        f"Anima's agent with the Assist API on {data['model']} (llama-server, one slot, 2"
        " threads) in a real Home Assistant, temperature 0; the server's own timings.",
        "",
        "| metric | measured |",
        "|---|---:|",
        f"| prompt tokens from the cache, 10 turns of one conversation | "
        f"{pct(shares['one_conversation'])} |",
        f"| prompt tokens from the cache, conversations of two turns | "
        f"{pct(shares['across_conversations'])} |",
        f"| ... of them, the first request of each new conversation | "
        f"{pct(shares['first_requests_of_new_conversations'])} |",
        f"| prompt tokens from the cache, an agent without the Assist API (5 turns) | "
        f"{pct(shares['without_tools'])} |",
        f"| time to first token, turn 2, p50 ({len(data['ttft_ms_turn2_samples'])} conversations)"
        f" | {data['ttft_ms_p50_turn2']} ms |",
        f"| time to first token, first (cold) prompt, {cold['prompt_tokens']} tokens"
        f" | {cold['ttft_ms']} ms |",
        f"| turns answered | {data['turns_answered']} / {data['turns']} |",
        "",
        f'Before these, a warm-up turn ("Hello!") was asked {cold["asked_until_answered"]}'
        " time(s) until answered: "
        + (
            "Anima gave up on the cold prompt (its chain's 15 s first-token limit) while the"
            " server still read it, so the cache held it for the next try."
            if cold["anima_gave_up"]
            else "the cold prompt was answered within Anima's first-token limit."
        ),
        "",
        "Per request (one conversation, then the others):",
        "",
        "| conv. | turn | question | prompt tokens | from cache | first token (ms) |"
        " system prompt changed at |",
        "|---:|---:|---|---:|---:|---:|---|",
    ]
    changed = {
        (c["conversation"], c["turn"]): c
        for key in ("one_conversation", "across_conversations", "without_tools")
        for c in data[f"prompt_changes_{key}"]
    }
    texts = {(t["scenario"], t["conversation"], t["turn"]): t["text"] for t in data["turns_log"]}
    for call in data["calls"]:
        if call["scenario"] == "warm_up":
            continue
        key = (call["scenario"], call["conversation"], call["turn"])
        change = changed.get((call["conversation"], call["turn"]), {}).get("system_prompt")
        where = "" if change is None else f"char {change['offset']} of {change['of']}"
        lines.append(
            f"| {call['conversation']} | {call['turn']} | {texts.get(key, '')} |"
            f" {call['prompt_tokens']} | {call['cached_tokens']} | {call['ttft_ms']} | {where} |"
        )
    lines += ["", *data["findings"], "", _where(data), ""]
    return "\n".join(lines)


def _where(data: dict[str, Any]) -> str:
    env, load = data["environment"], data["load_average_1min"]
    return (
        f"Python {env['python']} on {env['machine']}, {env['cores']} cores, load average"
        f" {load['before']} before and {load['after']} after (the model's times grow with it)."
    )


def findings(data: dict[str, Any]) -> list[str]:
    """Plain sentences on what changed between prompts."""
    notes = []
    for scenario in ("one_conversation", "across_conversations", "without_tools"):
        changes = data[f"prompt_changes_{scenario}"]
        moved = [c for c in changes if c["system_prompt"] is not None]
        label = scenario.replace("_", " ")
        if not changes:
            continue
        notes.append(
            f"- {label}: the system prompt changed in {len(moved)} of {len(changes)} consecutive"
            " requests"
            + (
                f"; first at character {moved[0]['system_prompt']['offset']} of"
                f" {moved[0]['system_prompt']['of']}: `{moved[0]['system_prompt']['before']!r}`"
                f" -> `{moved[0]['system_prompt']['after']!r}`"
                if moved
                else ""
            )
            + "."
        )
        reordered = sum(1 for c in changes if not c["tools_same_names_and_order"])
        reshaped = sum(1 for c in changes if not c["tools_same_schemas"])
        rewritten = sum(1 for c in changes if not c["history_kept_as_sent"])
        history = (  # across conversations, each first request has its own question
            ""
            if scenario == "across_conversations"
            else f"; the history was not re-sent as before in {rewritten}"
        )
        notes.append(
            f"- {label}: tools differ in names or order in {reordered}, in schemas in"
            f" {reshaped}{history}."
        )
    return notes


async def run(requests: Path | None) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        with running_local_llm(scratch / "llama-server.log") as server:
            proxy = RecordingProxy(server.base_url)
            async with proxy.serve() as base_url:
                hass = HassProcess(
                    scratch / "config", port=free_port(), extra_config=HOUSE, start_timeout=300
                )
                async with hass:
                    await set_up(hass, base_url)
                    turns = await _warm_up(hass, proxy)
                    model = (await hass.entries("anima"))[0]["title"]
                    turns += await converse(hass, proxy, "one_conversation", 1, ONE_CONVERSATION)
                    for number, texts in enumerate(ACROSS_CONVERSATIONS, start=2):
                        turns += await converse(hass, proxy, "across_conversations", number, texts)
                    number = len(ACROSS_CONVERSATIONS) + 2
                    turns += await converse(
                        hass, proxy, "without_tools", number, WITHOUT_TOOLS, agent=CHAT_AGENT
                    )
                    lights = await hass.request("GET", "/api/states/light.kitchen_light")
    calls = proxy.calls
    if requests is not None:
        requests.write_text(json.dumps([asdict(c) for c in calls], indent=1))
    data = {
        "model": "qwen2.5-coder-0.5b-instruct",
        "connection": model,
        **summary(calls, turns),
        "kitchen_light_at_the_end": lights.get("state"),
        "breaker_waits": proxy.breaker_waits,
        "turns_log": turns,
        "calls": [
            {k: v for k, v in asdict(c).items() if k != "body"}
            | {"prompt_tokens": c.prompt_tokens, "cached_tokens": c.cached_tokens}
            for c in calls
        ],
        "environment": environment(),
        # The model shares 2 cores with everything else: its times grow with the machine's load.
        "load_average_1min": {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        },
    }
    data["findings"] = findings(data)
    return data


async def _warm_up(hass: HassProcess, proxy: RecordingProxy) -> list[dict[str, Any]]:
    """Ask until answered: a cold prompt may take longer than Anima's first-token limit."""
    turns: list[dict[str, Any]] = []
    proxy.read_on = True
    for attempt in range(1, 4):
        turns += await converse(hass, proxy, "warm_up", 0, ("Hello!",), first_turn=attempt)
        if turns[-1]["response_type"] != "error":
            break
        await proxy.settled()  # the server read the prompt to its end: it is in the cache now
    proxy.read_on = False
    return turns


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # so a SIGTERM stops the servers as Ctrl-C does


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    requests = Path(sys.argv[2]) if sys.argv[1:2] == ["--requests"] else None
    data = asyncio.run(run(requests))
    write_results("local_llm", data, markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
