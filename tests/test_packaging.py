"""What HACS and Home Assistant read from the repository must be complete and consistent."""

from __future__ import annotations

import json
from pathlib import Path
import re

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as ha_version
from PIL import Image

from custom_components.anima.config_flow import _error_key
from custom_components.anima.const import KIND_OPENAI, KIND_WYOMING
from custom_components.anima.core.endpoints import Permission
from custom_components.anima.device_action import ANNOUNCE, ASK, MESSAGE, MESSAGE_CLASS, QUESTION
from custom_components.anima.device_trigger import SENTENCE, TRIGGERS
from custom_components.anima.providers import base

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "anima"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_manifest_is_what_hacs_and_home_assistant_need() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    assert manifest["domain"] == "anima"
    assert manifest["config_flow"] is True
    for key in ("name", "version", "iot_class", "integration_type", "codeowners", "documentation"):
        assert manifest[key], key
    # Only exact pins, so an install is reproducible.
    assert all(
        re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in manifest["requirements"]
    )


def test_hacs_minimum_version_is_one_the_tests_run_on() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert hacs["name"] == "Anima"
    assert hacs["render_readme"] is True
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)


def test_brand_icons_are_square_pngs_of_the_brand_sizes() -> None:
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        with Image.open(INTEGRATION / "brand" / name) as image:
            assert image.format == "PNG"
            assert image.size == (size, size)


def test_english_translations_are_the_strings() -> None:
    assert _json(INTEGRATION / "translations" / "en.json") == _json(INTEGRATION / "strings.json")


def test_every_error_a_user_can_meet_has_a_message() -> None:
    strings = _json(INTEGRATION / "strings.json")
    errors = strings["config"]["error"]
    exceptions = strings["exceptions"]
    provider_errors = [
        cls
        for cls in vars(base).values()
        if isinstance(cls, type) and issubclass(cls, base.ProviderError)
    ]
    for cls in provider_errors:
        assert cls.translation_key in exceptions, cls
        for kind in (KIND_OPENAI, KIND_WYOMING):
            error = cls.__new__(cls)
            assert _error_key(error, kind) in errors, (cls, kind)


def test_every_translation_key_in_the_code_has_its_string() -> None:
    """Errors, repair issues and look errors name keys; each must exist in strings.json."""
    strings = _json(INTEGRATION / "strings.json")
    code = "\n".join(path.read_text() for path in INTEGRATION.rglob("*.py"))
    exceptions = set(strings["exceptions"])
    issues = set(strings["issues"])
    selectors = set(strings["selector"])
    entities = {key for platform in strings["entity"].values() for key in platform}
    for key in re.findall(r'translation_key="([a-z_]+)"', code):
        assert key in exceptions | issues | selectors | entities, key
    for key in re.findall(r'^    translation_key = "([a-z_]+)"', code, re.M):
        assert key in exceptions, key  # the translation keys of error classes
    for key in re.findall(r'_attr_translation_key = "([a-z_]+)"', code):
        assert key in entities, key
    assert {"cost_day", "cost_month"} <= entities  # translation_key=f"cost_{period}"
    for key in re.findall(r'(?:LookError|ReachError)\(\s*"([a-z_]+)"', code):
        assert key in exceptions, key
    for permission in Permission:  # ReachError(f"refused_{permission.name.lower()}")
        assert f"refused_{permission.name.lower()}" in exceptions
    for code_name in ("empty", "not_an_image", "too_large"):  # LookError(f"frame_{err.code}")
        assert f"frame_{code_name}" in exceptions
    for level in ("warning", "exceeded"):  # translation_key=f"budget_{status.level}"
        assert f"budget_{level}" in issues
    assert {"missing_connection", "new_satellite"} <= issues


def test_every_action_is_described() -> None:
    services = (INTEGRATION / "services.yaml").read_text()
    strings = _json(INTEGRATION / "strings.json")["services"]
    icons = _json(INTEGRATION / "icons.json")["services"]
    for name in (
        "lift_budget",
        "describe",
        "ask",
        "play_earcon",
        "announce",
        "ask_endpoint",
        "ask_agent",
        "handoff",
    ):
        assert f"{name}:" in services
        assert strings[name]["name"]
        assert name in icons


def test_every_device_trigger_and_action_is_translated() -> None:
    strings = _json(INTEGRATION / "strings.json")["device_automation"]
    assert set(strings["trigger_type"]) == set(TRIGGERS)
    assert set(strings["action_type"]) == {ANNOUNCE, ASK}
    assert set(strings["extra_fields"]) == {SENTENCE, MESSAGE, MESSAGE_CLASS, QUESTION}
