"""The click side of `decide.durations`: every duration option takes 90, 90s, 5m or 1h30m, like `.hotfix.yml`."""

from __future__ import annotations

from typing import Any

import click

from hotfix_actions.decide.durations import Bounds, DurationError, parse_duration

__all__ = ["ANY_DURATION", "POSITIVE_DURATION", "DurationParam"]


class DurationParam(click.ParamType[float]):
    """A duration option: converts to seconds (float) before the command runs; a bad value exits 2 saying what is
    wrong and a corrected example, before anything connects anywhere."""

    name = "duration"

    def __init__(self, bounds: Bounds | None = None) -> None:
        self.bounds = bounds or Bounds()

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = value.strip() if isinstance(value, str) else value
        try:
            return parse_duration(text, self.bounds)
        except DurationError as exc:
            self.fail(f"{exc.shown} {exc.problem}; e.g. {exc.example}", param, ctx)

    def __repr__(self) -> str:
        return "DURATION"


ANY_DURATION = DurationParam()
POSITIVE_DURATION = DurationParam(Bounds(above=True))
