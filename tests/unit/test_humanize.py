from __future__ import annotations

import pytest

from pgwarden.humanize import format_bytes


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "0.00B"),
        (0.4, "0.40B"),
        (1023, "1023.00B"),
        (1023.999, "1.00K"),
        (1024, "1.00K"),
        (12.5 * 1024, "12.50K"),
        (10 * 1024**2, "10.00M"),
        (3 * 1024**3, "3.00G"),
        (1.5 * 1024**4, "1.50T"),
        (2 * 1024**5, "2.00P"),
        (5000 * 1024**5, "5000.00P"),
    ],
)
def test_seed_human_form(amount: float, text: str) -> None:
    assert format_bytes(amount) == text
