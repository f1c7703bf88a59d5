"""Every board file validates and generates code with the real ESPHome, offline.

Board files name upstream wake-word models (`model: okay_nabu`) as users flash them. ESPHome
downloads such a model from GitHub at validation time and serves a cached copy when the
download fails; each test fills that cache in a temporary copy of the firmware tree from the
models the PyPI package `pymicro-wakeword` ships, at the path ESPHome itself computes.

ESPHome always revalidates an http-sourced model (a HEAD request; no refresh interval applies,
so a fresh mtime does not skip it). To make that attempt fail at once and the same way on every
machine, the ESPHome processes get a malformed proxy URL: `requests` rejects it before any
socket opens, and ESPHome does not retry such an error. Without it, a network that refuses or
drops connections costs about 12 s of retries per run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import hashlib
import importlib.util
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import time
from typing import Any
import wave

import pytest
import yaml

from custom_components.anima.core.speech.earcons import (
    SAMPLE_RATE as EARCON_RATE,
    Earcon,
    earcon_pcm,
)

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware" / "esphome"
ESPHOME_VENV = ROOT / ".venv-esphome"
ESPHOME = ESPHOME_VENV / "bin" / "esphome"
ESPHOME_PYTHON = ESPHOME_VENV / "bin" / "python"

BOARD_FILES = sorted((FIRMWARE / "boards").glob("*.yaml"))

# What each board is; the README's board table says the same.
VARIANT = {
    "esp32-s3-box-3": "ESP32S3",
    "xiao-esp32s3-sense": "ESP32S3",
    "m5stack-atom-echo": "ESP32",
    "esp32-c6-devkit": "ESP32C6",
    "esp32-p4-function-ev": "ESP32P4",
}
CAMERA_BOARDS = {"xiao-esp32s3-sense", "esp32-p4-function-ev"}
HOSTED_WIFI_BOARDS = {"esp32-p4-function-ev"}
SINGLE_I2S_BUS_BOARDS = {
    "esp32-c6-devkit",
    "m5stack-atom-echo",
    "esp32-s3-box-3",
    "esp32-p4-function-ev",
}

EARCONS = tuple(earcon.value for earcon in Earcon)  # the hub's and the satellite's

# Asks ESPHome itself how it names and caches the models pymicro-wakeword ships.
_LAYOUT_SCRIPT = """
import importlib.util, json, sys
from pathlib import Path
from esphome.core import CORE
from esphome import external_files
from esphome.components import micro_wake_word

config = Path(sys.argv[1])
CORE.config_path = config
models = Path(importlib.util.find_spec("pymicro_wakeword").submodule_search_locations[0]) / "models"
layout = {"models_dir": str(models), "models": {}}
for manifest in sorted(models.glob("*.json")):
    source = micro_wake_word._validate_source_model_name(manifest.stem)
    url = source["url"]
    cache = micro_wake_word._compute_local_file_path(source)
    layout["models"][manifest.stem] = {
        "url": url,
        "cache_dir": str(cache.relative_to(config.parent)),
        "key": external_files.url_cache_key(url),
    }
print(json.dumps(layout))
"""


@dataclass(frozen=True)
class Model:
    """One wake-word model as ESPHome caches it, relative to a board's directory."""

    name: str
    url: str
    cache_dir: str
    key: str


@dataclass(frozen=True)
class EspHome:
    """The ESPHome installation the tests run, and where its model cache lives."""

    env: dict[str, str]
    models_dir: Path
    models: dict[str, Model]

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ESPHOME), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _esphome_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The cache must sit where the test puts it; no proxy may exempt github.com.
        if key not in {"ESPHOME_DATA_DIR", "ESPHOME_IS_HA_ADDON", "NO_PROXY", "no_proxy"}
    }
    for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env[key] = "http://"  # malformed: every download fails at once, without retries
    return env


@pytest.fixture(scope="session")
def esphome() -> EspHome:
    """The `.venv-esphome` made by scripts/setup, and ESPHome's cache layout for the models."""
    if not ESPHOME.exists() or not ESPHOME_PYTHON.exists():
        pytest.fail(f"{ESPHOME} is missing: run scripts/setup (it makes .venv-esphome)")
    env = _esphome_env()
    probe = ROOT / "firmware" / "esphome" / "boards" / "probe.yaml"  # never written
    result = subprocess.run(
        [str(ESPHOME_PYTHON), "-c", _LAYOUT_SCRIPT, str(probe)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"cannot ask ESPHome for its cache layout ({result.stderr.strip()[-2000:]}); "
            "run scripts/setup (.venv-esphome needs esphome and pymicro-wakeword)"
        )
    layout = json.loads(result.stdout)
    models = {name: Model(name=name, **model) for name, model in layout["models"].items()}
    if "okay_nabu" not in models:
        pytest.fail("pymicro-wakeword ships no okay_nabu model: run scripts/setup")
    return EspHome(env=env, models_dir=Path(layout["models_dir"]), models=models)


def _fill_model_cache(esphome: EspHome, board_dir: Path) -> None:
    for model in esphome.models.values():
        cache = board_dir / model.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        manifest = esphome.models_dir / f"{model.name}.json"
        shutil.copyfile(manifest, cache / "manifest.json")
        model_file = json.loads(manifest.read_text())["model"]
        shutil.copyfile(esphome.models_dir / model_file, cache / model_file)


@pytest.fixture
def firmware_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy the firmware tree to a temporary directory; return its boards directory."""

    def make(*, fill_cache: EspHome | None) -> Path:
        tree = tmp_path / "esphome"
        shutil.copytree(FIRMWARE, tree, ignore=shutil.ignore_patterns(".esphome", "secrets.yaml"))
        boards = tree / "boards"
        shutil.copyfile(tree / "secrets.example.yaml", boards / "secrets.yaml")
        if fill_cache is not None:
            _fill_model_cache(fill_cache, boards)
        return boards

    return make


class _AnyTagLoader(yaml.SafeLoader):
    """Reads ESPHome's output, whose values carry tags such as !lambda and !secret."""


_AnyTagLoader.add_multi_constructor(
    "!",
    lambda loader, _suffix, node: (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
    ),
)


def _validated(stdout: str) -> dict[str, Any]:
    config = yaml.load(stdout, Loader=_AnyTagLoader)  # a SafeLoader that keeps tagged values
    assert isinstance(config, dict), stdout[-2000:]
    return config


def _board_id(path: Path) -> str:
    return path.stem


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stderr[-4000:]}\n{result.stdout[-4000:]}"


def test_every_board_is_described() -> None:
    assert {path.stem for path in BOARD_FILES} == set(VARIANT)


def test_cache_path_rule_is_esphome_s(esphome: EspHome) -> None:
    # The rule, written out: first 8 hex digits of sha256(url) under <config dir>/.esphome.
    for model in esphome.models.values():
        assert model.url == (
            "https://github.com/esphome/micro-wake-word-models/raw/main/models/v2/"
            f"{model.name}.json"
        )
        key = hashlib.sha256(model.url.encode()).hexdigest()[:8]
        assert model.key == key
        assert model.cache_dir == f".esphome/micro_wake_word/{key}"


def test_pymicro_wakeword_ships_no_vad_model(esphome: EspHome) -> None:
    # So the packages leave micro_wake_word's optional `vad:` out: its default model would
    # download from GitHub with nothing to serve offline.
    assert "vad" not in esphome.models
    assert "vad:" not in (FIRMWARE / "packages" / "anima-voice.yaml").read_text()


@pytest.mark.parametrize("board", BOARD_FILES, ids=_board_id)
def test_board_validates(
    board: Path,
    esphome: EspHome,
    firmware_copy: Callable[..., Path],
    record_property: Callable[[str, object], None],
) -> None:
    boards = firmware_copy(fill_cache=esphome)
    start = time.monotonic()
    result = esphome.run("config", board.name, cwd=boards)
    record_property("esphome_config_seconds", round(time.monotonic() - start, 2))
    assert result.returncode == 0, _report(result)
    assert "Configuration is valid!" in result.stderr
    assert "Retrying" not in result.stderr  # the failed model check cost no retries
    config = _validated(result.stdout)
    subs = config["substitutions"]

    assert config["esp32"]["variant"] == VARIANT[board.stem]
    # anima-voice
    models = config["micro_wake_word"]["models"]
    assert models[0]["model"] == {
        "type": "http",
        "url": esphome.models["okay_nabu"].url,  # the upstream name, as users flash it
    }
    assert config["voice_assistant"]["micro_wake_word"] == "anima_mww"
    assert config["voice_assistant"]["media_player"] == "anima_media_player"
    (player,) = config["media_player"]
    assert player["platform"] == "speaker"
    assert player["announcement_pipeline"]["speaker"] == subs["anima_speaker_id"]
    assert {file["id"] for file in player["files"]} == {f"anima_earcon_{n}" for n in EARCONS}
    assert subs["anima_led_id"] in {light["id"] for light in config["light"]}
    switches = {switch.get("name") for switch in config["switch"]}
    assert {"Wake word", "Wake sound"} <= switches
    # anima-endpoint
    actions = {action["action"]: action for action in config["api"]["actions"]}
    assert set(actions) >= {"play_earcon", "set_led"}
    assert actions["play_earcon"]["variables"]["name"]["type"] == "string"
    assert set(actions["set_led"]["variables"]) == {"red", "green", "blue", "brightness"}
    sensors = {sensor.get("name") for sensor in config["text_sensor"]}
    assert "Anima firmware version" in sensors
    assert config["esphome"]["project"]["name"] == "anima-home.anima"
    # anima-camera and the board's own parts
    assert ("esp32_camera" in config) == (board.stem in CAMERA_BOARDS)
    if board.stem in CAMERA_BOARDS:
        assert config["esp32_camera"]["name"] == "Camera"
    assert ("esp32_hosted" in config) == (board.stem in HOSTED_WIFI_BOARDS)
    buses = len(config["i2s_audio"])
    assert buses == (1 if board.stem in SINGLE_I2S_BUS_BOARDS else 2)
    assert subs["anima_half_duplex"] == ("true" if buses == 1 else "false")


@pytest.mark.parametrize("board", BOARD_FILES, ids=_board_id)
def test_board_generates_code(
    board: Path,
    esphome: EspHome,
    firmware_copy: Callable[..., Path],
    record_property: Callable[[str, object], None],
) -> None:
    boards = firmware_copy(fill_cache=esphome)
    start = time.monotonic()
    result = esphome.run("compile", "--only-generate", board.name, cwd=boards)
    record_property("esphome_generate_seconds", round(time.monotonic() - start, 2))
    assert result.returncode == 0, _report(result)
    assert "Successfully generated source code." in result.stderr
    (main_cpp,) = (boards / ".esphome" / "build").glob("*/src/main.cpp")
    code = main_cpp.read_text()
    for part in (
        "micro_wake_word::MicroWakeWord",
        "voice_assistant::VoiceAssistant",
        "speaker::SpeakerMediaPlayer",
        '"play_earcon"',
        '"set_led"',
        '"Okay Nabu"',  # the wake word of the cached manifest went into the firmware
    ):
        assert part in code, part
    assert ("esp32_camera::ESP32Camera" in code) == (board.stem in CAMERA_BOARDS)


def test_c6_with_two_i2s_buses_fails(esphome: EspHome, firmware_copy: Callable[..., Path]) -> None:
    """The check can fail: a second I2S bus on the ESP32-C6 is ESPHome's error, not ours."""
    boards = firmware_copy(fill_cache=esphome)
    board = boards / "esp32-c6-devkit.yaml"
    text = board.read_text()
    one_bus = "i2s_audio:\n  - id: c6_i2s\n"
    two_buses = "i2s_audio:\n  - id: c6_speaker_i2s\n    i2s_bclk_pin: GPIO2\n  - id: c6_i2s\n"
    speaker = "    i2s_audio_id: c6_i2s\n    i2s_dout_pin: GPIO22\n"
    assert one_bus in text
    assert speaker in text
    text = text.replace(one_bus, two_buses).replace(
        speaker, speaker.replace("c6_i2s", "c6_speaker_i2s")
    )
    board.write_text(text)
    result = esphome.run("config", board.name, cwd=boards)
    assert result.returncode != 0, _report(result)
    assert "Only 1 I2S audio ports are supported on ESP32C6" in result.stdout + result.stderr


def test_upstream_model_without_cache_fails(
    esphome: EspHome, firmware_copy: Callable[..., Path]
) -> None:
    """Without the filled cache the named model must be downloaded, which fails offline."""
    boards = firmware_copy(fill_cache=None)
    result = esphome.run("config", "m5stack-atom-echo.yaml", cwd=boards)
    assert result.returncode != 0, _report(result)
    assert f"Could not download from {esphome.models['okay_nabu'].url}" in (
        result.stdout + result.stderr
    )


def test_board_file_as_a_package_of_a_user_s_device(
    esphome: EspHome, firmware_copy: Callable[..., Path], tmp_path: Path
) -> None:
    """What the README's remote form does, minus the git fetch: a user's own device file in its
    own directory takes a board file as a package and overrides the name and the wake word.
    Secrets come from the user's directory; the earcons are found next to the package."""
    boards = firmware_copy(fill_cache=None)
    (boards / "secrets.yaml").unlink()
    user = tmp_path / "user"
    user.mkdir()
    shutil.copyfile(FIRMWARE / "secrets.example.yaml", user / "secrets.yaml")
    _fill_model_cache(esphome, user)
    (user / "kitchen.yaml").write_text(
        "substitutions:\n"
        "  name: kitchen-echo\n"
        "  anima_wake_word: hey_jarvis\n"
        "packages:\n"
        f"  anima: !include {boards / 'm5stack-atom-echo.yaml'}\n"
    )
    result = esphome.run("config", "kitchen.yaml", cwd=user)
    assert result.returncode == 0, _report(result)
    config = _validated(result.stdout)
    assert config["esphome"]["name"] == "kitchen-echo"
    assert config["micro_wake_word"]["models"][0]["model"]["url"] == (
        esphome.models["hey_jarvis"].url
    )
    (player,) = config["media_player"]
    for file in player["files"]:
        assert Path(file["file"]["path"]).is_file()


def test_firmware_version_is_the_integration_s() -> None:
    manifest = json.loads((ROOT / "custom_components" / "anima" / "manifest.json").read_text())
    endpoint = (FIRMWARE / "packages" / "anima-endpoint.yaml").read_text()
    match = re.search(r'^  anima_firmware_version: "([^"]+)"$', endpoint, re.MULTILINE)
    assert match is not None
    assert match.group(1) == manifest["version"]


def test_earcons_are_the_hubs_sounds_and_all_playable() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_earcons", FIRMWARE / "sounds" / "make_earcons.py"
    )
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert tuple(generator.names()) == EARCONS
    for name in EARCONS:
        path = FIRMWARE / "sounds" / f"{name}.wav"
        assert path.read_bytes() == generator.wav_of(name), name  # regenerated byte for byte
        with wave.open(str(path), "rb") as sound:
            assert (sound.getnchannels(), sound.getsampwidth(), sound.getframerate()) == (
                1,
                2,
                16000,
            )
            # The hub's earcon, at the firmware's rate: as long, to the sample.
            seconds = len(earcon_pcm(name)) / 2 / EARCON_RATE
            assert abs(sound.getnframes() / 16000 - seconds) < 1e-3, name
    assert sorted(p.stem for p in (FIRMWARE / "sounds").glob("*.wav")) == sorted(EARCONS)
    voice = (FIRMWARE / "packages" / "anima-voice.yaml").read_text()
    endpoint = (FIRMWARE / "packages" / "anima-endpoint.yaml").read_text()
    for name in EARCONS:
        assert f'return name == "{name}";' in voice
        assert f"file: ../sounds/{name}.wav" in voice
    assert "confirm, done, error, notify, alert, listening or thinking" in endpoint


def test_readme_describes_every_board_and_package() -> None:
    readme = (FIRMWARE / "README.md").read_text()
    for board in BOARD_FILES:
        assert f"`boards/{board.name}`" in readme, board.name
    for package in (FIRMWARE / "packages").glob("*.yaml"):
        assert package.name in readme, package.name


def _table_rows(text: str, header_start: str) -> dict[str, dict[str, str]]:
    """A Markdown table's rows by their `file` cell, as {column: cell}."""
    lines = text[text.index(header_start) :].splitlines()
    columns = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(columns, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows[cells["file"].strip("`")] = cells
    return rows


def test_the_docs_board_table_says_what_runs_on_each_chip() -> None:
    rows = _table_rows((ROOT / "docs" / "firmware.md").read_text(), "| board | file |")
    for board in BOARD_FILES:
        text = board.read_text()
        row = rows[f"boards/{board.name}"]
        voice, camera = "anima-voice.yaml" in text, "anima-camera.yaml" in text
        assert row["wake word"].startswith("on the chip") is voice, board.name
        assert row["speaker"].startswith("on the chip") is voice, board.name
        assert row["camera"].startswith("on the chip") is camera, board.name
        if VARIANT[board.stem] in {"ESP32C6", "ESP32P4"}:  # the RISC-V boards say it themselves
            assert "# What runs on the chip:" in text, board.name
