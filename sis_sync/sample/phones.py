"""Phone numbers of the sample district, in the formats US SISs deliver them."""

from __future__ import annotations

AREA_CODE = "555"


def format_phone(number: int, style: int) -> str:
    """A 7-digit number (exchange 200-999 + line) in one of the common US formats."""
    exchange, line = divmod(number, 10000)
    a, e, ln = AREA_CODE, f"{exchange:03d}", f"{line:04d}"
    if style == 0:
        return f"({a}) {e}-{ln}"
    if style == 1:
        return f"{a}-{e}-{ln}"
    if style == 2:
        return f"{a}{e}{ln}"
    if style == 3:
        return f"+1{a}{e}{ln}"
    return f"{a}.{e}.{ln}"


def _phone_number(h: int) -> int:
    return 2_000_000 + h % 8_000_000
