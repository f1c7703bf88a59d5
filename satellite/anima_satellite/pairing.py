"""The endpoint key that pairs a satellite's endpoint service with the hub.

Made at the first start (32 random bytes, base64, like ESPHome's API encryption key) and kept
in a state file only its owner can read; `anima-satellite --print-key` shows it, to be entered
in the endpoint's form in Home Assistant. The key never goes into a log or over the network
(`protocol.py`: an HMAC challenge on each connection).

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
import stat

from .protocol import new_key, parse_key

_LOGGER = logging.getLogger(__name__)
KEY_FILE_NAME = "endpoint.key"


class KeyFileError(Exception):
    """The key file cannot be read or is not a key (the message never quotes its contents)."""


def default_key_file() -> Path:
    """Where the key lives: systemd's StateDirectory=, else the user's XDG state directory."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":", 1)[0]) / KEY_FILE_NAME
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "anima-satellite" / KEY_FILE_NAME


def load_or_create_key(path: Path) -> tuple[str, bool]:
    """Return the key (base64) and whether it was made just now."""
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    key = new_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return _read(path), False
    except OSError as err:
        raise KeyFileError(f"cannot make the key file {path}: {err.strerror}") from None
    with os.fdopen(descriptor, "w") as out:
        out.write(key + "\n")
    return key, True


def _read(path: Path) -> str:
    try:
        text = path.read_text()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except OSError as err:
        raise KeyFileError(f"cannot read the key file {path}: {err.strerror}") from None
    try:
        parse_key(text)
    except ValueError as err:
        raise KeyFileError(f"{path}: {err}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _LOGGER.warning("%s can be read by other users: chmod 600 it", path)
    return text.strip()
