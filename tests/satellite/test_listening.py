"""Listening on the hub's request (`anima-listen`): which transcript answers a request, and what
the hub hears when the satellite cannot listen. The whole loop (Home Assistant's pipeline, a
live microphone, Whisper) runs in tests/e2e/test_coordination.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from functools import partial

import pytest
import pytest_asyncio

from anima_satellite.endpoint_service import ServiceSettings, serve
from anima_satellite.listening import ListenRequests, NotHeardError
from anima_satellite.satellite import SatelliteSettings, listen
from custom_components.anima.protocol import EndpointError, new_key, parse_key
from custom_components.anima.providers.endpoint import EndpointClient
from scripts.hassctl import free_port

KEY = new_key()


async def test_the_transcript_of_the_requests_own_pipeline_answers_it() -> None:
    requests = ListenRequests()
    asked = asyncio.create_task(requests.ask(respond=False))
    await asyncio.sleep(0)
    requests.heard("the end of an earlier turn")  # its pipeline has not started yet
    assert requests.take() is False  # the microphone loop starts it: transcribe only
    assert requests.take() is None  # once
    requests.heard("Yes please.")
    assert await asyncio.wait_for(asked, 1) == "Yes please."


async def test_a_newer_request_replaces_an_older_one_and_errors_fail_it() -> None:
    requests = ListenRequests()
    older = asyncio.create_task(requests.ask(respond=True))
    await asyncio.sleep(0)
    newer = asyncio.create_task(requests.ask(respond=True))
    await asyncio.sleep(0)
    with pytest.raises(NotHeardError) as replaced:
        await asyncio.wait_for(older, 1)
    assert replaced.value.code == "replaced"
    assert requests.take() is True
    requests.failed("not_heard", "no speech")  # Home Assistant's pipeline heard nothing
    with pytest.raises(NotHeardError) as failed:
        await asyncio.wait_for(newer, 1)
    assert failed.value.code == "not_heard"


@pytest_asyncio.fixture
async def service_of(socket_enabled: None) -> AsyncIterator[partial[EndpointClient]]:
    """An endpoint service with the satellite's `listen`; its client (paired) by timeout."""
    satellite = SatelliteSettings(name="Office")  # Home Assistant has not connected to it
    settings = ServiceSettings("Office", parse_key(KEY), listen=partial(listen, satellite))
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.1)
    yield partial(EndpointClient, "127.0.0.1", port, key=KEY)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_satellite_home_assistant_has_not_connected_cannot_listen(
    service_of: partial[EndpointClient],
) -> None:
    with pytest.raises(EndpointError) as refused:
        await service_of().listen(respond=True, timeout=5)
    assert refused.value.code == "cannot_listen"
