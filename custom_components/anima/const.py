"""Constants of the Anima integration: names only, no behaviour, no Home Assistant imports.

Every layer may import this module (see docs/architecture.md).
"""

import logging
from typing import Final

DOMAIN: Final = "anima"
LOGGER = logging.getLogger(__package__)

# How long connection checks (list models, Wyoming describe) may take, in seconds.
VALIDATION_TIMEOUT: Final = 10.0

# Keys of a config entry's data. Every entry has a kind: a provider connection or the hub.
KIND: Final = "kind"
KIND_OPENAI: Final = "openai_compatible"
KIND_WYOMING: Final = "wyoming"
#: The one entry that holds profiles (subentries) rather than a connection.
KIND_HUB: Final = "hub"
PRESET: Final = "preset"
BASE_URL: Final = "base_url"
API_KEY: Final = "api_key"
HOST: Final = "host"
PORT: Final = "port"

# Keys of the hub's options: the currency costs are shown in and 1 USD in it (other currencies:
# `core.ledger.rate_key`), the house budgets.
CURRENCY: Final = "currency"
RATE: Final = "usd_rate"
HOUSE_DAILY: Final = "house_daily"
HOUSE_MONTHLY: Final = "house_monthly"
WARNING_PERCENT: Final = "warning_percent"
#: Keys of a connection's options: its own prices, for every model it serves.
PRICE_OPTIONS: Final = (
    "input_per_1m",
    "cached_input_per_1m",
    "output_per_1m",
    "per_image",
    "audio_per_minute",
    "characters_per_1m",
)
#: Key of an OpenAI-compatible connection's options: how long to wait for a first token (seconds;
#: absent: 120 s for a local server, which may be loading a model or reading a big prompt, the
#: chain's 15 s for a cloud).
FIRST_ANSWER_SECONDS: Final = "first_token_seconds"

# Options of Anima's text-to-speech entities: the class of a message (confirmation,
# notification, alert, answer, conversation), and the device of the endpoint it is for
# (announcements: that endpoint's policy and budget apply).
MESSAGE_CLASS: Final = "message_class"
TTS_ENDPOINT: Final = "endpoint"

# Dispatcher signals: after every provider attempt (health sensors refresh), after every ledger
# record (usage sensors and budgets refresh).
SIGNAL_ATTEMPT: Final = f"{DOMAIN}_attempt"
SIGNAL_RECORDED: Final = f"{DOMAIN}_recorded"
#: After every stage timing (the turn tracker collects a turn's stages).
SIGNAL_TIMED: Final = f"{DOMAIN}_timed"
#: After every finished turn (the last-turn sensors refresh).
SIGNAL_TURN: Final = f"{DOMAIN}_turn"

# Events on Home Assistant's bus (automations, device triggers, the logbook): one per finished
# turn, one per question as it is asked, one per change of a budget's level.
EVENT_TURN: Final = "anima_turn"
EVENT_QUESTION: Final = "anima_question"
EVENT_BUDGET: Final = "anima_budget"
