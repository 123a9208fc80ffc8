"""One figure that shows why (and when) ray-autoterm ended a search.

Uses :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), so it is safe in scripts,
servers and notebooks alike, under any backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ray_autoterm.criterion.calibration import Prediction
    from ray_autoterm.criterion.decision import Decision

STOP_GID = "autoterm-stop"
"""``gid`` of the vertical stop lines and of the stop annotation (to find them in a figure)."""
NOT_STOPPED_GID = "autoterm-not-stopped"
"""``gid`` of the "not stopped yet" note shown while no decision has said stop."""

_BOUND, _ERROR, _INCUMBENT, _STOP = "C0", "C1", "C2", "C3"


def plot_decisions(
    decisions: Sequence[Decision], ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Plot the regret bound against the statistical error, and the incumbent, per trial count.

    The top panel shows the regret bound ``r̄_t`` (Eq. 8) and the statistical error ``ε``
    (Eq. 9, or the fixed threshold) on a log scale against the number of completed trials; the
    search stops at the first ``t`` where the bound drops below the error, marked by a dashed
    vertical line and an annotation with both numbers. Until then a boxed note says "not stopped
    yet" with the latest numbers. The bottom panel shows the best value so far (the incumbent's
    mean fold value, in the metric's units) as a step line.

    The incumbent gets its own panel, sharing the x axis, rather than a twin y axis: it is in
    metric units on a linear scale while the bound and error are magnitudes on a log scale, and
    two y scales on one panel invite reading the lines against the wrong one. When ``ax`` is
    given there is no room for a second panel, so the incumbent goes on ``ax.twinx()`` instead,
    and the title heads the legend above ``ax``.

    Missing numbers (``None``: too few trials, a failed fit) leave gaps in the lines.

    Args:
        decisions: The decisions, oldest first (``AutoTermStopper.decisions`` or
            :func:`ray_autoterm.report.load_decisions`).
        ax: Draw into these axes instead of a new figure.
        title: Figure title; default: whether and where the search stopped.

    Returns:
        The figure (``fig.savefig("report.png")`` writes it).

    Example:
        >>> from ray_autoterm import Decision
        >>> from ray_autoterm.plotting import plot_decisions
        >>> decisions = [
        ...     Decision(num_trials=t, should_stop=t == 30, reason="", regret_bound=1.0 / t,
        ...              statistical_error=0.04, incumbent_value=0.5 + 1.0 / t)
        ...     for t in range(5, 31)
        ... ]
        >>> fig = plot_decisions(decisions)
        >>> top, bottom = fig.axes
        >>> top.get_yscale(), len(top.get_lines()), bottom.get_xlabel()
        ('log', 3, 'completed trials')
        >>> fig.savefig("autoterm_report.png")  # doctest: +SKIP
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    decisions = list(decisions)
    if ax is None:
        fig = Figure(figsize=(8, 6), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    else:
        parent, top = ax.get_figure(), ax
        if not isinstance(parent, Figure):  # a SubFigure's axes: draw on its root figure
            parent = getattr(parent, "figure", None)
        if not isinstance(parent, Figure):
            raise ValueError("`ax` must belong to a matplotlib Figure")
        fig = parent
        bottom = ax.twinx()
    x = [d.num_trials for d in decisions]
    bound = [_positive(d.regret_bound) for d in decisions]
    error = [_positive(d.statistical_error) for d in decisions]
    source = decisions[-1].error_source if decisions else "cv"
    error_label = {"threshold": "error threshold",
                   "holdout": "holdout SE $\\epsilon$ (sd/$\\sqrt{n}$)"}.get(
        source, "statistical error $\\epsilon$ (Eq. 9)")
    top.plot(x, bound, color=_BOUND, marker=".", label="regret bound $\\bar r_t$ (Eq. 8)")
    screened = [(t, b) for t, b, d in zip(x, bound, decisions, strict=True)
                if not d.bound_exact]
    if screened:  # lower estimates: the LCB was only screened, enough to show r >= eps
        top.plot(*zip(*screened, strict=True), linestyle="none", marker="o",
                 markerfacecolor="white", color=_BOUND, markersize=4,
                 label="lower estimate (bound is at least this)")
    top.plot(x, error, color=_ERROR, marker=".", label=error_label)
    top.set_yscale("log")
    values = [v for v in bound + error if v == v]
    lo, hi = (min(values), max(values)) if values else (1e-3, 1.0)
    lo, hi = (lo / 2, hi * 2) if hi / lo < 4 else (lo / 1.3, hi * 1.3)
    top.set_ylim(lo, hi * (hi / lo) ** 0.3)  # a free band at the top (~20%) for the notes
    # Label 1-2-5 steps only: every minor tick of a log axis labelled is unreadable.
    top.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    top.yaxis.set_major_formatter(FuncFormatter(_tick))
    top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel("regret bound / error (log)")
    top.grid(True, which="major", alpha=0.3)

    mode = decisions[-1].mode if decisions else "min"
    inc = [_finite(d.incumbent_value) for d in decisions]
    bottom.plot(x, inc, color=_INCUMBENT, drawstyle="steps-post", label="best value so far")
    bottom.set_ylabel(f"best value so far\n({'lower' if mode == 'min' else 'higher'} is better)")
    (bottom if ax is None else top).set_xlabel("completed trials")
    if ax is None:
        bottom.grid(True, alpha=0.3)
    top.xaxis.set_major_locator(MaxNLocator(integer=True))

    stop = next((d for d in decisions if d.should_stop), None)
    if stop is not None:
        left_half = stop.num_trials < (min(x) + max(x)) / 2  # then annotate right of the line
        _mark_stop(stop, top, bottom if ax is None else None, left_half)
        status = f"stopped after {stop.num_trials} trials"
    else:
        _mark_not_stopped(decisions[-1] if decisions else None, top)
        status = f"not stopped yet ({x[-1]} trials)" if decisions else "no decisions yet"

    heading = f"ray-autoterm: {status}"
    heading = f"{title} — {heading}" if title else heading
    handles, labels = top.get_legend_handles_labels()
    if ax is None:  # above the top panel, clear of the data
        fig.suptitle(heading)
        top.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1.01), ncols=3,
                   fontsize="small", frameon=False, borderaxespad=0, handlelength=1.5)
    else:  # the caller's axes: one legend for both y axes, above them, headed by the title
        more_h, more_l = bottom.get_legend_handles_labels()
        top.legend(handles + more_h, labels + more_l, title=heading, loc="lower left",
                   bbox_to_anchor=(0, 1.01), ncols=2, fontsize="small", frameon=False,
                   borderaxespad=0, handlelength=1.5, alignment="left")
    return fig


def plot_calibration(
    record: Sequence[Prediction], level: float = 0.9, ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Plot the calibration record: each trial against the GP's prediction before it came.

    For every trial in ``record``
    (:attr:`~ray_autoterm.criterion.calibration.CalibratedRegretBoundEvaluator.record`), in
    order, a grey bar spans the earlier GP's one-sided ``level`` interval
    ``[μ − Φ⁻¹(level)·sd, μ]`` of its loss and a dot marks the loss that came; red dots fell
    below the interval's lower end (the search found better than the GP allowed). The title
    gives their share against the nominal ``1 − level``, and the scale ``s`` the calibrated
    bound widens ``sqrt(β_t)`` by (:func:`~ray_autoterm.criterion.calibration.
    calibration_scale`).

    Args:
        record: The calibration record, oldest first.
        level: The conformal level (the evaluator's ``level``).
        ax: Draw into these axes instead of a new figure.
        title: Figure title; default: the shares and the scale.

    Returns:
        The figure.

    Example:
        >>> from ray_autoterm.criterion.calibration import Prediction
        >>> from ray_autoterm.plotting import plot_calibration
        >>> rec = [Prediction(str(i), 10 + i, 1.0, 0.1, 0.05, 1.0 + 0.05 * (i % 5 - 2), 0.0)
        ...        for i in range(20)]
        >>> fig = plot_calibration(rec)
        >>> fig.axes[0].get_xlabel()
        'trials, in the order they came'
    """
    from matplotlib.figure import Figure

    from ray_autoterm.criterion.calibration import calibration_scale, normal_quantile

    record = list(record)
    if ax is None:
        fig = Figure(figsize=(8, 4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = cast("Figure", ax.get_figure())
    q = normal_quantile(level)
    x = list(range(1, len(record) + 1))
    lower = [p.mean - q * p.sd for p in record]
    ax.vlines(x, lower, [p.mean for p in record], color="0.6", linewidth=3, alpha=0.6,
              label=f"GP before the trial: [μ − {q:.2f}·sd, μ] ({level:.0%} one-sided)")
    below = [p.loss < lo for p, lo in zip(record, lower, strict=True)]
    for flag, color, label in ((False, _BOUND, "the trial's loss"),
                               (True, _STOP, "below the GP's interval")):
        pts = [(i, p.loss) for i, p, b in zip(x, record, below, strict=True) if b == flag]
        if pts:
            ax.plot(*zip(*pts, strict=True), linestyle="none", marker="o", markersize=4,
                    color=color, label=label)
    ax.set_xlabel("trials, in the order they came")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    share = sum(below) / len(record) if record else math.nan
    scale = calibration_scale([p.z for p in record], level)
    heading = (f"{sum(below)} of {len(record)} trials below the interval ({share:.0%}; "
               f"nominal {1 - level:.0%}): sqrt(β) × {scale:.2f}")
    ax.set_title(f"{title} — {heading}" if title else heading, fontsize="medium")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def _mark_stop(stop: Decision, top: Axes, bottom: Axes | None, right: bool) -> None:
    n = stop.num_trials
    top.axvline(n, color=_STOP, linestyle="--", linewidth=1.5, gid=STOP_GID,
                label=f"stop after {n} trials")
    if bottom is not None:
        bottom.axvline(n, color=_STOP, linestyle="--", linewidth=1.5, gid=STOP_GID)
    what = {"threshold": "threshold", "holdout": "holdout SE"}.get(stop.error_source, "error")
    numbers = f"bound {_fmt(stop.regret_bound)} < {what} {_fmt(stop.statistical_error)}"
    top.annotate(
        f"stop after {n} trials:\n{numbers}", xy=(n, 0.97), xycoords=("data", "axes fraction"),
        xytext=(8 if right else -8, 0), textcoords="offset points", ha="left" if right else "right",
        va="top", color=_STOP, fontsize="small", gid=STOP_GID,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": _STOP, "alpha": 0.9},
    )


def _mark_not_stopped(last: Decision | None, top: Axes) -> None:
    if last is None:
        note = "no decisions yet"
    else:
        note = (f"not stopped yet:\nbound {_fmt(last.regret_bound)} vs error "
                f"{_fmt(last.statistical_error)}\nafter {last.num_trials} trials")
    top.text(0.98, 0.97, note, transform=top.transAxes, ha="right", va="top", fontsize="small",
             gid=NOT_STOPPED_GID,
             bbox={"boxstyle": "round", "facecolor": "lightyellow", "edgecolor": "0.6"})


def _tick(value: float, _pos: Any = None) -> str:
    return f"{value:.2g}" if value < 1e4 else f"{value:.0e}"


def _positive(value: Any) -> float:
    v = _finite(value)
    return v if v > 0 else math.nan


def _finite(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
