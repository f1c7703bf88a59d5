"""Anima's integration files, checked the way Home Assistant's hassfest checks an integration.

hassfest lives in home-assistant/core (`script/hassfest/`), not in the homeassistant wheel, so
its rules for the files Anima ships are restated here on Home Assistant's own validators
(`config_validation`, `selector`, `Platform`, ...), from manifest.py, requirements.py (format),
translations.py, services.py, icons.py, dependencies.py, config_flow.py, quality_scale.py and
the rule validators in quality_scale_validation/. Where hassfest lets a custom integration off,
core's rule applies, since Anima is held to core's standard: every action has a name, a
description and an icon; quality_scale.yaml is validated and lists every rule.

Beyond hassfest: Home Assistant core's tests fail when a flow shows a step, error or abort reason
that has no text; here each one the flows name is checked, and so is every literal translation
key the code raises, creates, selects or sets on an entity. translations/en.json must equal
strings.json.

Each check takes the integration's folder and returns its problems; the tests run them on Anima
(no problems) and on copies with one mistake each (that mistake named).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from enum import IntEnum
from functools import cache
import json
from pathlib import Path
import re
import shutil
import string
from typing import Any
from urllib.parse import urlparse

from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy
from homeassistant.const import Platform
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.helpers.icon import convert_shorthand_service_icon
from homeassistant.requirements import DISCOVERY_INTEGRATIONS
from homeassistant.util.yaml import load_yaml_dict
import pytest
import voluptuous as vol
from voluptuous.humanize import humanize_error

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "anima"
TRANSLATIONS = ("strings.json", "translations/en.json")
PLATFORMS = {platform.value for platform in Platform}

type Problems = list[str]


# --- reading the integration ---------------------------------------------------------------


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _strings(integration: Path) -> Any:
    return _json(integration / "translations" / "en.json")


def _manifest(integration: Path) -> Any:
    return _json(integration / "manifest.json")


@cache  # for one run of `hassfest`, which clears it
def _modules(integration: Path) -> list[tuple[Path, ast.Module]]:
    """Every module of the integration, parsed."""
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(integration.rglob("*.py"))]


def _module(integration: Path, name: str) -> ast.Module | None:
    path = integration / f"{name}.py"
    return next((module for file, module in _modules(integration) if file == path), None)


def _top_async(module: ast.Module | None, name: str) -> ast.AsyncFunctionDef | None:
    body = module.body if module else []
    return next((f for f in body if isinstance(f, ast.AsyncFunctionDef) and f.name == name), None)


def _defines_async(module: ast.Module | None, names: set[str]) -> bool:
    nodes = ast.walk(module) if module else iter(())
    return any(isinstance(n, ast.AsyncFunctionDef) and n.name in names for n in nodes)


def _call_name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _calls(node: ast.AST | None, name: str) -> bool:
    nodes = ast.walk(node) if node else iter(())
    return any(isinstance(n, ast.Call) and _call_name(n) == name for n in nodes)


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _strs(node: ast.AST | None) -> list[str]:
    """The strings a value can be: a literal, or either side of `a if c else b`."""
    if isinstance(node, ast.IfExp):
        return _strs(node.body) + _strs(node.orelse)
    return [s] if (s := _str(node)) is not None else []


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _find(strings: Any, path: str) -> Any:
    """strings[a][b]... for the dotted `path`, or None."""
    for part in path.split("."):
        if not isinstance(strings, dict) or part not in strings:
            return None
        strings = strings[part]
    return strings


# --- manifest.json (manifest.py, requirements.py) ------------------------------------------


class Tier(IntEnum):
    """hassfest's ScaledQualityScaleTiers."""

    BRONZE = 1
    SILVER = 2
    GOLD = 3
    PLATINUM = 4


QUALITY_SCALES = [tier.name.lower() for tier in Tier] + ["custom", "no_score", "internal", "legacy"]
IOT_CLASSES = [
    "assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push"
]  # fmt: skip
INTEGRATION_TYPES = ["device", "entity", "hardware", "helper", "hub", "service", "system"]
REQUIREMENT = re.compile(r"^(?:--.+\s)?([-_,\.\w\d\[\]]+)(==|>=|<=|~=|!=|<|>|===)*(.*)$")


def _case(lower: bool) -> Callable[[str], str]:
    def validate(value: str) -> str:
        if value != (value.lower() if lower else value.upper()):
            raise vol.Invalid(f"Value needs to be {'lower' if lower else 'upper'}case")
        return value

    return validate


def _custom_documentation_url(value: str) -> str:
    if urlparse(value).scheme != "https":
        raise vol.Invalid("Documentation url is not prefixed with https")
    if value.startswith("https://www.home-assistant.io/integrations"):
        raise vol.Invalid("Documentation URL should point to the custom integration documentation")
    return value


def _version(value: str) -> str:
    strategies = [AwesomeVersionStrategy.CALVER, AwesomeVersionStrategy.SEMVER]
    strategies += [AwesomeVersionStrategy.SIMPLEVER, AwesomeVersionStrategy.BUILDVER]
    try:
        AwesomeVersion(value, ensure_strategy=[*strategies, AwesomeVersionStrategy.PEP440])
    except AwesomeVersionException as err:
        raise vol.Invalid(f"'{value}' is not a valid version.") from err
    return value


ZEROCONF = vol.Schema(
    {
        vol.Required("type"): str,
        vol.Optional("macaddress"): vol.All(str, _case(lower=False)),
        vol.Optional("manufacturer"): vol.All(str, _case(lower=True)),
        vol.Optional("model"): vol.All(str, _case(lower=True)),
        vol.Optional("name"): vol.All(str, _case(lower=True)),
        vol.Optional("properties"): vol.Schema({str: _case(lower=True)}),
    }
)
MANIFEST_SCHEMA = vol.Schema(  # CUSTOM_INTEGRATION_MANIFEST_SCHEMA
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Optional("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Optional("config_flow"): bool,
        vol.Optional("mqtt"): [str],
        vol.Optional("zeroconf"): [vol.Any(str, ZEROCONF)],
        vol.Optional("ssdp"): [vol.All(vol.Schema({}, extra=vol.ALLOW_EXTRA), vol.Length(min=1))],
        vol.Optional("bluetooth"): [dict],
        vol.Optional("homekit"): vol.Schema({vol.Optional("models"): [str]}),
        vol.Optional("dhcp"): [dict],
        vol.Optional("usb"): [dict],
        vol.Required("documentation"): vol.All(vol.Url(), _custom_documentation_url),
        vol.Optional("issue_tracker"): vol.Url(),
        vol.Optional("quality_scale"): vol.In(QUALITY_SCALES),
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("codeowners"): [str],
        vol.Optional("loggers"): [str],
        vol.Optional("disabled"): str,
        vol.Optional("iot_class"): vol.In(IOT_CLASSES),
        vol.Optional("single_config_entry"): bool,
        vol.Optional("preview_features"): dict,
        vol.Optional("version"): vol.All(str, _version),
        vol.Optional("import_executor"): bool,
    }
)


def check_manifest(integration: Path) -> Problems:
    """Schema, domain, IoT class, version, key order, requirement format, code owners."""
    try:
        manifest = _manifest(integration)
        MANIFEST_SCHEMA(manifest)
    except ValueError as err:
        return [f"manifest: Invalid manifest: {err}"]
    except vol.Invalid as err:
        return [f"manifest: Invalid manifest: {humanize_error(manifest, err)}"]
    problems = []
    if manifest["domain"] != integration.name:
        problems.append("manifest: Domain does not match dir name")
    if "iot_class" not in manifest:
        problems.append("manifest: Domain is missing an IoT Class")
    if not manifest.get("version"):
        problems.append("manifest: No 'version' key in the manifest file.")
    keys = list(manifest)
    if keys != sorted(keys, key=lambda key: {"domain": ".0", "name": ".1"}.get(key, key)):
        problems.append("manifest: Manifest keys are not sorted correctly: domain, name, then a-z")
    for requirement in manifest.get("requirements", []):
        if " " in requirement or not REQUIREMENT.match(requirement):
            problems.append(f"requirements: Requirement {requirement!r} is malformed")
    scale = manifest.get("quality_scale", "").upper()
    if scale in Tier.__members__ and Tier[scale] >= Tier.SILVER and not manifest["codeowners"]:
        problems.append(f"manifest: {scale.lower()} integration does not have a code owner")
    return problems


# --- strings.json, translations/en.json (translations.py) ----------------------------------

KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
QUOTED_PLACEHOLDER = re.compile(r"'{\w+}'")
URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def translation_key(value: str) -> str:
    """hassfest's translation_key_validator."""
    if KEY.match(value) is None:
        raise vol.Invalid(f"Invalid translation key '{value}'")
    return value


def _text(placeholders: bool = True) -> Callable[[Any], str]:
    """hassfest's validate_translation_value."""

    def validate(value: Any) -> str:
        text = cv.string_with_no_html(value)
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
        problem = next(
            (
                why
                for found, why in (
                    (QUOTED_PLACEHOLDER.search(text), "placeholders inside single quotes"),
                    (fields and not placeholders, "placeholders here"),
                    (any(not f.isidentifier() for f in fields), "placeholders not identifiers"),
                    (COMBINED_REFERENCE.search(text), "combined translations"),
                    (text != text.strip(), "leading or trailing spaces"),
                    (URL.search(text), "URLs (use description placeholders)"),
                )
                if found
            ),
            None,
        )
        if problem:
            raise vol.Invalid(f"the string should not contain {problem}")
        return text

    return validate


TEXT, PLAIN_TEXT = _text(), _text(placeholders=False)


def _keyed(value: Any, keys: Callable[[str], str] = translation_key) -> Any:
    return cv.schema_with_slug_keys(value, slug_validator=keys)


def _descriptions_of_data(flow: dict[str, Any]) -> dict[str, Any]:
    for step in flow["step"].values():
        for key in set(step.get("data_description", {})) - set(step.get("data", {})):
            raise vol.Invalid(f"data_description key {key} is not in data")
    return flow


def _flow(subentry: bool = False) -> vol.All:
    """hassfest's gen_data_entry_schema."""
    step = {
        vol.Optional(key): {str: TEXT}
        for key in ("data", "data_description", "menu_options", "menu_option_descriptions")
    } | {
        vol.Optional("title"): TEXT,
        vol.Optional("description"): TEXT,
        vol.Optional("submit"): TEXT,
        vol.Optional("sections"): {str: dict},
    }
    schema: dict[Any, Any] = {vol.Required("step"): {str: step}, vol.Optional("flow_title"): TEXT}
    schema |= {vol.Optional(key): {str: TEXT} for key in ("error", "abort", "progress")}
    schema[vol.Optional("create_entry")] = {str: TEXT}
    if subentry:
        schema[vol.Required("entry_type")] = TEXT
        schema[vol.Required("initiate_flow")] = {vol.Required("user"): TEXT, str: TEXT}
    else:
        schema[vol.Optional("initiate_flow")] = {vol.Required("user"): TEXT}
    return vol.All(vol.Schema(schema), _descriptions_of_data)


NAMED = {vol.Required("name"): str, vol.Optional("description"): TEXT}
STATES = {vol.Optional("state"): _keyed(PLAIN_TEXT)}
STRINGS_SCHEMA = vol.Schema(  # gen_strings_schema, for what an integration like Anima has
    {
        vol.Optional("title"): TEXT,
        vol.Optional("config"): _flow(),
        vol.Optional("config_subentries"): _keyed(_flow(subentry=True), cv.slug),
        vol.Optional("options"): _flow(),
        vol.Optional("selector"): _keyed(
            {vol.Optional(k): _keyed(TEXT) for k in ("choices", "options", "unit_of_measurement")}
            | {vol.Optional("fields"): _keyed(NAMED)},
            cv.slug,
        ),
        vol.Optional("issues"): {
            str: vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                {
                    vol.Required("title"): TEXT,
                    vol.Exclusive("description", "fixable"): TEXT,
                    vol.Exclusive("fix_flow", "fixable"): _flow(),
                },
            )
        },
        vol.Optional("device"): _keyed({vol.Optional("name"): TEXT}),
        vol.Optional("device_automation"): {
            vol.Optional(key): {str: TEXT}
            for key in (
                "action_type",
                "condition_type",
                "trigger_type",
                "trigger_subtype",
                "extra_fields",
                "extra_fields_descriptions",
            )
        },
        vol.Optional("entity"): _keyed(
            _keyed(
                {
                    vol.Optional("name"): TEXT,
                    vol.Optional("state_attributes"): _keyed(
                        {vol.Optional("name"): PLAIN_TEXT} | STATES
                    ),
                    vol.Optional("unit_of_measurement"): PLAIN_TEXT,
                }
                | STATES
            ),
            cv.slug,
        ),
        vol.Optional("exceptions"): _keyed({vol.Optional("message"): TEXT}, cv.slug),
        vol.Optional("services"): _keyed(
            {
                vol.Required("name"): TEXT,
                vol.Required("description"): TEXT,
                vol.Optional("fields"): _keyed(NAMED | {vol.Optional("example"): TEXT}),
                vol.Optional("sections"): _keyed(NAMED),
            }
        ),
    }
)


def check_translations(integration: Path) -> Problems:
    """strings.json and translations/en.json against hassfest's schema; the two the same."""
    problems, texts = [], []
    for name in TRANSLATIONS:
        try:
            texts.append(strings := _json(integration / name))
            STRINGS_SCHEMA(strings)
        except (OSError, ValueError) as err:
            problems.append(f"translations: Invalid {name}: {err}")
        except vol.Invalid as err:
            problems.append(f"translations: Invalid {name}: {humanize_error(strings, err)}")
    if len(texts) == len(TRANSLATIONS) and texts[0] != texts[1]:
        problems.append("translations: translations/en.json differs from strings.json")
    return problems


# --- services.yaml (services.py) ------------------------------------------------------------

FIELD = vol.Schema(
    {vol.Optional(k): object for k in ("example", "default", "filter")}
    | {vol.Optional(k): bool for k in ("required", "advanced")}
    | {vol.Optional(k): str for k in ("name", "description")}
    | {vol.Optional("selector"): selector.validate_selector}
)
SERVICE = vol.Schema(
    {
        vol.Optional("target"): selector.TargetSelector.CONFIG_SCHEMA,
        vol.Optional("fields"): {
            str: vol.Any(
                FIELD, {vol.Optional("collapsed"): bool, vol.Required("fields"): {str: FIELD}}
            )
        },
        vol.Optional("name"): str,
        vol.Optional("description"): str,
    }
)
SERVICES_SCHEMA = vol.Schema({cv.slug: vol.Any(None, SERVICE)})


def _registered_services(integration: Path) -> set[str]:
    """Actions given to hass.services: literal names, and SERVICE_* names of those modules."""
    names = set()
    for _, module in _modules(integration):
        if _calls(module, "async_register"):
            for node in ast.walk(module):
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    if node.targets[0].id.startswith("SERVICE_"):
                        names.update(_strs(node.value))
                elif isinstance(node, ast.Call) and _call_name(node) == "async_register":
                    names.update(_strs(node.args[1]) if len(node.args) > 1 else [])
    return names


def _service_problems(name: str, service: Any, strings: Any, icons: Any) -> Iterator[str]:
    text = strings.get("services", {}).get(name, {})
    if name not in icons:
        yield f"Service {name} has no icon in icons.json."
    yield from (
        f"Service {name} has no {k} in the translations file"
        for k in ("name", "description")
        if k not in text
    )
    fields = (service or {}).get("fields", {})
    for field, schema in fields.items():
        if "fields" in schema and field not in text.get("sections", {}):
            yield f"Service {name} has a section {field} with no name in the translations file"
        if "fields" not in schema and "name" not in text.get("fields", {}).get(field, {}):
            yield f"Service {name} has a field {field} with no name in the translations file"
        key = schema.get("selector", {}).get("select", {}).get("translation_key")
        if key and key not in strings.get("selector", {}):
            yield f"Service {name} field {field}: selector translation key {key} has no texts"
    for field in set(text.get("fields", {})) - set(fields):
        yield f"Service {name} has a field {field} in the translations file, not in the schema"


def check_services(integration: Path) -> Problems:
    """services.yaml's schema; each action registered, named, described, with an icon."""
    registered, path = _registered_services(integration), integration / "services.yaml"
    if not path.is_file():
        return ["services: Registers services but has no services.yaml"] if registered else []
    try:
        services = SERVICES_SCHEMA(load_yaml_dict(str(path)))
    except (HomeAssistantError, vol.Invalid) as err:
        return [f"services: Invalid services.yaml: {err}"]
    strings, icons = _strings(integration), _json(integration / "icons.json").get("services", {})
    described = set(strings.get("services", {}))
    problems = [f"{n} is registered but not in services.yaml" for n in registered - set(services)]
    problems += [
        f"{n} is in services.yaml but never registered" for n in set(services) - registered
    ]
    problems += [f"{n} has texts but is not in services.yaml" for n in described - set(services)]
    for name, service in services.items():
        problems += _service_problems(name, service, strings, icons)
    return [f"services: {problem}" for problem in sorted(problems)]


# --- icons.json (icons.py) -----------------------------------------------------------------


def _icon(value: Any) -> str:
    if not (value := cv.string_with_no_html(value)).startswith("mdi:"):
        raise vol.Invalid("The icon needs to be a Material Design Icon and start with `mdi:`")
    return str(value)


def _not_default(value: dict[str, Any]) -> dict[str, Any]:
    for key, icon in value.items():
        if icon.get("default") and icon["default"] in icon.get("state", {}).values():
            raise vol.Invalid(f"A state icon of `{key}` is the same as the default icon")
    return value


ICONS_SCHEMA = vol.Schema(  # icon_schema of an integration that is no entity component
    {
        vol.Optional("config"): dict,
        vol.Optional("options"): dict,
        vol.Optional("issues"): dict,
        vol.Optional("services"): _keyed(
            vol.All(
                convert_shorthand_service_icon,
                {vol.Optional("service"): _icon, vol.Optional("sections"): _keyed(_icon)},
            )
        ),
        vol.Optional("entity"): _keyed(
            vol.All(
                _keyed(
                    {vol.Optional("default"): _icon, vol.Optional("state"): _keyed(_icon)}
                    | {vol.Optional("range"): dict, vol.Optional("state_attributes"): dict}
                ),
                _not_default,
            ),
            cv.slug,
        ),
    }
)


def check_icons(integration: Path) -> Problems:
    """icons.json's schema; every entity icon is for a translation key that exists."""
    if not (path := integration / "icons.json").is_file():
        return []
    try:
        ICONS_SCHEMA(icons := _json(path))
    except vol.Invalid as err:
        return [f"icons: Invalid icons.json: {humanize_error(icons, err)}"]
    entities = _strings(integration).get("entity", {})
    return [
        f"icons: entity.{platform}.{key} has an icon but no translation"
        for platform, keys in icons.get("entity", {}).items()
        for key in keys
        if key not in entities.get(platform, {})
    ]


# --- imports of other integrations (dependencies.py) ---------------------------------------

ALLOWED_COMPONENTS = PLATFORMS | {
    "alert", "automation", "conversation", "default_config", "device_automation", "frontend",
    "group", "homeassistant", "input_boolean", "input_button", "input_datetime", "input_number",
    "input_select", "input_text", "labs", "media_source", "onboarding", "panel_custom",
    "persistent_notification", "person", "script", "shopping_list", "sun", "system_health",
    "system_log", "timer", "webhook", "websocket_api", "zone", "mjpeg", "stream",
}  # fmt: skip


def _components_imported(module: ast.Module) -> Iterator[str]:
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module == "homeassistant.components":
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            yield from (n.split(".")[2] for n in names if n.startswith("homeassistant.components."))


def check_dependencies(integration: Path) -> Problems:
    """Every integration imported is a dependency, an after-dependency or a platform here."""
    manifest = _manifest(integration)
    allowed = ALLOWED_COMPONENTS | {integration.name}
    allowed |= set(manifest.get("dependencies", [])) | set(manifest.get("after_dependencies", []))
    allowed |= {d for d, keys in DISCOVERY_INTEGRATIONS.items() if any(k in manifest for k in keys)}
    used = {
        domain for _, module in _modules(integration) for domain in _components_imported(module)
    }
    return [
        f"dependencies: Using component {domain} but it's not in 'dependencies' "
        "or 'after_dependencies'"
        for domain in sorted(used - allowed)
        if not (integration / f"{domain}.py").is_file() and not (integration / domain).is_dir()
    ]


# --- config flow (config_flow.py) ----------------------------------------------------------

DISCOVERY_SOURCES = ("bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf")
DISCOVERY_STEPS = {f"async_step_{source}" for source in (*DISCOVERY_SOURCES, "discovery", "hassio")}


def check_config_flow(integration: Path) -> Problems:
    """A config flow is in config_flow.py; a discoverable one sets a unique id."""
    flow = _module(integration, "config_flow")
    if flow is None:
        return (
            ["config_flow: no config_flow.py"] if _manifest(integration).get("config_flow") else []
        )
    if _defines_async(flow, DISCOVERY_STEPS) and not _calls(flow, "async_set_unique_id"):
        return ["config_flow: Config flows that are discoverable need to set a unique ID"]
    return []


# --- the texts flows and code name (core's check_translations, statically) -----------------

FLOW_BASES = {"ConfigFlow": "config", "OptionsFlow": "options", "OptionsFlowWithReload": "options"}
REPAIR_FLOW_BASES = {"RepairsFlow", "ConfirmRepairFlow"}


def _constants(integration: Path) -> dict[str, str]:
    """The integration's module-level string constants, by name."""
    return {
        target.id: value
        for _, module in _modules(integration)
        for node in module.body
        if isinstance(node, ast.Assign | ast.AnnAssign) and (value := _str(node.value)) is not None
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def _subentry_types(integration: Path) -> dict[str, list[str]]:
    """Flow class -> the subentry types `async_get_supported_subentry_types` maps to it."""
    constants, types = _constants(integration), dict[str, list[str]]()
    for _, module in _modules(integration):
        for function in ast.walk(module):
            if getattr(function, "name", "") != "async_get_supported_subentry_types":
                continue
            for node in ast.walk(function):
                pairs: list[tuple[ast.expr | None, ast.expr]] = []
                if isinstance(node, ast.Dict):
                    pairs = list(zip(node.keys, node.values, strict=True))
                elif isinstance(node, ast.DictComp):  # {kind: Flow for kind in (A, B)}
                    kinds = [e for gen in node.generators for e in getattr(gen.iter, "elts", [])]
                    pairs = [(kind, node.value) for kind in kinds]
                for key, flow in pairs:
                    kind = _str(key) or constants.get(getattr(key, "id", ""))
                    if kind and isinstance(flow, ast.Name):
                        types.setdefault(flow.id, []).append(kind)
    return types


def _base_names(cls: ast.ClassDef) -> set[str]:
    return {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}


def _ancestors(classes: dict[str, ast.ClassDef], cls: ast.ClassDef) -> set[str]:
    """The names of a class's bases, and of theirs where the integration defines them."""
    found: set[str] = set()
    todo = _base_names(cls)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            if (base := classes.get(name)) is not None:
                todo |= _base_names(base)
    return found


def _flow_sections(
    cls: ast.ClassDef, bases: set[str], subentries: dict[str, list[str]], strings: Any
) -> tuple[list[str], Callable[[str], bool]]:
    """The sections of strings a flow class shows texts from, and for which keys one section
    having the text is enough (otherwise each needs it)."""
    if bases & REPAIR_FLOW_BASES:  # it fixes one issue of those with a fix flow
        issues = strings.get("issues", {}).items()
        return [f"issues.{issue}.fix_flow" for issue, t in issues if "fix_flow" in t], bool
    if "ConfigSubentryFlow" in bases:  # a flow shared by types may show an error in one only
        kinds = subentries.get(cls.name, [])
        return [f"config_subentries.{kind}" for kind in kinds], lambda key: key.startswith("error.")
    return [FLOW_BASES[base] for base in bases if base in FLOW_BASES], lambda key: False


def _flow_keys(cls: ast.ClassDef) -> Iterator[str]:
    """step.X, abort.X, error.X for each step shown, abort reason and error the class names."""
    for node in ast.walk(cls):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in ("async_show_form", "async_show_menu"):
                yield from (f"step.{key}" for key in _strs(_keyword(node, "step_id")))
            elif name in ("async_abort", "_abort_if_unique_id_configured"):
                reason = _keyword(node, "reason" if name == "async_abort" else "error")
                yield from (f"abort.{key}" for key in _strs(reason))
        elif isinstance(node, ast.Assign) and isinstance(target := node.targets[0], ast.Subscript):
            if getattr(target.value, "id", "") == "errors":
                yield from (f"error.{key}" for key in _strs(node.value))
        elif isinstance(node, ast.Dict):
            base = [
                value
                for key, value in zip(node.keys, node.values, strict=True)
                if _str(key) == "base"
            ]
            yield from (f"error.{key}" for value in base for key in _strs(value))


def check_flow_translations(integration: Path) -> Problems:
    """Every step, abort reason and error a flow names has its text."""
    strings, subentries, problems = _strings(integration), _subentry_types(integration), []
    classes = {
        node.name: node
        for _, module in _modules(integration)
        for node in ast.walk(module)
        if isinstance(node, ast.ClassDef)
    }
    for cls in classes.values():
        bases = _ancestors(classes, cls)
        sections, one_is_enough = _flow_sections(cls, bases, subentries, strings)
        for key in _flow_keys(cls):
            missing = [f"{s}.{key}" for s in sections if _find(strings, f"{s}.{key}") is None]
            if missing and not (one_is_enough(key) and len(missing) < len(sections)):
                problems.append(
                    f"translations: {cls.name} names {' and '.join(missing)}, which has no text"
                )
    return problems


def _places(node: ast.AST, path: Path, strings: Any) -> tuple[str, list[str]] | None:
    """A literal translation key the node uses, and the sections it may come from."""
    entities = (
        [f"entity.{path.stem}"]
        if path.stem in PLATFORMS
        else [f"entity.{p}" for p in strings.get("entity", {})]
    )
    if isinstance(node, ast.Call) and (key := _str(_keyword(node, "translation_key"))):
        name = _call_name(node)
        if name in ("async_create_issue", "create_issue"):
            return key, ["issues"]
        if name.endswith("SelectorConfig"):
            return key, ["selector"]
        if name.endswith("Description"):
            return key, entities
        return key, ["exceptions"]  # HomeAssistantError(translation_domain=..., ...) and kin
    if isinstance(node, ast.Assign) and isinstance(target := node.targets[0], ast.Name):
        if (key := _str(node.value)) and target.id == "translation_key":
            return key, ["exceptions"]  # an error class's key
        if key and target.id == "_attr_translation_key":
            return key, entities
    return None


def check_code_translation_keys(integration: Path) -> Problems:
    """Every literal translation key raised, created, selected or set on an entity has texts."""
    strings, problems = _strings(integration), []
    for path, module in _modules(integration):
        for node in ast.walk(module):
            if (found := _places(node, path, strings)) is not None:
                key, sections = found
                if all(_find(strings, f"{section}.{key}") is None for section in sections):
                    where = " or ".join(f"{section}.{key}" for section in sections)
                    line = getattr(node, "lineno", 0)
                    problems.append(
                        f"translations: {path.name}:{line} uses {where}, which has no text"
                    )
    return problems


# --- quality_scale.yaml (quality_scale.py, quality_scale_validation/) ----------------------

RULES = {
    Tier.BRONZE: [
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
        "config-flow-test-coverage", "dependency-transparency", "docs-actions",
        "docs-high-level-description", "docs-installation-instructions",
        "docs-removal-instructions", "entity-event-setup", "entity-unique-id", "has-entity-name",
        "runtime-data", "test-before-configure", "test-before-setup", "unique-config-entry",
    ],
    Tier.SILVER: [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner",
        "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    Tier.GOLD: [
        "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
        "docs-examples", "docs-known-limitations", "docs-supported-devices",
        "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
        "entity-category", "entity-device-class", "entity-disabled-by-default",
        "entity-translations", "exception-translations", "icon-translations",
        "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    Tier.PLATINUM: ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip
ALL_RULES = [rule for rules in RULES.values() for rule in rules]
STATUS = vol.Any(
    vol.In(["todo", "done"]),
    {vol.Required("status"): vol.In(["todo", "done"]), vol.Optional("comment"): str},
    {vol.Required("status"): "exempt", vol.Required("comment"): str},
)
QUALITY_SCALE_SCHEMA = vol.Schema(
    {vol.Required("rules"): {vol.Optional(r): STATUS for r in ALL_RULES}}
)
SETUP_ERRORS = {"ConfigEntryNotReady", "ConfigEntryAuthFailed", "ConfigEntryError"}
TYPED_ENTRY = re.compile(r"^[A-Za-z]+ConfigEntry$")
ENTRY_FUNCTIONS = {file: ["async_setup_entry"] for file in PLATFORMS} | {  # file: functions
    "__init__": [
        "async_migrate_entry", "async_remove_config_entry_device", "async_remove_entry",
        "async_setup_entry", "async_unload_entry",
    ],
    "diagnostics": ["async_get_config_entry_diagnostics", "async_get_device_diagnostics"],
}  # fmt: skip


def statuses(integration: Path) -> dict[str, str]:
    """Each rule quality_scale.yaml lists, and its status."""
    rules = load_yaml_dict(str(integration / "quality_scale.yaml"))["rules"]
    return {
        rule: value["status"] if isinstance(value, dict) else value for rule, value in rules.items()
    }


def _raised(node: ast.AST) -> str:
    exc = node.exc if isinstance(node, ast.Raise) else None
    exc = exc.func if isinstance(exc, ast.Call) else exc
    return exc.attr if isinstance(exc, ast.Attribute) else getattr(exc, "id", "")


def _registers_services(function: ast.AsyncFunctionDef | None) -> bool:
    for func in (n.func for n in ast.walk(function) if isinstance(n, ast.Call)) if function else ():
        if isinstance(func, ast.Attribute) and func.attr == "async_register_entity_service":
            return True
        if (  # hass.services.async_register
            isinstance(func, ast.Attribute)
            and func.attr in ("async_register", "register")
            and getattr(func.value, "attr", "") == "services"
        ):
            return True
    return False


def _sets_runtime_data(setup: ast.AsyncFunctionDef) -> bool:
    """`entry.runtime_data = ...` in async_setup_entry itself, where hassfest looks."""
    return any(
        isinstance(n, ast.Attribute) and n.attr == "runtime_data" and isinstance(n.ctx, ast.Store)
        for n in ast.walk(setup)
    )


def _untyped_entries(integration: Path) -> Iterator[str]:
    for file, functions in ENTRY_FUNCTIONS.items():
        module = _module(integration, file)
        for function in filter(None, (_top_async(module, name) for name in functions)):
            entry = function.args.args[1].annotation if len(function.args.args) > 1 else None
            if not (isinstance(entry, ast.Name) and TYPED_ENTRY.match(entry.id)):
                yield f"([+ strict-typing]) {function.name} does not use typed ConfigEntry ({file})"


def _rule_problems(rule: str, integration: Path, done: set[str]) -> Iterator[str]:
    """hassfest's validator of a rule marked done (most rules have none)."""
    manifest, flow, init = (
        _manifest(integration),
        _module(integration, "config_flow"),
        _module(integration, "__init__"),
    )
    setup = _top_async(init, "async_setup_entry")
    platforms = {p: m for p in PLATFORMS if (m := _module(integration, p)) is not None}
    if rule == "action-setup":
        for file, module in {"__init__": init, **platforms}.items():
            if module and _registers_services(_top_async(module, "async_setup_entry")):
                yield f"Integration registers services in {file}.py async_setup_entry"
    elif rule == "config-flow" and not (manifest.get("config_flow") and flow):
        yield "Integration does not implement config flow"
    elif rule == "config-entry-unloading" and not _top_async(init, "async_unload_entry"):
        yield "Integration does not support config entry unloading"
    elif rule == "diagnostics":
        functions = {"async_get_config_entry_diagnostics", "async_get_device_diagnostics"}
        if not _defines_async(_module(integration, "diagnostics"), functions):
            yield "Integration does not implement diagnostics"
    elif rule == "discovery":
        if not any(k in manifest for k in DISCOVERY_SOURCES) and not _defines_async(
            flow, DISCOVERY_STEPS
        ):
            yield "Integration is missing one of the discovery steps"
    elif rule == "parallel-updates":
        for file, module in sorted(platforms.items()):
            if not any(
                isinstance(a, ast.Assign) and getattr(a.targets[0], "id", "") == "PARALLEL_UPDATES"
                for a in module.body
            ):
                yield f"Integration does not set `PARALLEL_UPDATES` in {file}.py"
    elif rule == "reauthentication-flow" and not _defines_async(flow, {"async_step_reauth"}):
        yield "Integration does not support a reauthentication flow"
    elif rule == "reconfiguration-flow" and not _defines_async(flow, {"async_step_reconfigure"}):
        yield "Integration does not support a reconfiguration flow"
    elif rule == "runtime-data":
        if init is None or setup is None or not _sets_runtime_data(setup):
            yield "Integration does not set entry.runtime_data in async_setup_entry"
        if "strict-typing" in done:
            yield from _untyped_entries(integration)
    elif rule == "strict-typing":  # core: listed in .strict-typing; here: scripts/test runs it
        if (
            f"mypy --strict custom_components/{integration.name}"
            not in (ROOT / "scripts" / "test").read_text()
        ):
            yield "Integration does not have strict typing enabled"
    elif rule == "test-before-setup":
        raises = any(
            _raised(n) in SETUP_ERRORS for _, m in _modules(integration) for n in ast.walk(m)
        )
        if not raises and not _calls(setup, "async_config_entry_first_refresh"):
            yield f"Integration does not raise one of {sorted(SETUP_ERRORS)}"
    elif rule == "unique-config-entry":
        unique = _calls(flow, "async_set_unique_id") and _calls(
            flow, "_abort_if_unique_id_configured"
        )
        if not (
            manifest.get("single_config_entry")
            or unique
            or _calls(flow, "_async_abort_entries_match")
        ):
            yield "Integration doesn't prevent the same device or service from being set up twice"


def check_quality_scale(integration: Path) -> Problems:
    """The schema; every rule listed; the validators of the rules done; the manifest's tier."""
    try:
        QUALITY_SCALE_SCHEMA(load_yaml_dict(str(integration / "quality_scale.yaml")))
    except (HomeAssistantError, vol.Invalid) as err:
        return [f"quality_scale: Invalid quality_scale.yaml: {err}"]
    status = statuses(integration)
    done = {rule for rule, value in status.items() if value == "done"}
    problems = [
        f"quality_scale: rule {rule} is not listed" for rule in ALL_RULES if rule not in status
    ]
    problems += [
        f"quality_scale: [{rule}] {p}"
        for rule in sorted(done)
        for p in _rule_problems(rule, integration, done)
    ]
    declared = _manifest(integration).get("quality_scale", "").upper()
    for tier in Tier:
        missing = [rule for rule in RULES[tier] if status.get(rule) not in ("done", "exempt")]
        if declared in Tier.__members__ and tier <= Tier[declared] and missing:
            problems.append(
                f"quality_scale: Quality scale tier {tier.name.lower()} requires quality scale "
                f"rules to be met: {', '.join(missing)}"
            )
    return problems


CHECKS = [
    check_manifest,
    check_translations,
    check_services,
    check_icons,
    check_dependencies,
    check_config_flow,
    check_flow_translations,
    check_code_translation_keys,
    check_quality_scale,
]


def hassfest(integration: Path) -> Problems:
    """Every check's problems with the integration in `integration`."""
    _modules.cache_clear()
    return [problem for check in CHECKS for problem in check(integration)]


# --- the tests ------------------------------------------------------------------------------


def test_anima_passes_hassfest() -> None:
    assert hassfest(INTEGRATION) == []


def test_the_manifest_claims_the_highest_tier_whose_rules_are_met() -> None:
    status, reached = statuses(INTEGRATION), None
    for tier in Tier:
        if any(status[rule] not in ("done", "exempt") for rule in RULES[tier]):
            break
        reached = tier.name.lower()
    assert _manifest(INTEGRATION).get("quality_scale") == reached


def _json_edit(name: str, change: Callable[[Any], object]) -> Callable[[Path], None]:
    def edit(integration: Path) -> None:
        data = _json(integration / name)
        change(data)
        (integration / name).write_text(json.dumps(data, indent=2))

    return edit


def _texts_edit(change: Callable[[Any], object]) -> Callable[[Path], None]:
    def edit(integration: Path) -> None:
        for name in TRANSLATIONS:
            _json_edit(name, change)(integration)

    return edit


def _text_edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(integration: Path) -> None:
        text = (integration / name).read_text()
        assert old in text, (name, old)
        (integration / name).write_text(text.replace(old, new, 1))

    return edit


def _append(name: str, text: str) -> Callable[[Path], None]:
    def edit(integration: Path) -> None:
        (integration / name).write_text((integration / name).read_text() + text)

    return edit


MISTAKES = [  # (id, the mistake, the problem it must raise)
    (
        "action-without-texts",
        _append("services.yaml", "reset_ledger:\n"),
        "Service reset_ledger has no name",
    ),
    (
        "action-without-icon",
        _json_edit("icons.json", lambda i: i["services"].pop("ask")),
        "Service ask has no icon",
    ),
    (
        "action-not-described",
        _append("services.py", '\nSERVICE_RESET = "reset"\n'),
        "reset is registered but not in services.yaml",
    ),
    (
        "select-key-without-texts",
        _texts_edit(lambda s: s["selector"].pop("earcon")),
        "selector translation key earcon has no texts",
    ),
    (
        "exception-key-without-text",
        _append("services.py", '\nE = HomeAssistantError(translation_key="full")\n'),
        "uses exceptions.full, which has no text",
    ),
    (
        "entity-key-without-text",
        _texts_edit(lambda s: s["entity"]["sensor"].pop("health")),
        "uses entity.sensor.health, which has no text",
    ),
    (
        "flow-error-without-text",
        _texts_edit(lambda s: s["config_subentries"]["voice"]["error"].pop("alert_must_speak")),
        "config_subentries.voice.error.alert_must_speak, which has no text",
    ),
    (
        "abort-without-text",
        _texts_edit(lambda s: s["config"]["abort"].pop("hub_exists")),
        "config.abort.hub_exists, which has no text",
    ),
    (
        "step-without-text",
        _texts_edit(lambda s: s["config"]["step"].pop("wyoming")),
        "config.step.wyoming, which has no text",
    ),
    (
        "en-json-out-of-step",
        _json_edit("strings.json", lambda s: s["config"]["error"].update(timeout="Too slow.")),
        "en.json differs from strings.json",
    ),
    (
        "html-in-a-text",
        _texts_edit(lambda s: s["config"]["error"].update(timeout="<b>Slow</b>")),
        "Invalid strings.json",
    ),
    (
        "description-of-no-field",
        _texts_edit(lambda s: s["config"]["step"]["wyoming"]["data_description"].update(tls="-")),
        "data_description key tls is not in data",
    ),
    (
        "invalid-manifest-key",
        _json_edit("manifest.json", lambda m: m.update(homepage="https://example.org")),
        "homepage",
    ),
    (
        "manifest-out-of-order",
        _json_edit("manifest.json", lambda m: m.update(codeowners=m.pop("codeowners"))),
        "Manifest keys are not sorted",
    ),
    (
        "manifest-without-version",
        _json_edit("manifest.json", lambda m: m.pop("version")),
        "No 'version' key",
    ),
    (
        "undeclared-dependency",
        _append("services.py", "\nfrom homeassistant.components import wyoming  # noqa: F401\n"),
        "Using component wyoming",
    ),
    (
        "state-icon-as-default",
        _json_edit(
            "icons.json",
            lambda i: i["entity"]["sensor"]["health"]["state"].update(closed="mdi:heart-pulse"),
        ),
        "same as the default icon",
    ),
    (
        "rule-left-out",
        _text_edit("quality_scale.yaml", "\n  brands: done", ""),
        "rule brands is not listed",
    ),
    (
        "tier-not-met",  # the manifest claims platinum: one of its rules left to do
        _text_edit("quality_scale.yaml", "strict-typing: done", "strict-typing: todo"),
        "requires quality scale rules to be met",
    ),
    (
        "rule-done-refuted",
        _text_edit("config_flow.py", "async_step_reauth(", "async_step_reauth_gone("),
        "[reauthentication-flow] Integration does not support a reauthentication flow",
    ),
]


@pytest.fixture(scope="module")
def found_in_anima() -> Problems:
    """What the checks find in Anima as it is (the copies start from it)."""
    return hassfest(INTEGRATION)


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    """A copy of the integration, to break."""
    copy = tmp_path / INTEGRATION.name
    shutil.copytree(INTEGRATION, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.mark.parametrize(
    ("mistake", "problem"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_the_check_names_the_mistake(
    found_in_anima: Problems, broken_copy: Path, mistake: Callable[[Path], None], problem: str
) -> None:
    assert not any(problem in each for each in found_in_anima)
    mistake(broken_copy)
    found = hassfest(broken_copy)
    assert any(problem in each for each in found), found


HACS_KEYS = {  # hacs.json keys HACS reads (hacs.xyz, publish/start)
    "name", "content_in_root", "zip_release", "filename", "hide_default_branch", "country",
    "homeassistant", "hacs", "persistent_directory", "render_readme",
}  # fmt: skip


def test_hacs_installs_the_integration_folder_as_it_is() -> None:
    """The plain repository layout: HACS copies custom_components/anima from a release tag or
    the default branch, so that folder must be complete by itself (no zip_release to build)."""
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"]
    assert not hacs.get("content_in_root")
    assert not hacs.get("zip_release")
    folders = [p.name for p in (ROOT / "custom_components").iterdir() if p.name[0] not in "._"]
    assert folders == [INTEGRATION.name]  # HACS installs the first integration only
    assert [p for p in INTEGRATION.rglob("*") if p.is_symlink()] == []  # it copies files
    manifest = _manifest(INTEGRATION)
    for key in ("domain", "documentation", "issue_tracker", "codeowners", "name", "version"):
        assert manifest.get(key), key
    assert (INTEGRATION / "brand" / "icon.png").is_file()
    assert (ROOT / "README.md").is_file()
