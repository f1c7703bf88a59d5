"""Constants of the Anima integration: names only, no behaviour."""

import logging
from typing import Final

DOMAIN: Final = "anima"
LOGGER = logging.getLogger(__package__)

# How long connection checks (list models, Wyoming describe) may take, in seconds.
VALIDATION_TIMEOUT: Final = 10.0
