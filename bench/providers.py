"""Simulated cloud providers in a process of their own, for the latency benchmark.

    python -m bench.providers

One fake OpenAI-compatible service (tests/fakes/openai_server.py: real HTTP, SSE, the wire
format of api.openai.com, Chat Completions for Anima and the Responses API for Home Assistant's
own OpenAI integration) answering with the profile's scripted latency: a transcript `asr_ms`
after the upload, the answer's first token after `first_token_ms` then `tokens_per_s`, speech's
first audio after `tts_first_ms` then `SPEECH_SPEEDUP` times faster than it plays. Its own
process, so a benchmark of many satellites measures Home Assistant and Anima, not a simulator
starved of the same event loop.

It prints `ready <port> <control port>` once listening. `POST /script` on the control port
with {"profile": <name>, "answer": "short" | "long"} picks the profile, the question heard and
the answer given from then on (bench/latency_profiles.py). It runs until stdin closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sys
from typing import Any

from aiohttp import web

from bench.latency_profiles import ANSWERS, PROFILES, QUESTIONS, SPEECH_SPEEDUP, answer
from tests.fakes.openai_server import SPEECH_RATE, Endpoint, FakeOpenAIServer, Reply, tone

#: Bytes of speech per chunk: a tenth of a second of PCM (the service's chunks are bytes).
SPEECH_CHUNK = SPEECH_RATE * 2 // 10


class Script:
    """What the service hears and answers now, with the profile's timing."""

    def __init__(self) -> None:
        """Answer at once, short answers, until told otherwise."""
        self.profile, self.answer = PROFILES["zero"], "short"
        self.answers = 0

    def reply(self, endpoint: Endpoint, body: dict[str, Any]) -> Reply:
        """The reply to one request."""
        profile = self.profile
        if endpoint == "transcriptions":
            return Reply.text(QUESTIONS[self.answer], first_token_delay=profile.asr_ms / 1000)
        if endpoint == "speech":
            pcm = tone(max(0.2, 0.05 * len(str(body.get("input", "")))))
            return dataclasses.replace(
                Reply.audio(pcm, chunk_size=SPEECH_CHUNK),
                first_token_delay=profile.tts_first_ms / 1000,
                speech_speedup=SPEECH_SPEEDUP if profile.tts_first_ms else 0.0,
            )
        self.answers += 1
        return profile.paced(Reply.text(answer(self.answer, self.answers)))


async def serve() -> None:
    """Serve until stdin closes."""
    script = Script()
    server = FakeOpenAIServer()
    server.responder = script.reply
    await server.start()

    async def choose(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("answer") not in ANSWERS or body.get("profile") not in PROFILES:
            return web.json_response({"error": "unknown answer or profile"}, status=400)
        script.profile, script.answer = PROFILES[body["profile"]], body["answer"]
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/script", choose)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    print(f"ready {server.port} {sock.getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes it
    await runner.cleanup()
    await server.close()


def main() -> None:
    """Run the provider service."""
    asyncio.run(serve())


if __name__ == "__main__":
    main()
