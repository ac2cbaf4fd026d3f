"""Polls recorded as JSON lines (``--record``) and read back (``--replay``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hotfix_actions.decide.canary.observe import Poll, QueryResult
from hotfix_actions.errors import UsageError

__all__ = ["poll_to_json", "read_polls", "recording"]


def poll_to_json(poll: Poll) -> str:
    results = {
        role: {
            m: {"error": r.error} if r.error is not None else {"samples": [[dict(lb), v] for lb, v in r.samples]}
            for m, r in metrics.items()
        }
        for role, metrics in poll.results.items()
    }
    doc = {"elapsed": poll.elapsed, "at": poll.at, "results": results, "ready": poll.ready}
    if poll.canary_lag:
        doc["canary_lag"] = poll.canary_lag
    return json.dumps(doc, sort_keys=True, allow_nan=True)


@contextmanager
def recording(path: Path | None) -> Iterator[Callable[[Poll], None] | None]:
    """A function that appends each poll to ``path`` as a JSON line (for --replay), or None without a path."""
    if path is None:
        yield None
        return
    with path.open("a", encoding="utf-8") as fh:

        def write(poll: Poll) -> None:
            fh.write(poll_to_json(poll) + "\n")
            fh.flush()

        yield write


def read_polls(path: Path) -> Iterator[Poll]:
    """Polls recorded with --record (JSON lines); a malformed line is a usage error naming the line."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                results = {
                    role: {
                        m: QueryResult(error=str(r["error"]))
                        if "error" in r
                        else QueryResult(tuple((tuple(sorted(lb.items())), float(v)) for lb, v in r["samples"]))
                        for m, r in metrics.items()
                    }
                    for role, metrics in doc["results"].items()
                }
                ready = {role: (int(v[0]), int(v[1])) for role, v in (doc.get("ready") or {}).items()}
                lag = float(doc.get("canary_lag") or 0.0)
                yield Poll(float(doc["elapsed"]), float(doc["at"]), results, ready, lag)
            except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                raise UsageError(f"{path}:{number}: not a recorded poll ({exc})", input_name="--replay") from exc
