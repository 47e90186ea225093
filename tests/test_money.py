"""Money: integer minor units, exact parsing, the right exponent per currency, no floats."""

import pytest

from engine.domain.errors import CurrencyMismatchError, InvalidAmountError, UnknownCurrencyError
from engine.domain.money import EXPONENTS, Money


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "EUR", 1),
        ("1500", "JPY", 1500),
        ("1.234", "BHD", 1234),
        ("-3.10", "GBP", -310),
        ("  7.00 ", "USD", 700),
        ("1.2345", "CLF", 12345),
    ],
)
def test_parse_is_exact(text, currency, minor):
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.505", "USD"), ("1.5", "JPY"), ("1.2345", "BHD"), ("0.001", "EUR")],
)
def test_more_decimals_than_the_currency_has_are_refused(text, currency):
    with pytest.raises(InvalidAmountError, match="decimals"):
        Money.parse(text, currency)


@pytest.mark.parametrize("text", ["", "abc", "1,50", "1e3", "1.", ".5", "--1", "NaN", "1.2.3"])
def test_non_decimal_text_is_refused(text):
    with pytest.raises(InvalidAmountError):
        Money.parse(text, "USD")


@pytest.mark.parametrize("value", [12.5, 1.0, True, "12", None])
def test_only_true_integers_are_amounts(value):
    with pytest.raises(InvalidAmountError):
        Money(value, "USD")


def test_parse_refuses_a_float_argument():
    with pytest.raises(InvalidAmountError):
        Money.parse(12.5, "USD")


@pytest.mark.parametrize("code", ["usd", "XXX", "US", "", None, "BTC"])
def test_unknown_currencies_are_refused(code):
    with pytest.raises(UnknownCurrencyError):
        Money(1, code)


def test_exponents_follow_iso_4217():
    assert (EXPONENTS["JPY"], EXPONENTS["USD"], EXPONENTS["BHD"], EXPONENTS["CLF"]) == (0, 2, 3, 4)
    assert (EXPONENTS["KRW"], EXPONENTS["KWD"], EXPONENTS["EUR"]) == (0, 3, 2)


def test_arithmetic_keeps_currency_and_refuses_mixing():
    assert Money(150, "USD") + Money(50, "USD") == Money(200, "USD")
    assert Money(150, "USD") - Money(200, "USD") == Money(-50, "USD")
    assert Money(1, "USD") < Money(2, "USD")
    with pytest.raises(CurrencyMismatchError):
        Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(InvalidAmountError):
        Money(1, "USD") + 1


def test_share_rounds_down_so_no_one_is_overcharged():
    assert Money(999, "USD").share(500) == Money(49, "USD")  # 49.95 -> 49
    assert Money(10_000, "USD").share(10_000) == Money(10_000, "USD")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1_000_000, "USD"), "10,000.00 USD"),
        (Money(1500, "JPY"), "1,500 JPY"),
        (Money(1234, "BHD"), "1.234 BHD"),
        (Money(-5, "EUR"), "-0.05 EUR"),
    ],
)
def test_format_uses_the_currency_exponent(money, text):
    assert money.format() == text
    assert Money.parse(text.split()[0].replace(",", ""), money.currency) == money
