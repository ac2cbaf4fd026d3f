"""What people read: one log line per interval, and the step summary (a table and Mermaid charts). Pure text."""

from __future__ import annotations

from collections.abc import Sequence

from hotfix_actions.decide.canary import fmt
from hotfix_actions.decide.canary.counters import histogram_quantile
from hotfix_actions.decide.canary.judge import Decision, Interval
from hotfix_actions.decide.canary.policy import Arm, Policy, Signal
from hotfix_actions.decide.canary.power import Detectable

__all__ = ["interval_line", "markdown"]

_MAX_ROWS = 120
_MAX_POINTS = 60


def _rate(arm: Arm | None) -> float | None:
    return fmt.rate_of(arm.errors, arm.requests) if arm is not None else None


def _p95(arm: Arm | None) -> float | None:
    if arm is None or arm.buckets is None:
        return None
    return histogram_quantile(0.95, arm.buckets)


def _arm_text(name: str, arm: Arm | None) -> str:
    if arm is None:
        return f"{name} -"
    return f"{name} {fmt.count(arm.requests)} req, err {fmt.pct(_rate(arm))}, p95 {fmt.seconds(_p95(arm))}"


def interval_line(iv: Interval, compare: bool = True) -> str:
    head = f"[{fmt.duration(iv.elapsed):>6}] #{iv.index}"
    if iv.status != "ok" and iv.canary is None:
        return f"{head} {iv.status}: {iv.note} | so far {iv.verdict.value}"
    parts = [_arm_text("canary" if compare else "deployment", iv.canary)]
    if compare:
        parts.append(_arm_text("baseline", iv.baseline))
        parts.append(f"E_err {fmt.e_value(iv.log_e_errors)} E_lat {fmt.e_value(iv.log_e_latency)}")
    breaches = [c.text for c in iv.checks if c.result.value not in ("ok", "not evaluated")]
    if breaches:
        parts.append("; ".join(breaches))
    line = f"{head} " + " | ".join(parts) + f" | so far {iv.verdict.value}"
    return line + (f" ({iv.note})" if iv.note else "")


def _limit(policy: Policy, signal: Signal) -> float | None:
    for g in policy.guardrails:
        if g.signal is signal and g.max is not None:
            return g.max
    return None


def _series(values: Sequence[float | None]) -> str:
    return "[" + ", ".join(f"{v:.4g}" if v is not None else "0" for v in values) + "]"


def _chart(title: str, axis: str, xs: list[str], lines: list[list[float | None]], legend: str) -> str:
    top = max((v for line in lines for v in line if v is not None), default=1.0) or 1.0
    body = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        f'    x-axis "elapsed (s)" [{", ".join(xs)}]',
        f'    y-axis "{axis}" 0 --> {top * 1.15:.4g}',
        *(f"    line {_series(line)}" for line in lines),
        "```",
        f"_Lines, in order: {legend}._",
        "",
    ]
    return "\n".join(body)


def _charts(policy: Policy, intervals: Sequence[Interval]) -> str:
    rows = [iv for iv in intervals if iv.canary is not None]
    if len(rows) < 2:
        return ""
    step = max(1, -(-len(rows) // _MAX_POINTS))
    rows = rows[::step]
    xs = [f"{iv.elapsed:.0f}" for iv in rows]
    names = ["canary", "baseline"] if policy.compare else ["deployment"]
    err_lines: list[list[float | None]] = [[_pct100(_rate(iv.canary)) for iv in rows]]
    p95_lines: list[list[float | None]] = [[_p95(iv.canary) for iv in rows]]
    if policy.compare:
        err_lines.append([_pct100(_rate(iv.baseline)) for iv in rows])
        p95_lines.append([_p95(iv.baseline) for iv in rows])
    err_names, p95_names = list(names), list(names)
    if (max_rate := _limit(policy, Signal.ERROR_RATE)) is not None:
        err_lines.append([max_rate * 100] * len(rows))
        err_names.append(f"guardrail max {fmt.pct(max_rate)}")
    if (max_p95 := _limit(policy, Signal.P95)) is not None:
        p95_lines.append([max_p95] * len(rows))
        p95_names.append(f"guardrail max {fmt.seconds(max_p95)}")
    note = " Intervals without data are left out." if step == 1 else f" One interval in {step} shown."
    return (
        _chart("Error rate per interval (%)", "error rate (%)", xs, err_lines, ", ".join(err_names) + "." + note[:-1])
        + "\n"
        + _chart("p95 latency per interval (s)", "p95 (s)", xs, p95_lines, ", ".join(p95_names))
    )


def _pct100(value: float | None) -> float | None:
    return value * 100 if value is not None else None


def markdown(
    policy: Policy,
    intervals: Sequence[Interval],
    decision: Decision,
    title: str,
    *,
    detectable: Sequence[Detectable] = (),
) -> str:
    parts = [f"### {title}: {decision.verdict.value} (rule: {decision.rule})\n"]
    parts += [f"- {line}" for line in decision.reasons]
    parts.append("")
    if detectable:
        parts.append("**What this run could have detected** (the smallest canary rate whose expected evidence reaches")
        parts.append("1/alpha with the traffic seen; a PASS says nothing about smaller regressions):\n")
        parts.append("| signal | smallest detectable canary rate | baseline rate | margin to detect | detected? |")
        parts.append("|---|---|---|---|---|")
        for d in detectable:
            rate = fmt.pct(d.rate) if d.rate is not None else "none"
            ok = "yes" if d.powered else "no (under-powered)"
            parts.append(f"| {d.signal} | {rate} | {fmt.pct(d.baseline_rate)} | {fmt.pct(d.target)} | {ok} |")
        parts.append("")
    head = ["#", "elapsed", "canary requests", "canary errors", "canary p95"]
    if policy.compare:
        head += ["baseline requests", "baseline errors", "baseline p95", "E errors", "E latency"]
    head += ["guardrails", "so far", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    shown = list(intervals)
    if len(shown) > _MAX_ROWS:
        shown = shown[: _MAX_ROWS // 2] + shown[-_MAX_ROWS // 2 :]
        parts.append(f"_{len(intervals)} intervals: the first and last {_MAX_ROWS // 2} are shown._\n")
    for iv in shown:
        cells = [str(iv.index), fmt.duration(iv.elapsed)]
        for arm in [iv.canary, iv.baseline] if policy.compare else [iv.canary]:
            cells += [fmt.count(arm.requests) if arm else "-", fmt.pct(_rate(arm)), fmt.seconds(_p95(arm))]
        if policy.compare:
            cells += [fmt.e_value(iv.log_e_errors), fmt.e_value(iv.log_e_latency)]
        flagged = [c.text for c in iv.checks if c.result.value not in ("ok", "not evaluated")]
        cells += ["; ".join(flagged) or ("ok" if iv.checks else "-"), iv.verdict.value, iv.note]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    parts.append("\n".join(lines) + "\n")
    charts = _charts(policy, intervals)
    if charts:
        parts.append(charts)
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")
