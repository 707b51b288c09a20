"""Numbers in the seed's human form."""

from __future__ import annotations

_UNITS = ("B", "K", "M", "G", "T", "P")


def format_bytes(amount: float) -> str:
    """Bytes in powers of 1024 with two decimals, as the seed shows rates: "12.50K"."""
    value = float(amount)
    for unit in _UNITS[:-1]:
        # Compare the rounded text so 1023.999 becomes "1.00K", never "1024.00B".
        if round(abs(value), 2) < 1024:
            return f"{value:.2f}{unit}"
        value /= 1024
    return f"{value:.2f}{_UNITS[-1]}"
