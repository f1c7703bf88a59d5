#!/usr/bin/env python3
"""Drive a real Home Assistant process: config dir, start, onboarding, REST config flows, stop.

Used by the end-to-end tests (tests/e2e) and scripts/develop; standard library and aiohttp only,
so it runs under .venv and .venv-hass alike.

    async with HassProcess(config_dir, port=18123) as hass:
        result = await hass.config_flow("anima", [{"next_step_id": "wyoming"}, {...}])
        print(await hass.entries("anima"))

Command line: `token` prints an access token for a running instance (for curl). scripts/develop
runs its house through develop_house.py.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
import json
import os
from pathlib import Path
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Self

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HASS = ROOT / ".venv-hass" / "bin" / "hass"
CREDENTIALS_FILE = "anima-dev-credentials.json"  # in the config dir: {"username", "password"}
LOG_FILE = "hassctl.log"  # in the config dir: the process's stdout and stderr
CONFIGURATION = """\
# Written once by scripts/hassctl.py; edit freely. No default_config: it fails offline (go2rtc).
# No http: since 2026.11 Home Assistant moves it to .storage/http once, as a trial that reverts
# to port 8123 (and restarts) after 5 minutes; hassctl writes the port there at every start.
homeassistant: {name: Anima, latitude: 52.37, longitude: 4.89, elevation: 0, unit_system: metric,
  time_zone: Europe/Amsterdam, country: NL, currency: EUR}
api:
config:
conversation:
assist_pipeline:
"""

ONBOARDING_STEPS = ("core_config", "analytics", "integration")  # the ones after "user"
HTTP_STORE = {"version": 3, "minor_version": 1, "key": "http"}
HTTP_DEFAULTS = json.loads(  # what Home Assistant 2026.11 stores for an empty http: section
    '{"cors_allowed_origins": ["https://cast.home-assistant.io"], "login_attempts_threshold": -1,'
    ' "ip_ban_enabled": true, "ssl_profile": "intermediate_v6", "use_x_frame_options": true,'
    ' "created_at": "2026-01-01T00:00:00+00:00", "error": null, "error_message": null}'
)


class HassError(RuntimeError):
    """Home Assistant did not start, answer or behave as expected."""


class HassHTTPError(HassError):
    """A request got an HTTP error status (in `status`)."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500]}")
        self.status = status


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(config_dir: Path, port: int, host: str = "127.0.0.1", extra: str = "") -> None:
    """Create or refresh a config dir (an existing configuration.yaml and credentials stay)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    http = config_dir / ".storage" / "http"  # Home Assistant's own store, version 3
    stored = json.loads(http.read_text()) if http.exists() else {**HTTP_STORE, "data": {}}
    stable = stored["data"].get("stable", HTTP_DEFAULTS)
    stored["data"] |= {"pending": None, "yaml_migration_done": True}
    stored["data"]["stable"] = stable | {"server_port": port, "server_host": [host]}
    http.parent.mkdir(exist_ok=True)
    http.write_text(json.dumps(stored, indent=2))
    if not (config_dir / "configuration.yaml").exists():
        (config_dir / "configuration.yaml").write_text(CONFIGURATION + extra)
    link, target = config_dir / "custom_components" / "anima", ROOT / "custom_components" / "anima"
    link.parent.mkdir(exist_ok=True)
    if link.is_symlink() and link.resolve() != target:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(target, target_is_directory=True)
    if not (credentials := config_dir / CREDENTIALS_FILE).exists():
        credentials.touch(mode=0o600)
        credentials.write_text(json.dumps({"username": "dev", "password": secrets.token_hex(6)}))


class HassProcess:
    """One `hass -c CONFIG_DIR` process in its own process group, driven over REST."""

    def __init__(
        self,
        config_dir: Path | str,
        *,
        port: int = 8123,
        host: str = "127.0.0.1",
        hass_bin: Path | str = DEFAULT_HASS,
        extra_config: str = "",
        complete_onboarding: bool = False,
        start_timeout: float = 300,
    ) -> None:
        self.config_dir, self.port, self.host = Path(config_dir).resolve(), port, host
        self.hass_bin, self.extra_config = Path(hass_bin), extra_config
        self.complete_onboarding, self.start_timeout = complete_onboarding, start_timeout
        wildcard = host in ("0.0.0.0", "::")  # noqa: S104 - only picks the address to connect to
        self.base_url = f"http://{'127.0.0.1' if wildcard else host}:{port}"
        self.token: str | None = None
        self.open_flows: set[str] = set()  # flows config_flow left at a form or menu
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def credentials(self) -> dict[str, str]:
        """The dev user's username and password, kept in the config dir."""
        return dict(json.loads((self.config_dir / CREDENTIALS_FILE).read_text()))

    @property
    def pid(self) -> int | None:
        """The process id of the hass this object started (None before it started)."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the process this object started is still alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the process's output, for error messages."""
        with suppress(OSError):
            text = (self.config_dir / LOG_FILE).read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    async def start(self) -> None:
        """Write the config dir, start hass, onboard or log in, wait for RUNNING."""
        if self._proc is not None:
            raise HassError("already started")
        write_config(self.config_dir, self.port, self.host, self.extra_config)
        command = [str(self.hass_bin), "-c", str(self.config_dir)]
        if shutil.which("setpriv"):  # hass gets SIGTERM should this process die without cleanup
            command = ["setpriv", "--pdeathsig", "TERM", "--", *command]
        with (self.config_dir / LOG_FILE).open("ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603, ASYNC220 - works from any event loop
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        atexit.register(self.kill)
        deadline = time.monotonic() + self.start_timeout
        try:
            await self._wait(deadline, "frontend (so auth and onboarding)", self._http_up)
            await self.login()
            await self._wait(deadline, 'state "RUNNING"', self._is_running)
        except BaseException:
            await self.stop()
            raise

    async def _wait(self, deadline: float, what: str, check: Callable[[], Awaitable[bool]]) -> None:
        while not await check():
            if not self.running:
                raise HassError(f"hass exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise HassError(f"no {what} after {self.start_timeout:.0f} s:\n{self.log_tail()}")
            await asyncio.sleep(0.25)

    async def _http_up(self) -> bool:
        with suppress(aiohttp.ClientError, HassHTTPError, TimeoutError):
            return bool(await self.request("GET", "/manifest.json", auth=False))
        return False

    async def _is_running(self) -> bool:
        return bool((await self.request("GET", "/api/config"))["state"] == "RUNNING")

    async def login(self) -> None:
        """Get an access token: onboard the dev user if nobody is, else log in as the dev user."""
        client_id, creds = self.base_url + "/", self.credentials
        redirect_uri = client_id + "?auth_callback=1"
        try:
            steps = await self.request("GET", "/api/onboarding", auth=False)
        except HassHTTPError as err:  # 404: onboarding finished, its views are gone
            if err.status != 404:
                raise
            steps = [{"step": step, "done": True} for step in ("user", *ONBOARDING_STEPS)]
        if not any(step["step"] == "user" and step["done"] for step in steps):
            user = {"client_id": client_id, "name": "Developer", "language": "en", **creds}
            code = (await self.request("POST", "/api/onboarding/users", user, False))["auth_code"]
        else:
            login = {"client_id": client_id, "redirect_uri": redirect_uri}
            login["handler"] = ["homeassistant", None]  # type: ignore[assignment]
            flow = await self.request("POST", "/auth/login_flow", login, False)
            path, answer = f"/auth/login_flow/{flow['flow_id']}", {"client_id": client_id, **creds}
            result = await self.request("POST", path, answer, False)
            if result["type"] != "create_entry":
                raise HassError(f"login as {creds['username']!r} failed: {result}")
            code = result["result"]
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        tokens = await self.request("POST", "/auth/token", auth=False, form=form)
        self.token = tokens["access_token"]
        if self.complete_onboarding:  # the steps a user clicks through in the browser after this
            done = {step["step"] for step in steps if step["done"]}
            bodies = {"integration": {"client_id": client_id, "redirect_uri": redirect_uri}}
            for step in ONBOARDING_STEPS:
                if step not in done:
                    await self.request("POST", f"/api/onboarding/{step}", bodies.get(step, {}))

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        auth: bool = True,
        *,
        form: Mapping[str, str] | None = None,
    ) -> Any:
        """Call the REST API; return the decoded JSON (None when empty). Errors raise."""
        data = await self.request_bytes(method, path, body, auth, form=form)
        return json.loads(data) if data else None

    async def request_bytes(
        self,
        method: str,
        path: str,
        body: Any = None,
        auth: bool = True,
        *,
        form: Mapping[str, str] | None = None,
    ) -> bytes:
        """Call the REST API; return the body as it came (audio, say). Errors raise."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
                session.request(
                    method, self.base_url + path, json=body, data=form, headers=headers
                ) as resp,
            ):
                data = await resp.read()
            if resp.status == 401 and auth and attempt == 1:  # the access token expired (30 min)
                await self.login()
                continue
            if resp.status >= 400:
                raise HassHTTPError(resp.status, method, path, data.decode(errors="replace"))
            break
        return data

    async def config_flow(self, handler: str, steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Start a config flow, submit each step in turn, return the last result."""
        url = "/api/config/config_entries/flow"
        result = await self.request(
            "POST", url, {"handler": handler, "show_advanced_options": False}
        )
        for step in steps:
            if result.get("type") not in ("form", "menu"):
                raise HassError(f"flow {handler} ended before step {dict(step)}: {result}")
            self.open_flows.add(result["flow_id"])
            result = await self.request("POST", f"{url}/{result['flow_id']}", step)
        if result.get("type") in ("form", "menu"):
            self.open_flows.add(result["flow_id"])
        else:
            self.open_flows.discard(result.get("flow_id", ""))
        return dict(result)

    async def subentry_flow(
        self, entry_id: str, kind: str, choose: Callable[[dict[str, Any]], Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Add a subentry: `choose` gets the form and returns what to submit."""
        url = "/api/config/config_entries/subentries/flow"
        form = await self.request("POST", url, {"handler": [entry_id, kind]})
        if form.get("type") != "form":
            return dict(form)
        self.open_flows.add(form["flow_id"])
        result = await self.request("POST", f"{url}/{form['flow_id']}", choose(form))
        self.open_flows.discard(form["flow_id"])
        return dict(result)

    async def websocket(self, message: Mapping[str, Any]) -> Any:
        """Send one websocket command; return its result (errors raise)."""
        url = self.base_url.replace("http", "ws", 1) + "/api/websocket"
        for attempt in (1, 2):
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                await ws.receive_json()  # auth_required
                await ws.send_json({"type": "auth", "access_token": self.token})
                if (await ws.receive_json()).get("type") != "auth_ok":
                    if attempt == 1:  # the access token expired (30 min)
                        await self.login()
                        continue
                    raise HassError("websocket authentication failed")
                await ws.send_json({"id": 1, **message})
                while (reply := await ws.receive_json()).get("id") != 1:
                    pass
                break
        if not reply.get("success"):
            raise HassError(f"websocket {message.get('type')}: {reply.get('error')}")
        return reply.get("result")

    async def entries(self, domain: str = "anima") -> list[dict[str, Any]]:
        """The config entries of a domain (entry_id, title, state, reason, ...)."""
        return list(await self.request("GET", f"/api/config/config_entries/entry?domain={domain}"))

    async def stop(self, timeout: float = 30) -> None:
        """Ask hass to stop; SIGTERM, then SIGKILL, its process group if it does not. Reaps it."""
        try:
            graceful = 0.0
            if self.running and self.token:
                with suppress(aiohttp.ClientError, HassError, TimeoutError):
                    await self.request("POST", "/api/services/homeassistant/stop", {})
                    graceful = timeout
            for sig, wait in ((None, graceful), (signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
                if sig and self._proc and self.running:
                    with suppress(ProcessLookupError):
                        os.killpg(self._proc.pid, sig)
                await self.wait_exit(wait)
        finally:
            self.kill()

    async def wait_exit(self, timeout: float = float("inf")) -> bool:
        """Wait until the process exits or the timeout passes; return whether it exited."""
        end = time.monotonic() + timeout
        while self.running and time.monotonic() < end:  # noqa: ASYNC110 - Popen is not awaitable
            await asyncio.sleep(0.1)
        return not self.running

    def kill(self) -> None:
        """Kill the process group at once and reap the process (synchronous; idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.kill)
            with suppress(ProcessLookupError):  # also what hass left in its group
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def select_options(form: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    """The (value, label) pairs a form's select field `name` offers."""
    field = next(f for f in form["data_schema"] if f["name"] == name)
    return [(o["value"], o["label"]) for o in field["selector"]["select"]["options"]]


def chain_options(form: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (value, label) pairs a profile form offers for its chain."""
    return select_options(form, "chain")


async def token(args: argparse.Namespace) -> int:
    """Print a fresh access token for the running instance (log in as the dev user)."""
    hass = HassProcess(args.config, port=args.port, host=args.host)
    await hass.login()
    print(hass.token)
    return 0


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=["token"])
    parser.add_argument("--config", type=Path, default=ROOT / ".develop" / "config")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--host", default="127.0.0.1", help="the address hass listens on")
    args = parser.parse_args()
    return asyncio.run(token(args))


if __name__ == "__main__":
    sys.exit(main())
