"""Money as integer minor units plus an ISO 4217 currency.

Amounts never pass through floats: decimal strings are parsed exactly, and any
operation that would lose a minor unit raises instead of rounding silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.domain.errors import CurrencyMismatchError, InvalidAmountError, UnknownCurrencyError

# Minor-unit exponent per active ISO 4217 code; the default is 2.
_EXPONENT_0 = ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF").split()
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND".split()
_EXPONENT_4 = "CLF UYW".split()
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
    "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
    "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
).split()

EXPONENTS: dict[str, int] = {
    **{c: 0 for c in _EXPONENT_0},
    **{c: 2 for c in _EXPONENT_2},
    **{c: 3 for c in _EXPONENT_3},
    **{c: 4 for c in _EXPONENT_4},
}

MAX_AMOUNT = 10**15
"""The largest amount anything takes, in minor units: far above any real contract, and
well inside a signed 64-bit column after summing."""

_DECIMAL = re.compile(r"^(?P<sign>-?)(?P<whole>\d+)(?:\.(?P<frac>\d+))?$")


def share(minor: int, basis_points: int) -> int:
    """`basis_points`/10,000 of an amount in minor units, rounded down (fees, deposits): the
    one place a share is computed, so a fee shown is the fee posted."""
    return minor * basis_points // 10_000


def check_currency(code: object) -> str:
    """Return the code if it is an active ISO 4217 currency, else raise."""
    if not isinstance(code, str) or code not in EXPONENTS:
        raise UnknownCurrencyError(f"{code!r} is not an ISO 4217 currency code")
    return code


def check_minor_units(amount: object) -> int:
    """Refuse anything but a true int (bool and float included) as an amount."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmountError(
            f"amounts are whole numbers of minor units, not {type(amount).__name__}"
        )
    return amount


def positive_amount(value: object, name: str = "amount") -> int:
    """A whole amount of minor units from 1 to MAX_AMOUNT, or an error naming the field:
    the one check every amount a party sends goes through (contracts, payments, events)."""
    if value is None:
        raise InvalidAmountError(f"{name} is required, in whole minor units", field=name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(f"{name} must be whole minor units", field=name)
    if value <= 0:
        raise InvalidAmountError(f"{name} must be positive, got {value}", field=name)
    if value > MAX_AMOUNT:
        raise InvalidAmountError(f"{name} must be at most {MAX_AMOUNT}", field=name)
    return value


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `minor` units of `currency` (2500 USD = 25.00 dollars)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        check_minor_units(self.minor)
        check_currency(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a decimal string exactly; more decimals than the currency has raise."""
        exponent = EXPONENTS[check_currency(currency)]
        if not isinstance(text, str):
            raise InvalidAmountError("amounts are parsed from decimal strings only")
        match = _DECIMAL.match(text.strip())
        if match is None:
            raise InvalidAmountError(f"{text!r} is not a decimal amount")
        if len(match["whole"].lstrip("0")) > len(str(MAX_AMOUNT)):  # before int() reads it
            raise InvalidAmountError(f"{text[:40]!r} is more than any amount may be")
        frac = match["frac"] or ""
        if len(frac) > exponent:
            raise InvalidAmountError(
                f"{text!r} has {len(frac)} decimals; {currency} has {exponent}"
            )
        minor = int(match["whole"]) * 10**exponent + int(frac.ljust(exponent, "0") or 0)
        return cls(-minor if match["sign"] else minor, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @property
    def exponent(self) -> int:
        return EXPONENTS[self.currency]

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise InvalidAmountError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}",
                expected=self.currency,
                got=other.currency,
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def share(self, basis_points: int) -> Money:
        """The given share (1/10,000ths), rounded down so no one is overcharged."""
        check_minor_units(basis_points)
        return Money(share(self.minor, basis_points), self.currency)

    def decimal(self, grouped: bool = True) -> str:
        """The amount in the currency's decimals, without its code: '1,250.00' (grouped
        by thousands) or '1250.00' (what `parse` reads back exactly)."""
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**self.exponent)
        body = f"{whole:,}" if grouped else str(whole)
        return sign + body + (f".{frac:0{self.exponent}d}" if self.exponent else "")

    def format(self) -> str:
        """Render as a decimal string with the currency's exponent: '250.00 USD'."""
        return f"{self.decimal()} {self.currency}"

    def __str__(self) -> str:
        return self.format()
