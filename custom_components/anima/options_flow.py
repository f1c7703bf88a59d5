"""Options flows: the hub's currency, rates and budgets; a connection's prices, plan and patience.

Amounts are entered in the currency they are in: budgets in the shown one (the hub's), a
connection's prices and fees in the currency it names. A currency with no rate (given here or
known to Anima's reference rates) is refused with the field that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.generated.currencies import ACTIVE_CURRENCIES
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio as vol

from .const import (
    CURRENCY,
    FIRST_ANSWER_SECONDS,
    HOUSE_DAILY,
    HOUSE_MONTHLY,
    KIND,
    KIND_OPENAI,
    PRICE_OPTIONS,
    WARNING_PERCENT,
)
from .core.ledger import (
    MAX_AMOUNT,
    MissingRateError,
    PlanError,
    PlanKind,
    PlanUnit,
    PriceError,
    money_for,
    plans_from_options,
    rate_key,
    reference_rates,
)
from .core.ledger.plans import (
    LICENCE_FEE,
    PACKAGE_FEE,
    PACKAGE_INCLUDED,
    PACKAGE_OVERAGE,
    PACKAGE_UNIT,
    PLAN,
    PRICE_CURRENCY,
)
from .runtime.data import AnimaData

#: A price, rate, fee or budget: the form refuses what the ledger could not count with.
AMOUNT = NumberSelector(
    NumberSelectorConfig(min=0, max=float(MAX_AMOUNT) - 1, step="any", mode=NumberSelectorMode.BOX)
)
#: Seconds to wait for a model's first token: from a quick cloud to a local model reading a big
#: prompt on a small board.
PATIENCE = NumberSelector(
    NumberSelectorConfig(
        min=1, max=600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
    )
)
CURRENCY_SELECTOR = SelectSelector(
    SelectSelectorConfig(options=sorted(ACTIVE_CURRENCIES), mode=SelectSelectorMode.DROPDOWN)
)


def _choice(options: Iterable[str], key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=list(options), mode=SelectSelectorMode.DROPDOWN, translation_key=key
        )
    )


def _money_errors(err: PriceError) -> dict[str, str]:
    """Map a currency problem to the form field it belongs to."""
    if isinstance(err, MissingRateError):
        return {rate_key(err.currency): "rate_required"}
    return {"base": "invalid_rate"}


class HubOptionsFlow(OptionsFlow):
    """The currency costs are shown in, its rates, and the house's budgets."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the currency (Home Assistant's by default), rates, limits and the threshold."""
        meter = AnimaData.of(self.hass).meter
        currencies = sorted(meter.currencies_in_use())
        errors: dict[str, str] = {}
        placeholders = {"currency": meter.currency, "missing": ""}
        if user_input is not None:
            shown = str(user_input.get(CURRENCY) or self.hass.config.currency)
            try:
                money_for(shown, user_input, currencies)
            except PriceError as err:
                errors = _money_errors(err)
                placeholders = {"currency": shown, "missing": getattr(err, "currency", "")}
            else:
                return self.async_create_entry(data=user_input)
        shown = str(self.config_entry.options.get(CURRENCY) or self.hass.config.currency)
        reference = reference_rates()
        suggested = {
            CURRENCY: shown,
            **{
                rate_key(code): float(rate)
                for code in currencies
                if (rate := reference.worth(code, shown)) is not None and code != shown
            },
            **self.config_entry.options,
        }
        schema = vol.Schema(
            {
                vol.Optional(CURRENCY): CURRENCY_SELECTOR,
                **{vol.Optional(rate_key(code)): AMOUNT for code in currencies},
                vol.Optional(HOUSE_DAILY): AMOUNT,
                vol.Optional(HOUSE_MONTHLY): AMOUNT,
                vol.Required(WARNING_PERCENT, default=80): NumberSelector(
                    NumberSelectorConfig(min=1, max=100, step=1, mode=NumberSelectorMode.SLIDER)
                ),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or suggested),
            errors=errors,
            description_placeholders=placeholders,
        )


class ConnectionOptionsFlow(OptionsFlow):
    """A connection's own prices and billing plan (empty: Anima's default prices).

    An OpenAI-compatible connection also says how long to wait for its first token.
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer prices and patience, or go to the prices (the hub's options own `init`'s form)."""
        if self.config_entry.data.get(KIND) == KIND_OPENAI:
            return await self.async_step_connection()
        return await self.async_step_prices(user_input)

    async def async_step_connection(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the connection's prices and its patience."""
        return self.async_show_menu(step_id="connection", menu_options=["prices", "patience"])

    async def async_step_patience(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask how long to wait for the first token (empty: the default for the connection)."""
        if user_input is not None:
            return self._save({FIRST_ANSWER_SECONDS}, user_input)
        schema = vol.Schema({vol.Optional(FIRST_ANSWER_SECONDS): PATIENCE})
        return self.async_show_form(
            step_id="patience",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )

    def _save(self, keys: Iterable[str], user_input: dict[str, Any]) -> ConfigFlowResult:
        """Replace the options a form owns (`keys`: an emptied field goes), keep the others."""
        kept = {k: v for k, v in self.config_entry.options.items() if k not in set(keys)}
        return self.async_create_entry(data={**kept, **user_input})

    async def async_step_prices(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the rates, their currency, and the plan the connection is on."""
        meter = AnimaData.of(self.hass).meter
        errors: dict[str, str] = {}
        if user_input is not None:
            currency = str(user_input.get(PRICE_CURRENCY) or meter.currency)
            try:
                plans_from_options(user_input, currency)
            except PlanError as err:
                errors[err.key] = err.translation_key
            if currency != meter.currency and currency not in meter.money.money.worth:
                reference = reference_rates().worth(currency, meter.currency)
                if reference is None:
                    errors[PRICE_CURRENCY] = "price_currency_without_rate"
            if not errors:
                prices = {PRICE_CURRENCY: currency, **user_input}
                return self._save(set(self.config_entry.options) - {FIRST_ANSWER_SECONDS}, prices)
        options = self.config_entry.options
        suggested = {
            PRICE_CURRENCY: options.get(PRICE_CURRENCY) or meter.currency,
            PLAN: PlanKind.METERED,
            PACKAGE_UNIT: PlanUnit.TOKENS,
            **options,
        }
        schema = vol.Schema(
            {
                vol.Optional(PRICE_CURRENCY): CURRENCY_SELECTOR,
                **{vol.Optional(key): AMOUNT for key in PRICE_OPTIONS},
                vol.Optional(PLAN): _choice(PlanKind, PLAN),
                vol.Optional(LICENCE_FEE): AMOUNT,
                vol.Optional(PACKAGE_FEE): AMOUNT,
                vol.Optional(PACKAGE_INCLUDED): AMOUNT,
                vol.Optional(PACKAGE_UNIT): _choice(PlanUnit, PACKAGE_UNIT),
                vol.Optional(PACKAGE_OVERAGE): AMOUNT,
            }
        )
        return self.async_show_form(
            step_id="prices",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or suggested),
            errors=errors,
            description_placeholders={"currency": meter.currency},
        )
