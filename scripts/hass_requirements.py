"""Print the requirements Home Assistant would install at its first start with Anima loaded.

Run with the Home Assistant venv's interpreter. Walking the manifests (dependencies included)
lets scripts/setup install them once, so `hass` starts offline and without run-time installs.
"""

import json
from pathlib import Path
import sys

from homeassistant import bootstrap, components

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = Path(components.__file__).parent
ANIMA_MANIFEST = ROOT / "custom_components" / "anima" / "manifest.json"
# What scripts/develop and the end-to-end tests configure, besides the defaults.
CONFIGURED = {
    *("api", "config", "conversation", "assist_pipeline", "wyoming", "light", "template"),
    *("recorder", "history", "logbook", "input_boolean", "switch"),  # the develop house
}


def main() -> None:
    anima = json.loads(ANIMA_MANIFEST.read_text())
    todo = set(bootstrap.DEFAULT_INTEGRATIONS) | bootstrap.CORE_INTEGRATIONS | CONFIGURED
    todo |= set(anima.get("dependencies", [])) | set(anima.get("after_dependencies", []))
    requirements = set(anima.get("requirements", []))
    seen: set[str] = set()
    while todo:
        domain = todo.pop()
        seen.add(domain)
        manifest_path = COMPONENTS / domain / "manifest.json"
        if not manifest_path.exists():
            continue
        manifest = json.loads(manifest_path.read_text())
        requirements.update(manifest.get("requirements", []))
        todo |= set(manifest.get("dependencies", [])) - seen
    print("\n".join(sorted(requirements)))


if __name__ == "__main__":
    sys.exit(main())
