"""Argument checks shared by the public classes (one message template, see ``errors.invalid``)."""

from __future__ import annotations

import math
from typing import Any

from ray_autoterm.errors import invalid


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise invalid(name, value, f"an integer >= {minimum}")
    return value


def check_positive_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise invalid(name, value, f"a finite number {bound}")
    return float(value)


def check_open_unit(name: str, value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    if not ok:
        raise invalid(name, value, "a number strictly between 0 and 1")
    return float(value)


def check_mode(value: Any) -> str:
    if value not in ("min", "max"):
        raise invalid("mode", value, '"min" or "max"')
    return value


def check_key(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(name, value, "a non-empty string (a key of the trial's reported results)")
    return value
