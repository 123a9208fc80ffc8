#!/usr/bin/env python
"""Time of one termination decision: ray-autoterm vs Optuna's terminator vs plain BoTorch.

For n = 20, 50, 100, 200, 500, 1000 observations of a synthetic 5-fold CV objective (a noisy
quadratic in d = 2 and d = 9 dimensions on the unit cube), measured in the same process:

* ``ours cold``  a fresh :class:`AutoTermCriterion` (GP fitted from scratch);
* ``ours warm``  the realistic case: the same criterion evaluated on n-1, then on n observations;
                 the n-th is timed (warm-started hyperparameters, previous argmin reused);
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

A last table prototypes three changes to the library (here only, not in ray_autoterm/): reusing
slightly stale hyperparameters without a refit ("condition only"), a looser L-BFGS-B tolerance
for warm refits, and capping the fit at ``max_fit`` points.

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

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# One BLAS/OpenMP thread: CPU time then equals the work of the timed call (the machine is shared,
# so times are CPU times; wall times are printed alongside).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray_autoterm.criterion.regret import (  # noqa: E402
    confidence_bounds,
    regret_bound,
    regret_bound_beta,
    top_subset,
)
from ray_autoterm.criterion.terminator import AutoTermCriterion  # noqa: E402
from ray_autoterm.gp import GPFitter, build_gp, hyperparameters  # noqa: E402
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

    def fit(self, X: np.ndarray, y: np.ndarray, role: str = "bound") -> Any:
        before, evals = self.num_fits, _MLLCounter.count
        t0 = time.process_time()
        model = super().fit(X, y, role=role)
        if self.num_fits > before:
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


def ours_warm(records: list[TrialRecord], space: SearchSpace) -> dict[str, Any]:
    crit = AutoTermCriterion(fitter=TimedFitter())
    crit.evaluate(records[:-1], space)
    c, dec = timed(crit.evaluate, records, space)
    return {"t": c.cpu, "wall": c.wall, "fit": crit.fitter.last_fit_s,
            "evals": crit.fitter.last_mll_evals, "decision": dec, "crit": crit}


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
        lcb, _ = confidence_bounds(model, torch.as_tensor(X[i:i + chunk], dtype=torch.float64), beta)
        best = min(best, float(lcb.min()))
    return best


def exactness(crit: AutoTermCriterion, records: list[TrialRecord], space: SearchSpace,
              dense: int, seed: int) -> dict[str, float]:
    """min LCB on our GP by: ours, Optuna-style sampling, BoTorch-default optimize_acqf, dense."""
    from botorch.acquisition import UpperConfidenceBound
    from botorch.optim import optimize_acqf

    X_fit, y_fit = fit_data(records, space)
    n_fits = crit.fitter.num_fits
    model = crit.fitter.fit(X_fit, y_fit, role="bound")  # cache hit: the same GP
    assert crit.fitter.num_fits == n_fits, "exactness must use the decision's own GP"
    beta = regret_bound_beta(space.dim, len(y_fit))
    rng = np.random.default_rng(seed)
    at_fit = lcb_min(model, X_fit, beta)
    ours = regret_bound(model, X_fit, space.bounds, beta, (), crit._last_argmin,
                        num_restarts=crit.num_restarts, raw_samples=crit.raw_samples,
                        seed=crit.seed)
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
            "botorch": rel(botorch_default), "bound_dense": bound_dense}


# --------------------------------------------------------------------------- prototypes
def _proto_decision(crit: AutoTermCriterion, records: list[TrialRecord], space: SearchSpace,
                    *, refit: bool, options: dict[str, Any] | None = None,
                    max_fit: int | None = None) -> dict[str, Any]:
    """A warm decision as the criterion makes it, with a prototype change to the fit step.

    ``crit`` has evaluated earlier records; its fitter holds the warm hyperparameters and its
    last argmin. ``refit=False``: no MLL optimisation, the warm hyperparameters are simply
    conditioned on the new data. ``options``: L-BFGS-B options of the refit. ``max_fit``: fit
    on at most this many of the best points.
    """
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    with Clock() as c:
        X_fit, y_fit = fit_data(records, space)
        if max_fit is not None:
            X_fit, y_fit = X_fit[:max_fit], y_fit[:max_fit]
        warm = crit.fitter._warm[("bound", space.dim)]
        train_X = torch.as_tensor(X_fit, dtype=torch.float64)
        train_Y = torch.as_tensor(y_fit, dtype=torch.float64).unsqueeze(-1)
        model = build_gp(train_X, train_Y)
        model.load_state_dict(warm, strict=False)
        if refit:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                             optimizer_kwargs={"options": options or {}})
        model.eval()
        beta = regret_bound_beta(space.dim, len(y_fit))
        rb = regret_bound(model, X_fit, space.bounds, beta, (), crit._last_argmin,
                          num_restarts=crit.num_restarts, raw_samples=crit.raw_samples,
                          seed=crit.seed)
    return {"t": c.cpu, "wall": c.wall, "bound": rb.bound}


def prototypes(records: list[TrialRecord], space: SearchSpace, reference: float,
               max_fit: int, stale: float) -> dict[str, float]:
    """Time and Δbound (vs the full warm decision ``reference``) of three prototype changes."""
    n = len(records)
    out: dict[str, float] = {}

    def rel(b: float) -> float:
        return 100.0 * (b - reference) / reference

    # (1) condition only, hyperparameters from the fit at n / (1 + stale): what a policy
    #     "refit only when n_fit grew by `stale` since the last fit" sees at worst.
    m = min(n - 1, max(3, round(n / (1.0 + stale))))
    prep = AutoTermCriterion(fitter=TimedFitter())
    prep.evaluate(records[:m], space)
    r = _proto_decision(prep, records, space, refit=False)
    out["cond"], out["cond_db"] = r["t"], rel(r["bound"])
    # (2) warm refit from n-1 with a looser L-BFGS-B tolerance.
    prep = AutoTermCriterion(fitter=TimedFitter())
    prep.evaluate(records[:-1], space)
    r = _proto_decision(prep, records, space, refit=True,
                        options={"ftol": LOOSE_FTOL, "maxiter": LOOSE_MAXITER})
    out["loose"], out["loose_db"] = r["t"], rel(r["bound"])
    # (3) warm refit from n-1 on at most max_fit of the best points.
    if max(20, n // 2) > max_fit:
        r = _proto_decision(prep, records, space, refit=True, max_fit=max_fit)
        out["cap"], out["cap_db"] = r["t"], rel(r["bound"])
    return out


LOOSE_FTOL = 1e-6
LOOSE_MAXITER = 50


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
    botorch_baseline(recs, make_space(2))
    optuna_terminator(optuna_trials(recs, 2))

    for d in args.dims:
        space = make_space(d)
        for n in args.ns:
            acc: dict[str, list[float]] = {}

            def put(key: str, value: float) -> None:
                acc.setdefault(key, []).append(value)

            for rep in range(args.repeats):
                recs = make_records(n, d, rep)
                cold = ours_cold(recs, space)
                warm = ours_warm(recs, space)
                base = botorch_baseline(recs, space)
                opt = optuna_terminator(optuna_trials(recs, d))
                for key, res in (("cold", cold), ("warm", warm), ("base", base), ("optuna", opt)):
                    put(key, res["t"]); put(key + "_wall", res["wall"])
                put("cold_fit", cold["fit"]); put("cold_evals", cold["evals"])
                put("warm_fit", warm["fit"]); put("warm_evals", warm["evals"])
                put("bound_ours", warm["decision"].regret_bound)
                put("bound_base", base["bound"]); put("bound_optuna", opt["bound"])
                put("error", warm["decision"].statistical_error)
                ex = exactness(warm["crit"], recs, space, args.dense, rep)
                for k in ("ours", "optuna", "botorch"):
                    put(f"ex_{k}", ex[k])
                if args.prototypes:
                    for k, v in prototypes(recs, space, warm["decision"].regret_bound,
                                           args.max_fit, args.stale).items():
                        put(k, v)
            row = {"d": d, "n": n, "n_fit": max(20, n // 2) if n >= 20 else n}
            row.update({k: median(v) for k, v in acc.items()})
            rows.append(row)
            print(f"d={d} n={n:5d} n_fit={row['n_fit']:4d}  CPU ms: cold {1e3 * row['cold']:6.0f}"
                  f"  warm {1e3 * row['warm']:6.0f}  BoTorch {1e3 * row['base']:6.0f}  "
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
        f"{args.dense:,} points; total wall time {wall:.0f} s.\n")
    out.append(
        "Synthetic 5-fold CV objective: `f(x) = sum((x - 0.3)^2)` on [0,1]^d plus N(0, 0.05^2) "
        "fold noise. Every method fits the best half (at least 20) of the n observations. "
        "*cold*: a fresh criterion; *warm*: the same criterion evaluated on n-1 then on n "
        "observations, the n-th timed (the stopper's case); *BoTorch*: default `SingleTaskGP` + "
        "`fit_gpytorch_mll` + `optimize_acqf(UCB, num_restarts=10, raw_samples=512)`, no warm "
        "start; *Optuna*: `RegretBoundEvaluator().evaluate` + "
        "`CrossValidationErrorEvaluator().evaluate` on the same trials.\n")
    out.append("## Time of one decision: CPU ms (wall ms) and CPU-time ratios\n")
    out.append("CPU time of the calling process (all single-threaded), because other jobs share "
               "the cores; wall time in parentheses.\n")
    out.append("| d | n | n_fit | ours cold | ours warm | BoTorch | Optuna | warm/Optuna | "
               "cold/Optuna | warm/BoTorch | cold/BoTorch |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cell = lambda k: f"{ms(r[k])} ({ms(r[k + '_wall'])})"  # noqa: E731
        out.append(
            f"| {r['d']} | {r['n']} | {r['n_fit']} | {cell('cold')} | {cell('warm')} | "
            f"{cell('base')} | {cell('optuna')} | {ratio(r['warm'], r['optuna'])} | "
            f"{ratio(r['cold'], r['optuna'])} | {ratio(r['warm'], r['base'])} | "
            f"{ratio(r['cold'], r['base'])} |")
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
    out.append("CPU ms; MLL evals = function evaluations of L-BFGS-B in `fit_gpytorch_mll`.\n")
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
    if args.prototypes:
        out.append("\n## Prototyped changes (in this script only, not in ray_autoterm/)\n")
        out.append(
            f"CPU ms of one decision and Δbound relative to the full warm decision above. "
            f"*condition only*: no `fit_gpytorch_mll`; the hyperparameters of the fit at "
            f"n/{1 + args.stale:.2f} observations are conditioned on the n observations (a "
            f"\"refit when n_fit grew by {100 * args.stale:.0f}%\" policy, at its stalest). "
            f"*loose*: warm refit with L-BFGS-B `ftol={LOOSE_FTOL:g}, maxiter={LOOSE_MAXITER}` "
            f"(scipy's default ftol is 2.2e-9). *cap*: warm refit on at most the best "
            f"{args.max_fit} points.\n")
        out.append(f"| d | n | ours warm | condition only | Δbound | loose tol | Δbound | "
                   f"cap {args.max_fit} | Δbound |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            cap = (f"{ms(r['cap'])} | {r['cap_db']:+.1f}%" if "cap" in r else "— | —")
            out.append(f"| {r['d']} | {r['n']} | {ms(r['warm'])} | {ms(r['cond'])} | "
                       f"{r['cond_db']:+.1f}% | {ms(r['loose'])} | {r['loose_db']:+.1f}% | {cap} |")
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
    p.add_argument("--max-fit", type=int, default=200, help="cap of the cap prototype")
    p.add_argument("--stale", type=float, default=0.1,
                   help="condition-only prototype: hyperparameters from n/(1+stale)")
    p.add_argument("--no-prototypes", dest="prototypes", action="store_false")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "overhead.md"))
    args = p.parse_args(argv)
    if args.quick:
        args.ns = args.ns or [20, 100, 200]
        args.repeats = args.repeats or 1
        args.dense = args.dense or 20_000
    args.ns = args.ns or [20, 50, 100, 200, 500, 1000]
    args.repeats = args.repeats or 3
    args.dense = args.dense or 100_000
    t0 = time.perf_counter()
    res = run(args)
    text = render(res, args, time.perf_counter() - t0)
    print()
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
