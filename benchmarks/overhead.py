#!/usr/bin/env python
"""Time of one termination decision: ray-autoterm vs Optuna's terminator vs plain BoTorch.

For n = 20, 50, 100, 200, 500, 1000 observations of a synthetic 5-fold CV objective (a noisy
quadratic in d = 2 and d = 9 dimensions on the unit cube), measured in the same process:

* ``ours``       the stopper's case, as shipped: one criterion evaluated after every trial; the
                 mean over the last ``--window`` decisions up to n is reported (the fitter
                 re-optimises the GP hyperparameters after 10% new data and conditions the
                 warm GP in between, so a single decision would be unrepresentative);
* ``ours refit`` the same criterion evaluated on n-1, then on n observations, the n-th timed
                 with ``refit_growth=0`` (a warm-started hyperparameter fit at every decision);
* ``v0.1``       as ``ours refit`` with scipy's default L-BFGS-B tolerance (the first release);
* ``ours cold``  a fresh :class:`AutoTermCriterion` (GP fitted from scratch);
* ``BoTorch``    a straightforward BoTorch bound on the same top-half data: default
                 ``SingleTaskGP`` + ``fit_gpytorch_mll`` + ``optimize_acqf(UCB, num_restarts=10,
                 raw_samples=512)``, no warm start;
* ``Optuna``     ``RegretBoundEvaluator().evaluate`` + ``CrossValidationErrorEvaluator().evaluate``
                 on an Optuna trial list with the same params, values and CV scores.

All fit on the best half of the observations (at least 20), so n = 1000 fits 500 points.
Each time is the median over ``--repeats`` data sets (seeds). "Exactness" compares, on *our*
fitted GP and beta, the minimum of the LCB found by our optimiser, by Optuna's method (2048
uniform samples plus the fitted points), by ``optimize_acqf`` with BoTorch's defaults
(10 restarts / 512 raw samples), and by a dense uniform sample (``--dense`` points, 100k by
default, plus the fitted points). It is reported as ``(min_lcb(method) - min_lcb(dense)) /
bound(dense)`` in percent: lower is more exact; a positive value means the method missed part
of the LCB's minimum and would understate the regret bound by that fraction.

The Δbound column compares the exact bound (LCB minimised) on the shipped criterion's GP with the
same on a GP refitted at n: the price of keeping the hyperparameters between refits. The bound
columns of the exactness table are exact bounds too (a decision whose bound is above the error
records only a screened, lower estimate).

    python benchmarks/overhead.py            # full: ~5-10 min on 2 cores
    python benchmarks/overhead.py --quick    # ~1 min
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)

# CPU times are reported (the machine may be shared; wall times are printed alongside).
_bench.single_threaded()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ray_autoterm.criterion.regret import (  # noqa: E402
    confidence_bounds,
    regret_bound,
    regret_bound_beta,
    top_subset,
)
from ray_autoterm.criterion.terminator import AutoTermCriterion  # noqa: E402
from ray_autoterm.gp import GPFitter  # noqa: E402
from ray_autoterm.history import TrialRecord  # noqa: E402
from ray_autoterm.space import NumericParam, SearchSpace  # noqa: E402

warnings.filterwarnings("ignore")  # Optuna's experimental/deprecation warnings, BoTorch's notes

FOLDS = 5
FOLD_NOISE = 0.05
OPTIMUM = 0.3


# --------------------------------------------------------------------------- data
def make_records(n: int, d: int, seed: int) -> list[TrialRecord]:
    """n trials of a noisy quadratic on [0, 1]^d, 5 fold losses each (completion order)."""
    rng = np.random.default_rng(10_000 * d + seed)
    X = rng.random((n, d))
    f = ((X - OPTIMUM) ** 2).sum(1)
    folds = f[:, None] + FOLD_NOISE * rng.standard_normal((n, FOLDS))
    return [
        TrialRecord(f"t{i:05d}", {f"x{j}": float(X[i, j]) for j in range(d)},
                    [float(v) for v in folds[i]], None, True, i + 1)
        for i in range(n)
    ]


def make_space(d: int) -> SearchSpace:
    return SearchSpace([NumericParam((f"x{j}",), 0.0, 1.0) for j in range(d)])


def fit_data(records: list[TrialRecord], space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """The bound's training data, as the criterion selects it (best half, at least 20)."""
    X = space.encode_many([r.config for r in records])
    y = np.array([r.value for r in records])
    idx = top_subset(y, 20, 0.5)
    return X[idx], y[idx]


# --------------------------------------------------------------------------- instrumentation
class _MLLCounter:
    """Counts evaluations of the exact marginal log likelihood (L-BFGS function evaluations)."""

    count = 0

    @classmethod
    def install(cls) -> None:
        from gpytorch.mlls import ExactMarginalLogLikelihood

        original = ExactMarginalLogLikelihood.forward

        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            cls.count += 1
            return original(self, *args, **kwargs)

        ExactMarginalLogLikelihood.forward = forward


class TimedFitter(GPFitter):
    """A GPFitter that records the time and MLL evaluations of its last real fit."""

    last_fit_s = float("nan")
    last_mll_evals = 0

    def fit(self, X: np.ndarray, y: np.ndarray, role: str = "bound") -> Any:
        before, evals = self.num_refits, _MLLCounter.count
        t0 = time.process_time()
        model = super().fit(X, y, role=role)
        if self.num_refits > before:
            self.last_fit_s = time.process_time() - t0
            self.last_mll_evals = _MLLCounter.count - evals
        return model


class Clock:
    """CPU time (process) and wall time of a block: ``with Clock() as c: ...; c.cpu, c.wall``."""

    def __enter__(self) -> Clock:
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cpu = time.process_time() - self._c
        self.wall = time.perf_counter() - self._w


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Clock, Any]:
    with Clock() as c:
        out = fn(*args, **kwargs)
    return c, out


# --------------------------------------------------------------------------- the contenders
def ours_cold(records: list[TrialRecord], space: SearchSpace) -> dict[str, Any]:
    crit = AutoTermCriterion(fitter=TimedFitter())
    c, dec = timed(crit.evaluate, records, space)
    return {"t": c.cpu, "wall": c.wall, "fit": crit.fitter.last_fit_s,
            "evals": crit.fitter.last_mll_evals, "decision": dec, "crit": crit}


def ours_warm(records: list[TrialRecord], space: SearchSpace,
              default_tol: bool = False) -> dict[str, Any]:
    """A warm-started refit at n (``refit_growth=0``); ``default_tol``: scipy's tolerance."""
    import ray_autoterm.gp as gp

    crit = AutoTermCriterion(fitter=TimedFitter(refit_growth=0))
    crit.evaluate(records[:-1], space)
    saved = gp.WARM_FIT_OPTIONS
    gp.WARM_FIT_OPTIONS = {} if default_tol else saved
    try:
        c, dec = timed(crit.evaluate, records, space)
    finally:
        gp.WARM_FIT_OPTIONS = saved
    return {"t": c.cpu, "wall": c.wall, "fit": crit.fitter.last_fit_s,
            "evals": crit.fitter.last_mll_evals, "decision": dec, "crit": crit}


def ours_steady(records: list[TrialRecord], space: SearchSpace, window: int) -> dict[str, Any]:
    """The shipped criterion after every trial; mean cost of the last ``window`` decisions."""
    crit = AutoTermCriterion(fitter=TimedFitter())
    window = max(1, min(window, len(records) - 10))
    crit.evaluate(records[: len(records) - window], space)
    refits0 = crit.fitter.num_refits
    cpu, wall = 0.0, 0.0
    for k in range(len(records) - window + 1, len(records) + 1):
        c, dec = timed(crit.evaluate, records[:k], space)
        cpu, wall = cpu + c.cpu, wall + c.wall
    return {"t": cpu / window, "wall": wall / window, "decision": dec, "crit": crit,
            "refit_share": (crit.fitter.num_refits - refits0) / window}


def botorch_baseline(records: list[TrialRecord], space: SearchSpace) -> dict[str, Any]:
    """The straightforward BoTorch regret bound: default GP, default fit, optimize_acqf."""
    from botorch.acquisition import UpperConfidenceBound
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    clock = Clock().__enter__()
    X_fit, y_fit = fit_data(records, space)
    train_X = torch.as_tensor(X_fit, dtype=torch.float64)
    train_Y = torch.as_tensor(y_fit, dtype=torch.float64).unsqueeze(-1)
    model = SingleTaskGP(train_X, train_Y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    beta = regret_bound_beta(space.dim, len(y_fit))
    acqf = UpperConfidenceBound(model, beta=beta, maximize=False)
    bounds = torch.as_tensor(space.bounds, dtype=torch.float64)
    _, val = optimize_acqf(acqf, bounds=bounds, q=1, num_restarts=10, raw_samples=512)
    _, ucb = confidence_bounds(model, train_X, beta)
    bound = float(ucb.min()) + float(val)  # min_ucb - min_lcb, val = -min_lcb
    clock.__exit__()
    return {"t": clock.cpu, "wall": clock.wall, "bound": bound}


def optuna_trials(records: list[TrialRecord], d: int) -> list[Any]:
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    dists = {f"x{j}": FloatDistribution(0.0, 1.0) for j in range(d)}
    # report_cross_validation_scores stores the folds under this system attr.
    return [
        create_trial(params=dict(r.config), distributions=dists, value=r.value,
                     system_attrs={"terminator:cv_scores": list(r.fold_scores)})
        for r in records
    ]


def optuna_terminator(trials: list[Any]) -> dict[str, Any]:
    from optuna.study import StudyDirection
    from optuna.terminator import CrossValidationErrorEvaluator, RegretBoundEvaluator

    with Clock() as c:
        bound = RegretBoundEvaluator(seed=0).evaluate(trials, StudyDirection.MINIMIZE)
        error = CrossValidationErrorEvaluator().evaluate(trials, StudyDirection.MINIMIZE)
    return {"t": c.cpu, "wall": c.wall, "bound": float(bound), "error": float(error)}


# --------------------------------------------------------------------------- exactness
def lcb_min(model: Any, X: np.ndarray, beta: float, chunk: int = 8192) -> float:
    best = math.inf
    for i in range(0, len(X), chunk):
        lcb, _ = confidence_bounds(model, torch.as_tensor(X[i:i + chunk], dtype=torch.float64),
                                   beta)
        best = min(best, float(lcb.min()))
    return best


def exactness(crit: AutoTermCriterion, records: list[TrialRecord], space: SearchSpace,
              dense: int, seed: int) -> dict[str, float]:
    """min LCB on our GP by: ours, Optuna-style sampling, BoTorch-default optimize_acqf, dense."""
    from botorch.acquisition import UpperConfidenceBound
    from botorch.optim import optimize_acqf

    bound: Any = crit.improvement_evaluator  # the RegretBoundEvaluator of the paper's rule
    X_fit, y_fit = fit_data(records, space)
    n_fits = crit.fitter.num_fits
    model = crit.fitter.fit(X_fit, y_fit, role="bound")  # cache hit: the same GP
    assert crit.fitter.num_fits == n_fits, "exactness must use the decision's own GP"
    beta = regret_bound_beta(space.dim, len(y_fit))
    rng = np.random.default_rng(seed)
    at_fit = lcb_min(model, X_fit, beta)
    ours = regret_bound(model, X_fit, space.bounds, beta, (), bound._last_argmin,
                        num_restarts=bound.num_restarts, raw_samples=bound.raw_samples,
                        seed=bound.seed)
    _, ucb_fit = confidence_bounds(model, torch.as_tensor(X_fit), beta)
    optuna_style = min(at_fit, lcb_min(model, rng.random((2048, space.dim)), beta))
    dense_min = min(at_fit, lcb_min(model, rng.random((dense, space.dim)), beta))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        acqf = UpperConfidenceBound(model, beta=beta, maximize=False)
        _, val = optimize_acqf(acqf, bounds=torch.as_tensor(space.bounds), q=1,
                               num_restarts=10, raw_samples=512)
    botorch_default = min(at_fit, -float(val))
    bound_dense = float(ucb_fit.min()) - dense_min

    def rel(v: float) -> float:
        return 100.0 * (v - dense_min) / bound_dense

    return {"ours": rel(ours.min_lcb), "optuna": rel(optuna_style),
            "botorch": rel(botorch_default), "bound_dense": bound_dense,
            "bound_exact": ours.bound}


def exact_bound(crit: AutoTermCriterion, records: list[TrialRecord], space: SearchSpace) -> float:
    """Eq. 8 with the LCB minimised (no screening) on the GP the criterion's last decision used."""
    bound: Any = crit.improvement_evaluator  # the RegretBoundEvaluator of the paper's rule
    X_fit, y_fit = fit_data(records, space)
    model = crit.fitter.fit(X_fit, y_fit, role="bound")  # a cache hit
    beta = regret_bound_beta(space.dim, len(y_fit))
    return regret_bound(model, X_fit, space.bounds, beta, (), bound._last_argmin,
                        num_restarts=bound.num_restarts, raw_samples=bound.raw_samples,
                        seed=bound.seed).bound


# --------------------------------------------------------------------------- driver
def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    _MLLCounter.install()
    rows: list[dict[str, Any]] = []
    # Warm-up: imports, torch/BoTorch first-call costs, Optuna's lazy modules.
    recs = make_records(25, 2, 99)
    ours_warm(recs, make_space(2))
    ours_steady(recs, make_space(2), 3)
    botorch_baseline(recs, make_space(2))
    optuna_terminator(optuna_trials(recs, 2))

    for d in args.dims:
        space = make_space(d)
        for n in args.ns:
            acc: dict[str, list[float]] = {}

            def put(key: str, value: float, acc: dict[str, list[float]] = acc) -> None:
                acc.setdefault(key, []).append(value)

            for rep in range(args.repeats):
                recs = make_records(n, d, rep)
                cold = ours_cold(recs, space)
                warm = ours_warm(recs, space)
                old = ours_warm(recs, space, default_tol=True)
                ours = ours_steady(recs, space, args.window)
                base = botorch_baseline(recs, space)
                opt = optuna_terminator(optuna_trials(recs, d))
                for key, res in (("cold", cold), ("warm", warm), ("old", old), ("ours", ours),
                                 ("base", base), ("optuna", opt)):
                    put(key, res["t"])
                    put(key + "_wall", res["wall"])
                put("cold_fit", cold["fit"])
                put("cold_evals", cold["evals"])
                put("warm_fit", warm["fit"])
                put("warm_evals", warm["evals"])
                b_ours, b_refit = (exact_bound(ours["crit"], recs, space),
                                   exact_bound(warm["crit"], recs, space))
                put("bound_refit", b_refit)
                put("refit_share", ours["refit_share"])
                put("screened", float(not ours["decision"].bound_exact))
                put("db", 100.0 * (b_ours - b_refit) / b_refit)
                put("bound_base", base["bound"])
                put("bound_optuna", opt["bound"])
                put("error", warm["decision"].statistical_error)
                ex = exactness(ours["crit"], recs, space, args.dense, rep)
                put("bound_ours", ex["bound_exact"])
                for k in ("ours", "optuna", "botorch"):
                    put(f"ex_{k}", ex[k])
            row = {"d": d, "n": n, "n_fit": max(20, n // 2) if n >= 20 else n}
            row.update({k: median(v) for k, v in acc.items()})
            rows.append(row)
            print(f"d={d} n={n:5d} n_fit={row['n_fit']:4d}  CPU ms: ours {1e3 * row['ours']:6.0f}"
                  f"  refit {1e3 * row['warm']:6.0f}  v0.1 {1e3 * row['old']:6.0f}"
                  f"  cold {1e3 * row['cold']:6.0f}  BoTorch {1e3 * row['base']:6.0f}  "
                  f"Optuna {1e3 * row['optuna']:6.0f}   (wall: {1e3 * row['cold_wall']:.0f} / "
                  f"{1e3 * row['warm_wall']:.0f} / {1e3 * row['base_wall']:.0f} / "
                  f"{1e3 * row['optuna_wall']:.0f})", flush=True)
    return {"rows": rows}


def render(res: dict[str, Any], args: argparse.Namespace, wall: float) -> str:
    rows = res["rows"]
    ms = lambda s: f"{1e3 * s:.0f}"  # noqa: E731
    ratio = lambda a, b: f"{a / b:.2f}"  # noqa: E731
    out = []
    out.append("# Decision overhead: ray-autoterm vs Optuna's terminator vs plain BoTorch\n")
    out.append(
        f"`python benchmarks/overhead.py{' --quick' if args.quick else ''}` — "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average "
        f"{os.getloadavg()[0]:.1f} at the end), torch {torch.__version__} with "
        f"{args.threads} thread(s); median of {args.repeats} data sets; dense sample "
        f"{args.dense:,} points; total wall time {wall:.0f} s. Code: {args.code}.\n")
    out.append(
        "Synthetic 5-fold CV objective: `f(x) = sum((x - 0.3)^2)` on [0,1]^d plus N(0, 0.05^2) "
        "fold noise. Every method fits the best half (at least 20) of the n observations. "
        f"*ours*: the shipped criterion evaluated after every trial, mean of the last "
        f"{args.window} decisions up to n (hyperparameters re-optimised after 10% new data, the "
        "warm GP conditioned in between; *refit share*: the share of those decisions that "
        "re-optimised); *ours refit*: a warm-started hyperparameter fit at n (`refit_growth=0`); "
        "*v0.1*: the same with scipy's default tolerance, as first released; *cold*: a fresh "
        "criterion; *BoTorch*: default `SingleTaskGP` + `fit_gpytorch_mll` + "
        "`optimize_acqf(UCB, num_restarts=10, raw_samples=512)`, no warm start; *Optuna*: "
        "`RegretBoundEvaluator().evaluate` + `CrossValidationErrorEvaluator().evaluate` on the "
        "same trials. *Δbound*: the exact bound (LCB minimised) on ours' GP against the same on "
        "the refitted GP: the price of the stale hyperparameters. *screened*: the share of data "
        "sets where ours' decision at n only screened the LCB (its bound was above ε; the "
        "decision is the same, see `AutoTermCriterion(exact_bound=...)`).\n")
    out.append("## Time of one decision: CPU ms (wall ms) and CPU-time ratios\n")
    out.append("CPU time of the calling process (all single-threaded), because other jobs share "
               "the cores; wall time in parentheses.\n")
    out.append("| d | n | n_fit | ours | refit share | screened | Δbound | ours refit | v0.1 | "
               "ours cold | BoTorch | Optuna | ours/Optuna | ours/BoTorch | ours/v0.1 |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cell = lambda k, r=r: f"{ms(r[k])} ({ms(r[k + '_wall'])})"  # noqa: E731
        out.append(
            f"| {r['d']} | {r['n']} | {r['n_fit']} | {cell('ours')} | {r['refit_share']:.2f} | "
            f"{r['screened']:.2f} | {r['db']:+.1f}% | {cell('warm')} | {cell('old')} | "
            f"{cell('cold')} | "
            f"{cell('base')} | {cell('optuna')} | {ratio(r['ours'], r['optuna'])} | "
            f"{ratio(r['ours'], r['base'])} | {ratio(r['ours'], r['old'])} |")
    out.append("\n## Exactness of the LCB minimum (on our GP and β)\n")
    out.append("`(min_lcb(method) - min_lcb(dense)) / bound(dense)` in %, median over data sets: "
               "lower is more exact; > 0 means the method missed part of the minimum, so the "
               "bound would be understated by that fraction (the rule could stop too early). "
               f"Dense = {args.dense:,} uniform points + the fitted points. The regret bounds of "
               "the three implementations (each on its own GP) and the CV error are given for "
               "reference.\n")
    out.append("| d | n | ours (8 restarts, 256 raw, fitted pts, last argmin) | Optuna-style "
               "(2048 uniform + fitted pts) | optimize_acqf defaults (10/512) | bound ours | "
               "bound BoTorch | bound Optuna | CV error ε |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        out.append(
            f"| {r['d']} | {r['n']} | {r['ex_ours']:+.2f} | {r['ex_optuna']:+.2f} | "
            f"{r['ex_botorch']:+.2f} | {r['bound_ours']:.4f} | {r['bound_base']:.4f} | "
            f"{r['bound_optuna']:.4f} | {r['error']:.4f} |")
    out.append("\n## How our decision's cost grows with n\n")
    out.append("CPU ms of *ours refit* (a warm-started fit at every decision) and *ours cold*; "
               "MLL evals = function evaluations of L-BFGS-B in `fit_gpytorch_mll`.\n")
    out.append("| d | n | n_fit | cold fit | cold MLL evals | warm fit | warm MLL evals | "
               "warm ms per MLL eval | warm rest (LCB min., encoding) |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = r["warm_fit"] / max(r["warm_evals"], 1)
        out.append(
            f"| {r['d']} | {r['n']} | {r['n_fit']} | {ms(r['cold_fit'])} | "
            f"{r['cold_evals']:.0f} | {ms(r['warm_fit'])} | {r['warm_evals']:.0f} | "
            f"{1e3 * per:.1f} | {ms(r['warm'] - r['warm_fit'])} |")
    for d in args.dims:
        sub = [r for r in rows if r["d"] == d and r["n_fit"] >= 50]
        if len(sub) >= 2:
            x = np.log([r["n_fit"] for r in sub])
            per_eval = np.log([r["warm_fit"] / max(r["warm_evals"], 1) for r in sub])
            fit = np.log([r["warm_fit"] for r in sub])
            total = np.log([r["warm"] for r in sub])
            out.append(
                f"\nd = {d}, n_fit 50..{sub[-1]['n_fit']} (log-log slopes): warm fit ∝ "
                f"n_fit^{np.polyfit(x, fit, 1)[0]:.2f}, one MLL evaluation ∝ "
                f"n_fit^{np.polyfit(x, per_eval, 1)[0]:.2f}, whole warm decision ∝ "
                f"n_fit^{np.polyfit(x, total, 1)[0]:.2f}.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="~1 min: n up to 200, 1 repeat")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--ns", type=int, nargs="+", default=None)
    p.add_argument("--dims", type=int, nargs="+", default=[2, 9])
    p.add_argument("--dense", type=int, default=None, help="dense LCB sample size (100000)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the "
                   "machine is shared; the stopper's worker competes with Ray anyway)")
    p.add_argument("--window", type=int, default=20,
                   help="decisions averaged for `ours` (the last ones up to n)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "overhead.md"))
    args = p.parse_args(argv)
    if args.quick:
        args.ns = args.ns or [20, 100, 200]
        args.repeats = args.repeats or 1
        args.dense = args.dense or 20_000
    args.ns = args.ns or [20, 50, 100, 200, 500, 1000]
    args.repeats = args.repeats or 3
    args.dense = args.dense or 100_000
    args.code = _bench.describe(_bench.provenance())  # the code as it was when the run started
    t0 = time.perf_counter()
    res = run(args)
    _bench.write_report(render(res, args, time.perf_counter() - t0), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
