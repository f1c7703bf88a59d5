"""Fixtures of the wire client tests: an aiohttp session, and a client of the fake service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from custom_components.anima.providers.openai_compat import OpenAICompatClient
from tests.fakes.openai_server import FakeOpenAIServer


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(openai_server: FakeOpenAIServer, session: aiohttp.ClientSession) -> OpenAICompatClient:
    """Anima's client of the fake OpenAI-compatible service."""
    return OpenAICompatClient(session, openai_server.base_url, openai_server.api_key)
