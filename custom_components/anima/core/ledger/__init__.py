"""The cost ledger: records, prices, rollups and their store (pure: no Home Assistant)."""

from .ledger import Ledger
from .prices import (
    ANY_MODEL,
    DEFAULT_CURRENCY,
    PRESET_WYOMING,
    Price,
    PriceBook,
    PriceError,
    PriceTable,
    default_tables,
    to_decimal,
)
from .records import (
    COST_QUANTUM,
    OUTCOME_FALLBACK,
    OUTCOME_OK,
    SUCCESS_OUTCOMES,
    ZERO,
    Kind,
    UsageRecord,
)
from .rollups import Calendar, Period, Scope, Totals, scope_key, totals_of
from .store import STORAGE_VERSION, MemoryStore, Store

__all__ = [
    "ANY_MODEL",
    "COST_QUANTUM",
    "DEFAULT_CURRENCY",
    "OUTCOME_FALLBACK",
    "OUTCOME_OK",
    "PRESET_WYOMING",
    "STORAGE_VERSION",
    "SUCCESS_OUTCOMES",
    "ZERO",
    "Calendar",
    "Kind",
    "Ledger",
    "MemoryStore",
    "Period",
    "Price",
    "PriceBook",
    "PriceError",
    "PriceTable",
    "Scope",
    "Store",
    "Totals",
    "UsageRecord",
    "default_tables",
    "scope_key",
    "to_decimal",
    "totals_of",
]
