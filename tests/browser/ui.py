"""Driving Home Assistant's real frontend with Playwright, as a user clicks through it.

Texts Anima defines come from its English translations (`anima_text("config.step.wyoming.title")`)
and preset names from `PRESETS`, so a changed label needs no change in the tests; a renamed key
is a one-line change at its one use. Texts Home Assistant's frontend defines are in `HA_TEXT`;
the names the walk gives its profiles are in `NAMES`, and what their entities are called on
screen comes from Anima's own `profile_name` (`shown`).

Home Assistant renders a dialog's content into slots of a `role=dialog` element inside shadow
roots: its fields and texts are found from the dialog's host element (`dialog-data-entry-flow`,
...), its title in its accessibility tree, and screenshots are taken of the `role=dialog`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import json
from pathlib import Path
import re
from typing import Any

from playwright.async_api import Locator, Page, Route, expect

from custom_components.anima.core.profiles import profile_name

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "custom_components" / "anima" / "translations" / "en.json"

# The frontend's own texts (Home Assistant 2026.11, English).
HA_TEXT = {
    "username": "Username",
    "password": "Password",
    "log_in": "Log in",
    "add_integration": "Add integration",
    "search_brand": "Search for a brand name",
    "submit": "Submit",
    "name_and_assign": "Name and assign",
    "skip_and_finish": "Skip and finish",
    "success": "Success",
    "finish": "Finish",
    "chain_add": "Add",
    "configure": "Configure",
    "close": "Close",
    "add_assistant": "Add assistant",
    "assistant_name": "Name",
    "conversation_agent": "Conversation agent",
    "speech_to_text": "Speech-to-text",
    "text_to_speech": "Text-to-speech",
    "create": "Create",
    "set_preferred": "Set as preferred",
    "assist": "Assist (A)",
    "enter_request": "Enter a request",
    "add_trigger": "Add trigger",
    "add_action": "Add action",
    "by_type": "By type",
    "device": "Device",
    "select_device": "Device Select a device",
    "trigger": "Trigger",
    "action": "Action",
    "search": "Search",
    "save": "Save",
    "required_name": "Name*",
    "import_blueprint": "Import blueprint",
    "blueprint_address": "Blueprint address",
    "preview": "Preview",
    "overflow_menu": "Overflow menu",
    "create_automation": "Create automation",
}

# The names the walk gives its profiles and its pipeline.
NAMES = {
    "agent": "Assistant",
    "listener": "Listener",
    "voice": "Voice",
    "pipeline": "Anima",
}


def shown(kind: str) -> str:
    """What the walk's profile of `kind` is called on screen ("Anima Voice")."""
    return profile_name(kind, NAMES[kind])


TRANSPARENT_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def anima_text(key: str, **placeholders: str) -> str:
    """Anima's English text at a dotted key of translations/en.json, placeholders filled."""
    node: Any = json.loads(TRANSLATIONS.read_text())
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"{key} is not a text")
    return node.format(**placeholders) if placeholders else node


def fetched_from_internet(base_url: str) -> Callable[[str], bool]:
    """Which URLs the frontend would fetch from the internet, directly or through Home
    Assistant's brand image proxy (every brand but Anima's, which it serves from its folder)."""

    def outside(url: str) -> bool:
        if not url.startswith(base_url):
            return True
        return "/api/brands/" in url and "/anima/" not in url

    return outside


async def offline(route: Route) -> None:
    """Answer what would come from the internet: nothing leaves, images stay blank."""
    if route.request.resource_type == "image":
        await route.fulfill(status=200, content_type="image/png", body=TRANSPARENT_PNG)
    else:
        await route.abort()


class HassUI:
    """One logged-in browser page on a Home Assistant, with the steps a user takes."""

    def __init__(self, page: Page, base_url: str, screenshots: Path) -> None:
        self.page, self.base_url, self.screenshots = page, base_url, screenshots

    async def goto(self, path: str) -> None:
        """Open a page of the frontend."""
        await self.page.goto(self.base_url + path)

    async def log_in(self, credentials: Mapping[str, str]) -> None:
        """Log in through Home Assistant's login page and wait for the dashboard."""
        await self.goto("/")
        await self.page.get_by_role("textbox", name=HA_TEXT["username"]).fill(
            credentials["username"]
        )
        await self.page.get_by_role("textbox", name=HA_TEXT["password"]).fill(
            credentials["password"]
        )
        await self.page.get_by_role("button", name=HA_TEXT["log_in"]).click()
        await self.page.wait_for_url(re.compile(r"/home"))

    @property
    def flow(self) -> Locator:
        """The config, options or subentry flow dialog's host (for its fields and texts)."""
        return self.page.locator("dialog-data-entry-flow")

    @property
    def dialog(self) -> Locator:
        """The flow's dialog as it shows (for its title and screenshots)."""
        return self.flow.get_by_role("dialog").first  # later ones: pickers inside the form

    def textbox(self, label: str) -> Locator:
        """A text field of the open flow, by its label."""
        return self.flow.get_by_role("textbox", name=label)

    async def expect_dialog_title(self, title: str) -> None:
        """Wait until the open dialog's title reads `title`."""
        await expect(self.dialog).to_match_aria_snapshot(
            f"- banner:\n  - text: {json.dumps(title)}"
        )

    async def close_dialog(self, host: Locator | None = None) -> None:
        """Close the dialog of `host` (default: the flow's) and wait until it is gone."""
        host = host or self.flow
        await host.get_by_role("button", name=HA_TEXT["close"]).click()
        await expect(host.get_by_role("dialog")).to_have_count(0)

    def entity_row(self, name: str) -> Locator:
        """The row of a device page's entity called `name` (it shows the entity's state)."""
        return self.page.locator("hui-generic-entity-row").filter(has_text=name)

    async def submit(self) -> None:
        """Press the flow's Submit button."""
        await self.flow.get_by_role("button", name=HA_TEXT["submit"]).click()

    async def start_anima_flow(self) -> None:
        """Settings -> Devices & services -> Add integration -> Anima."""
        await self.goto("/config/integrations/dashboard")
        await self.page.get_by_role("button", name=HA_TEXT["add_integration"]).click()
        await self.page.get_by_placeholder(HA_TEXT["search_brand"]).fill("Anima")
        await self.page.get_by_role("button", name="Anima", exact=True).click()
        await self.expect_dialog_title(anima_text("config.step.user.title"))

    async def choose_menu(self, option: str) -> None:
        """Choose an option of the flow's menu step (`option` is its menu_options key)."""
        label = anima_text(f"config.step.user.menu_options.{option}")
        await self.flow.get_by_text(label, exact=True).click()

    async def skip_naming(self) -> None:
        """The "Name and assign" step after a new entry: keep the names, finish."""
        await self.expect_dialog_title(HA_TEXT["name_and_assign"])
        await self.page.get_by_role("button", name=HA_TEXT["skip_and_finish"]).click()

    async def add_to_chain(self, label: str, want: str) -> None:
        """Add the first option containing `want` to the chain field labelled `label`."""
        await (
            self.flow.get_by_role("toolbar", name=label)
            .get_by_role("button", name=HA_TEXT["chain_add"], exact=True)
            .click()
        )
        picker = self.page.get_by_role("dialog", name=label)  # named after its field
        await picker.get_by_role("textbox").fill(want)  # long lists are virtual: search first
        await self.page.get_by_role("option", name=want).first.click()

    async def finish_success(self) -> None:
        """The flow's "Success" step: close it."""
        await self.expect_dialog_title(HA_TEXT["success"])
        await self.page.get_by_role("button", name=HA_TEXT["finish"]).click()
        await expect(self.dialog).to_have_count(0)

    async def shot(self, name: str, *targets: Locator) -> None:
        """Save a PNG of the smallest box around `targets` as screenshots/NAME.png."""
        await self.page.mouse.move(0, 0)  # no hover highlight
        for target in targets:
            await expect(target).to_be_visible()
            await target.scroll_into_view_if_needed()  # pages scroll inside, not the window
        boxes = [box for target in targets if (box := await target.bounding_box())]
        x, y = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
        right = max(b["x"] + b["width"] for b in boxes)
        bottom = max(b["y"] + b["height"] for b in boxes)
        clip = {"x": x, "y": y, "width": right - x, "height": bottom - y}
        await self.page.screenshot(path=self.screenshots / f"{name}.png", clip=clip)
