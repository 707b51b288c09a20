"""The configuration reference, generated from config.py so it cannot drift from the code.

`python -m pgwarden.config_reference docs/configuration.md` rewrites the part of that file
between the markers; a test fails when the committed file differs from what this makes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from pgwarden.config import ENV_PREFIX, SECTIONS, bounds, choices, libpq_variable

BEGIN = "<!-- BEGIN GENERATED: python -m pgwarden.config_reference docs/configuration.md -->"
END = "<!-- END GENERATED -->"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _toml(value: Any) -> str:
    if value is None:
        return '`""` (unset)'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    if isinstance(value, tuple):
        return "`[]`" if not value else "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    return f'`"{value}"`'


def _bounds(info: FieldInfo) -> str:
    low, high = bounds(info)
    if low is not None and high is not None:
        return f" From {_number(low)} to {_number(high)}."
    if low is not None:
        return f" At least {_number(low)}."
    if high is not None:
        return f" At most {_number(high)}."
    if choices(info):
        return " One of " + ", ".join(f"`{c}`" for c in choices(info)) + "."
    return ""


def reference() -> str:
    """One table per section: key, default, environment variables, meaning and bounds."""
    out = []
    for section, cls in SECTIONS.items():
        out.append(f"### `[{section}]`\n")
        out.append("| key | default | environment | meaning |")
        out.append("|---|---|---|---|")
        for name, info in cls.model_fields.items():
            env = f"`{ENV_PREFIX}{section.upper()}_{name.upper()}`"
            if libpq_variable(info):
                env += f", then `{libpq_variable(info)}`"
            doc = (info.description or "").replace("|", "\\|") + _bounds(info)
            out.append(f"| `{name}` | {_toml(info.default)} | {env} | {doc} |")
        out.append("")
    return "\n".join(out)


def rewrite(text: str) -> str:
    """The text with the generated part between the markers replaced."""
    head, found, rest = text.partition(BEGIN)
    if not found or END not in rest:
        raise ValueError("the generated-part markers are missing")
    tail = rest.split(END, 1)[1]
    return f"{head}{BEGIN}\n{reference()}{END}{tail}"


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        path.write_text(rewrite(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
