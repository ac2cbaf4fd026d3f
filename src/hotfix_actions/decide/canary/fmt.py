"""Numbers as people read them in reasons, log lines and tables."""

from __future__ import annotations

import math

__all__ = ["count", "duration", "e_value", "pct", "rate_of", "seconds"]


def pct(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 0.001:
        return f"{value * 100:.3f}%"
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def duration(value: float) -> str:
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def count(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def e_value(log_e: float) -> str:
    """An e-value from its log: 3 significant digits, scientific beyond 10^5."""
    if log_e > 700:
        return "huge"
    value = math.exp(log_e)
    if value >= 1e5:
        return f"{value:.2e}"
    return f"{value:.3g}"


def rate_of(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole
