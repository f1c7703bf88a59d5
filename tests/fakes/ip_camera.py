"""An IP camera's snapshot URL on loopback that answers slowly, or not at all.

    async with ip_camera(delay=60) as (url, asked):   # a camera that hangs
        ... Home Assistant's MJPEG camera with `url` as its still image URL ...
        assert len(asked) == 1                          # when each snapshot was asked for

Each snapshot is a real JPEG, sent `delay` seconds after it was asked for (or at once when the
block ends, so nothing is left waiting).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import io

from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image


@contextlib.asynccontextmanager
async def ip_camera(delay: float) -> AsyncIterator[tuple[str, list[float]]]:
    """Serve snapshots `delay` seconds late; yield the URL and when each was asked for (the
    event loop's clock)."""
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 90, 30)).save(buffer, "JPEG")
    asked: list[float] = []
    closing = asyncio.Event()

    async def snapshot(request: web.Request) -> web.Response:
        asked.append(asyncio.get_running_loop().time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), delay)
        return web.Response(body=buffer.getvalue(), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/snapshot.jpg", snapshot)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/snapshot.jpg")), asked
    finally:
        closing.set()
        await server.close()
