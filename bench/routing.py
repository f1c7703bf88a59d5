"""The router's own overhead per call, against calling a zero-latency provider directly.

Run: .venv/bin/python bench/routing.py [calls]
Writes bench/results/routing.json and bench/results/routing.md. The router is configured as the
integration will use it: a two-route chain (the first answers), default time-outs, an
`on_attempt` callback (the ledger's hook), so every measured call pays for all of that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
import gc
import sys
import time
from typing import Any

from common import environment, import_pure, percentile_us, write_results

routing = import_pure("core.routing")
base = import_pure("providers.base")

TARGET_P95_US = 1000.0
STREAM_DELTAS = 20
WARMUP = 1000

REQUEST = base.ChatRequest(model="m", messages=(base.ChatMessage("user", "hi"),))
TRANSCRIPT = base.Transcript("turn on the lights")
DELTAS = (
    *(base.ChatDelta(text=f"word{i} ") for i in range(STREAM_DELTAS - 1)),
    base.ChatDelta(usage=base.Usage(input_tokens=5, output_tokens=19), finish_reason="stop"),
)
FORMAT = base.AudioFormat()


class ZeroTranscriber:
    """Answers at once, without touching the audio."""

    async def transcribe(
        self,
        audio: AsyncIterable[bytes],
        audio_format: Any,
        *,
        model: str | None = None,
        language: str | None = None,
    ) -> Any:
        return TRANSCRIPT


class ZeroChat:
    """Streams STREAM_DELTAS prepared deltas at once."""

    async def stream_chat(self, request: Any) -> AsyncIterator[Any]:
        for delta in DELTAS:
            yield delta


async def _no_audio() -> AsyncIterator[bytes]:
    yield b""


def _chain(provider: Any) -> Any:
    routes = (routing.Route("primary", provider, "m"), routing.Route("backup", provider, "m"))
    return routing.Chain(routes)


async def _measure(
    calls: int, direct: Callable[[], Awaitable[None]], routed: Callable[[], Awaitable[None]]
) -> tuple[list[int], list[int]]:
    """Time each call; direct and routed calls alternate so drift hits both alike."""
    clock = time.perf_counter_ns
    for _ in range(WARMUP):
        await direct()
        await routed()
    gc.collect()
    direct_ns, routed_ns = [], []
    for _ in range(calls):
        start = clock()
        await direct()
        middle = clock()
        await routed()
        end = clock()
        direct_ns.append(middle - start)
        routed_ns.append(end - middle)
    return direct_ns, routed_ns


def _summary(direct_ns: list[int], routed_ns: list[int]) -> dict[str, float]:
    summary = {
        "direct_us_p50": percentile_us(direct_ns, 50),
        "direct_us_p95": percentile_us(direct_ns, 95),
        "routed_us_p50": percentile_us(routed_ns, 50),
        "routed_us_p95": percentile_us(routed_ns, 95),
    }
    summary["overhead_us_p50"] = round(summary["routed_us_p50"] - summary["direct_us_p50"], 2)
    summary["overhead_us_p95"] = round(summary["routed_us_p95"] - summary["direct_us_p95"], 2)
    return summary


async def _bench(calls: int) -> dict[str, Any]:
    attempts = 0

    def on_attempt(_: Any) -> None:
        nonlocal attempts
        attempts += 1

    router = routing.Router(on_attempt=on_attempt)
    stt, chat = ZeroTranscriber(), ZeroChat()
    stt_chain, chat_chain = _chain(stt), _chain(chat)

    async def transcribe(route: Any) -> Any:
        return await route.provider.transcribe(_no_audio(), FORMAT, model=route.model)

    async def direct_call() -> None:
        await stt.transcribe(_no_audio(), FORMAT, model="m")

    async def routed_call() -> None:
        await router.call(stt_chain, transcribe)

    def open_stream(route: Any) -> AsyncIterator[Any]:
        return route.provider.stream_chat(REQUEST)

    async def direct_stream() -> None:
        async for _ in chat.stream_chat(REQUEST):
            pass

    async def routed_stream() -> None:
        async for _ in router.stream(chat_chain, open_stream):
            pass

    one_shot = _summary(*await _measure(calls, direct_call, routed_call))
    stream = _summary(*await _measure(calls, direct_stream, routed_stream))
    assert attempts == 2 * (calls + WARMUP), "every routed call reports one attempt"
    assert list(router.snapshot()) == ["primary"], "the backup route was never needed"
    return {"one_shot": one_shot, "stream": stream}


def _markdown(data: dict[str, Any]) -> str:
    one, stream, env = data["one_shot"], data["stream"], data["environment"]

    def verdict(value: float) -> str:
        return "met" if value < TARGET_P95_US else "MISSED"

    rows = [
        ("one-shot overhead p50", one["overhead_us_p50"], "", ""),
        (
            "one-shot overhead p95",
            one["overhead_us_p95"],
            "< 1,000",
            verdict(one["overhead_us_p95"]),
        ),
        (f"stream ({STREAM_DELTAS} deltas) overhead p50", stream["overhead_us_p50"], "", ""),
        (
            f"stream ({STREAM_DELTAS} deltas) overhead p95",
            stream["overhead_us_p95"],
            "< 1,000",
            verdict(stream["overhead_us_p95"]),
        ),
    ]
    lines = [
        "# Routing overhead",
        "",
        f"Router overhead per call over {data['calls']:,} calls to a zero-latency in-memory "
        "provider (routed minus direct, same percentile), two-route chain, default time-outs, "
        "`on_attempt` wired.",
        "",
        "| metric | measured (µs) | target (µs) | |",
        "|---|---:|---:|---|",
        *(f"| {name} | {value:.1f} | {target} | {ok} |" for name, value, target, ok in rows),
        "",
        "| call | direct p50 | direct p95 | routed p50 | routed p95 |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {kind} | {s['direct_us_p50']:.1f} | {s['direct_us_p95']:.1f} "
            f"| {s['routed_us_p50']:.1f} | {s['routed_us_p95']:.1f} |"
            for kind, s in (("one-shot", one), ("stream", stream))
        ),
        "",
        f"Python {env['python']} ({env['implementation']}), {env['machine']}, "
        f"{env['cores']} cores, {env['platform']}; {data['duration_s']} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    started = time.perf_counter()
    measured = asyncio.run(_bench(calls))
    one, stream = measured["one_shot"], measured["stream"]
    data: dict[str, Any] = {
        "benchmark": "routing",
        "calls": calls,
        "router_overhead_us_p50": one["overhead_us_p50"],
        "router_overhead_us_p95": one["overhead_us_p95"],
        "stream_router_overhead_us_p50": stream["overhead_us_p50"],
        "stream_router_overhead_us_p95": stream["overhead_us_p95"],
        "stream_deltas": STREAM_DELTAS,
        "target_us_p95": TARGET_P95_US,
        "target_met": max(one["overhead_us_p95"], stream["overhead_us_p95"]) < TARGET_P95_US,
        **measured,
        "environment": environment(),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    json_path, md_path = write_results("routing", data, _markdown(data))
    print(_markdown(data))
    print(f"wrote {json_path.relative_to(json_path.parents[2])} and {md_path.name}")
    return 0 if data["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
