"""What the satellite tests share: waiting for a real server to listen, a process's memory."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re


async def until_listening(port: int, seconds: float = 20) -> None:
    """Wait until something accepts connections on the loopback port."""
    async with asyncio.timeout(seconds):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


def rss_mib(pid: int) -> float:
    """The resident memory of a process (Linux), in MiB."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert match is not None
    return int(match[1]) / 1024
