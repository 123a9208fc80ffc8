"""The named stopping rules: presets of an improvement evaluator, an error evaluator and a test.

:func:`preset` builds the three parts of a rule in :data:`RULES` (``AutoTermCriterion(rule=...)``
calls it). Errors (what the improvement is compared with,
:mod:`~ray_autoterm.criterion.error_evaluators`):

* ``"cv"``: the incumbent's own Eq. 9 error (the paper's);
* ``"paired"``: the error of telling the incumbent apart from its closest rivals, from the
  fold-wise differences (:func:`paired_error`);
* ``"pooled"``: Eq. 9 pooled over the best few configurations (:func:`pooled_error`).

Tests (what decides, with its improvement evaluator):

* ``"bound"``: Eq. 10, ``r̄_t < ε`` (the paper's; :class:`~ray_autoterm.criterion.bound.
  RegretBoundEvaluator`, :class:`~ray_autoterm.criterion.stopping_tests.BoundBelowError`);
  ``"kernel-ensemble"`` and ``"kernel-bma"`` take ``r̄_t`` over one GP per kernel, as their
  maximum or their Bayesian model average (:class:`~ray_autoterm.criterion.ensemble.
  KernelEnsembleRegretBoundEvaluator`);
* ``"prb"``: Wilson (2024), stop when ``P(f(γ*_t) − min f <= ε) >= 1 − δ`` under the GP posterior
  (:mod:`~ray_autoterm.criterion.prb`); ``"prb-3"`` requires it at 3 consecutive decisions;
* ``"emsr-gap"``: Ishibashi et al. (AISTATS 2023), stop when the bound on the change of the
  expected minimum simple regret between consecutive steps falls below its own threshold
  (:mod:`~ray_autoterm.criterion.emsr`).

The formulas of the successors are re-exported here from their modules.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, NamedTuple

from ray_autoterm._validation import (
    check_open_unit,
    check_positive_float,
    check_positive_int,
)
from ray_autoterm.criterion.bound import RegretBoundEvaluator, check_fit_subset, check_seed
from ray_autoterm.criterion.calibration import CalibratedRegretBoundEvaluator
from ray_autoterm.criterion.cv_error import cv_statistical_error
from ray_autoterm.criterion.emsr import (
    EMSRGapEvaluator,
    emsr_gap,
    emsr_gap_threshold,
    expected_improvement_gap,
    kl_one_observation,
)
from ray_autoterm.criterion.ensemble import KernelEnsembleRegretBoundEvaluator
from ray_autoterm.criterion.error_evaluators import (
    BaseErrorEvaluator,
    CrossValidationErrorEvaluator,
    PairedErrorEvaluator,
    PooledErrorEvaluator,
    StaticErrorEvaluator,
    paired_error,
    pooled_error,
)
from ray_autoterm.criterion.improvement import NOISES, BaseImprovementEvaluator
from ray_autoterm.criterion.prb import (
    ProbabilisticRegretEvaluator,
    regret_probability,
    regret_quantile,
    regret_samples,
)
from ray_autoterm.criterion.stopping_tests import (
    BaseStoppingTest,
    BoundBelowError,
    GapBelowThreshold,
    RegretProbablyBelowError,
    consecutive_count,
)
from ray_autoterm.errors import invalid

if TYPE_CHECKING:
    from ray_autoterm.gp import GPFitter


@dataclasses.dataclass(frozen=True)
class Rule:
    """A named stopping rule: which test, which error, which GP noise, how many decisions.

    Attributes:
        test: ``"bound"`` (Eq. 10), ``"prb"`` (Wilson 2024) or ``"emsr-gap"`` (Ishibashi 2023).
        error: ``"cv"`` (Eq. 9 of the incumbent), ``"paired"`` or ``"pooled"``.
        noise: ``"learned"`` (one homoscedastic noise term) or ``"cv"`` (each trial's Eq. 9
            variance as its known noise).
        consecutive: The test must hold at this many consecutive decisions.
        prb_delta: ``"prb"``: stop once ``P(regret <= ε) >= 1 − prb_delta``.
        calibrate: ``"bound"``: widen ``sqrt(β_t)`` by the GP's out-of-sample record on the
            search's own next trials (:mod:`~ray_autoterm.criterion.calibration`).
        ensemble: ``"bound"``: ``None`` (one Matérn-5/2 GP, the paper's), or how the bounds of
            one GP per kernel are combined, ``"max"`` or ``"bma"``
            (:mod:`~ray_autoterm.criterion.ensemble`).
        description: One line for the decision's reason and the README.
    """

    test: str = "bound"
    error: str = "cv"
    noise: str = "learned"
    consecutive: int = 1
    prb_delta: float = 0.05
    calibrate: bool = False
    ensemble: str | None = None
    description: str = ""


RULES: dict[str, Rule] = {
    "paper": Rule(description="Eq. 10: regret bound < the incumbent's CV error (Eq. 9)"),
    "paired": Rule(error="paired", description="regret bound < the paired error of the "
                   "incumbent against its closest rivals"),
    "pooled": Rule(error="pooled", description="regret bound < the CV error pooled over the "
                   "best configurations"),
    "cv-noise": Rule(noise="cv", description="regret bound of a GP with each trial's CV "
                     "variance as known noise < the incumbent's CV error"),
    "prb": Rule(test="prb", description="probabilistic regret bound (Wilson 2024): "
                "P(regret <= CV error) >= 1 - δ under the GP"),
    "prb-3": Rule(test="prb", consecutive=3, description="probabilistic regret bound "
                  "(Wilson 2024, δ 0.05) against the incumbent's CV error, at 3 consecutive "
                  "decisions"),
    "calibrated": Rule(calibrate=True, description="regret bound with sqrt(β) widened by the "
                       "GP's record on the search's next trials < the incumbent's CV error"),
    "calibrated-pooled": Rule(calibrate=True, error="pooled", description="calibrated regret "
                              "bound < the CV error pooled over the best configurations"),
    "kernel-ensemble": Rule(ensemble="max", description="the largest of the regret bounds of "
                            "three GPs (Matérn-5/2, Matérn-3/2, RBF kernels) < the incumbent's "
                            "CV error: stop only when every kernel agrees"),
    "kernel-bma": Rule(ensemble="bma", description="the regret bounds of three GPs (Matérn-5/2, "
                       "Matérn-3/2, RBF kernels) averaged with weights from how well each "
                       "explains the trials < the incumbent's CV error"),
    "emsr-gap": Rule(test="emsr-gap", description="gap of expected minimum simple regrets "
                     "(Ishibashi et al. 2023) below its automatic threshold"),
}
"""The rules ``AutoTermCriterion(rule=...)`` accepts, by name."""

DEFAULT_RULE = "paper"
"""The rule ``AutoTermCriterion`` uses unless told otherwise."""

TESTS = ("bound", "prb", "emsr-gap")
ERRORS = ("cv", "paired", "pooled")


class RuleParts(NamedTuple):
    """The parts of a stopping rule, as :func:`preset` builds them."""

    improvement_evaluator: BaseImprovementEvaluator
    error_evaluator: BaseErrorEvaluator
    stopping_test: BaseStoppingTest
    consecutive: int


def preset(
    rule: str = DEFAULT_RULE,
    *,
    delta: float = 0.1,
    beta_scale: float = 0.2,
    min_fit: int = 20,
    fit_fraction: float = 0.5,
    val_train_ratio: float | None = None,
    threshold: float | None = None,
    exact_bound: bool = False,
    num_restarts: int = 8,
    raw_samples: int = 256,
    seed: int = 0,
    fitter: GPFitter | None = None,
    error: str | None = None,
    noise: str | None = None,
    consecutive: int | None = None,
    rivals: int = 5,
    pool: int = 5,
    prb_delta: float | None = None,
    prb_samples: int = 128,
    gap_delta: float = 0.1,
    calibrate: bool | None = None,
    calibration_level: float = 0.9,
    input_warping: bool = False,
) -> RuleParts:
    """The improvement evaluator, error evaluator, test and ``consecutive`` of a named rule.

    Every knob is checked, whichever rule uses it. The knobs override the rule's choices.

    Args:
        rule: A name in :data:`RULES`.
        delta: ``δ`` of ``β_t`` (:class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator`).
        beta_scale: Multiplies ``β_t``'s Srinivas value (0.2 is the paper's division by 5).
        min_fit: The bound's GP is fitted on at least this many of the best trials ...
        fit_fraction: ... and on this fraction of them beyond that (0.5: the best half).
        val_train_ratio: ``n_val/n_train`` for Eq. 9; ``None`` is plain k-fold (``1/(k-1)``).
        threshold: A fixed ``ε`` instead of Eq. 9 (objectives without cross-validation; then
            one value per trial suffices, the error is always the threshold and the GP noise
            is learned).
        exact_bound: Minimise the LCB at every decision (``RegretBoundEvaluator(exact=...)``).
        num_restarts: Gradient restarts of the LCB minimisation.
        raw_samples: Quasi-random points screened for those restarts (and candidates).
        seed: Seeds the quasi-random points and the samplers.
        fitter: A :class:`~ray_autoterm.gp.GPFitter` to share with a searcher.
        error: Overrides the rule's error: ``"cv"`` (Eq. 9), ``"paired"`` or ``"pooled"``.
        noise: Overrides the rule's GP noise: ``"learned"`` or ``"cv"`` (known, per trial).
        consecutive: Overrides how many consecutive decisions the test must hold at.
        rivals: ``"paired"``: the incumbent is compared with the next ``rivals`` best trials.
        pool: ``"pooled"``: the error is pooled over the best ``pool`` trials.
        prb_delta: ``"prb"``: stop once ``P(regret <= ε) >= 1 − prb_delta``; ``None`` is the
            rule's own (0.05, Wilson's).
        prb_samples: ``"prb"``: posterior samples (seeded quasi-random).
        gap_delta: ``"emsr-gap"``: ``δ`` of the automatic threshold.
        calibrate: Overrides whether the bound's ``sqrt(β_t)`` is calibrated on the search's
            next trials (``True`` for ``"calibrated"``; only with the ``"bound"`` test).
        calibration_level: The conformal level of that calibration
            (:class:`~ray_autoterm.criterion.calibration.CalibratedRegretBoundEvaluator`).
        input_warping: Fit the bound's GP with BoTorch's ``Warp`` input transform (a learned
            Kumaraswamy CDF per input; :func:`~ray_autoterm.gp.warping_transform`); only with
            the ``"bound"`` test. Off by default (the paper's GP).

    Raises:
        InvalidArgumentError: for any knob outside its allowed range, naming it.

    Example:
        >>> parts = preset("prb-3")
        >>> type(parts.improvement_evaluator).__name__, parts.consecutive
        ('ProbabilisticRegretEvaluator', 3)
    """
    delta = check_open_unit("delta", delta)
    check_positive_float("beta_scale", beta_scale)
    check_fit_subset(min_fit, fit_fraction)
    if threshold is not None and val_train_ratio is not None:
        raise invalid(
            "threshold", threshold,
            "None when `val_train_ratio` is given (a fixed threshold replaces Eq. 9)",
        )
    if threshold is not None:
        StaticErrorEvaluator(threshold)  # validates it
    elif val_train_ratio is not None:
        cv_statistical_error([0.0, 1.0], val_train_ratio)  # validates the ratio
    if not isinstance(exact_bound, bool):
        raise invalid("exact_bound", exact_bound, "True or False")
    check_positive_int("num_restarts", num_restarts)
    check_positive_int("raw_samples", raw_samples)
    check_seed(seed)
    if rule not in RULES:
        raise invalid("rule", rule, "one of " + ", ".join(f'"{r}"' for r in RULES))
    named = RULES[rule]
    if error is not None and error not in ERRORS:
        raise invalid("error", error, "None or one of " + ", ".join(f'"{e}"' for e in ERRORS))
    if error not in (None, "cv") and threshold is not None:
        raise invalid("error", error, "None or \"cv\" when a fixed `threshold` is given")
    if noise is not None and noise not in NOISES:
        raise invalid("noise", noise, "None or one of " + ", ".join(f'"{v}"' for v in NOISES))
    consecutive = named.consecutive if consecutive is None else check_positive_int(
        "consecutive", consecutive)
    check_positive_int("rivals", rivals)
    check_positive_int("pool", pool)
    prb_delta = named.prb_delta if prb_delta is None else check_open_unit("prb_delta", prb_delta)
    check_positive_int("prb_samples", prb_samples, minimum=8)
    check_open_unit("gap_delta", gap_delta)
    check_open_unit("calibration_level", calibration_level)
    if calibrate is not None and not isinstance(calibrate, bool):
        raise invalid("calibrate", calibrate, "None, True or False")
    if not isinstance(input_warping, bool):
        raise invalid("input_warping", input_warping, "True or False")
    if input_warping and named.test != "bound":
        raise invalid("input_warping", input_warping, f"False with rule {rule!r} (the warping "
                      "applies to the GP of the \"bound\" test's regret bound)")
    calibrate = named.calibrate if calibrate is None else calibrate
    if calibrate and named.test != "bound":
        raise invalid("calibrate", calibrate, f"None or False with rule {rule!r} (the "
                      "calibration widens the regret bound of the \"bound\" test)")
    if calibrate and named.ensemble is not None:
        raise invalid("calibrate", calibrate, f"None or False with rule {rule!r} (the "
                      "calibration widens one GP's bound, not a kernel ensemble's)")

    error = error if error is not None else named.error
    noise = noise if noise is not None else named.noise
    errors: BaseErrorEvaluator
    if threshold is not None:  # no folds to take an error or a noise from
        errors, noise = StaticErrorEvaluator(threshold), "learned"
    elif error == "paired":
        errors = PairedErrorEvaluator(rivals, val_train_ratio)
    elif error == "pooled":
        errors = PooledErrorEvaluator(pool, val_train_ratio)
    else:
        errors = CrossValidationErrorEvaluator(val_train_ratio)
    improvement: BaseImprovementEvaluator
    test: BaseStoppingTest
    if named.test == "prb":
        improvement = ProbabilisticRegretEvaluator(
            delta=prb_delta, num_samples=prb_samples, min_fit=min_fit, fit_fraction=fit_fraction,
            raw_samples=raw_samples, seed=seed, noise=noise, val_train_ratio=val_train_ratio,
            fitter=fitter)
        test = RegretProbablyBelowError()
    elif named.test == "emsr-gap":
        improvement = EMSRGapEvaluator(
            delta=delta, gap_delta=gap_delta, raw_samples=raw_samples, seed=seed, noise=noise,
            val_train_ratio=val_train_ratio, fitter=fitter)
        test = GapBelowThreshold()
    else:
        bound_knobs: dict[str, Any] = dict(
            delta=delta, beta_scale=beta_scale, min_fit=min_fit, fit_fraction=fit_fraction,
            exact=exact_bound, num_restarts=num_restarts, raw_samples=raw_samples, seed=seed,
            noise=noise, val_train_ratio=val_train_ratio, fitter=fitter)
        if input_warping:  # only when asked: the default builds exactly as before
            bound_knobs["input_warping"] = True
        if named.ensemble is not None:
            improvement = KernelEnsembleRegretBoundEvaluator(combine=named.ensemble,
                                                             **bound_knobs)
        elif calibrate:
            improvement = CalibratedRegretBoundEvaluator(level=calibration_level, **bound_knobs)
        else:
            improvement = RegretBoundEvaluator(**bound_knobs)
        test = BoundBelowError()
    return RuleParts(improvement, errors, test, consecutive)


__all__ = [
    "DEFAULT_RULE",
    "ERRORS",
    "NOISES",
    "RULES",
    "TESTS",
    "Rule",
    "RuleParts",
    "consecutive_count",
    "emsr_gap",
    "emsr_gap_threshold",
    "expected_improvement_gap",
    "kl_one_observation",
    "paired_error",
    "pooled_error",
    "preset",
    "regret_probability",
    "regret_quantile",
    "regret_samples",
]
