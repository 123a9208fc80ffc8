"""The calibrated regret bound: its formulas by hand, and the evaluator on known posteriors."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from botorch.models.model import Model
from botorch.posteriors import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal

from ray_autoterm.criterion import (
    AutoTermCriterion,
    CalibratedRegretBoundEvaluator,
    PooledErrorEvaluator,
    RegretBoundEvaluator,
    preset,
)
from ray_autoterm.criterion.calibration import calibration_scale, standardised_residuals
from ray_autoterm.criterion.improvement import Observations
from ray_autoterm.criterion.regret import regret_bound_beta
from ray_autoterm.errors import InvalidArgumentError
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.space import NumericParam, SearchSpace

PHI_090 = 1.2815515655446004  # Φ⁻¹(0.9)
SPACE = SearchSpace([NumericParam(("x",), 0.0, 1.0)])


class FlatModel(Model):
    """A known 'posterior': mean ``c``, standard deviation ``s`` everywhere, noise ``v``."""

    num_outputs = 1

    def __init__(self, c: float, s: float, v: float) -> None:
        super().__init__()
        self.c, self.s, self.v = c, s, v

    def posterior(self, X, output_indices=None, observation_noise=False, posterior_transform=None,
                  **kw):
        mean = self.c + 0.0 * X.sum(-1)  # batch x q, differentiable in X
        var = torch.full_like(mean, self.s**2 + (self.v if observation_noise else 0.0))
        return GPyTorchPosterior(MultivariateNormal(mean, torch.diag_embed(var)))


class ListFitter:
    """Hands out the given models in turn (the GP fit replaced by known posteriors)."""

    def __init__(self, *models: Model) -> None:
        self.models = list(models)
        self.roles: list[str] = []

    def fit(self, X: np.ndarray, y: np.ndarray, role: str = "bound", yvar: Any = None) -> Model:
        self.roles.append(role)
        return self.models.pop(0)


def observations(losses: list[float]) -> Observations:
    n = len(losses)
    records = [TrialRecord(f"t{i}", {"x": (i + 0.5) / n}, [v, v], order=i)
               for i, v in enumerate(losses)]
    X = np.array([[(i + 0.5) / n] for i in range(n)])
    return Observations(records, X, np.array(losses, dtype=float), SPACE)


def test_residuals_and_scale_by_hand() -> None:
    z = standardised_residuals([1.0, 1.0, 2.0], [0.04, 1.0, 0.25], [0.8, 2.0, 1.0])
    assert z.tolist() == pytest.approx([1.0, -1.0, 2.0])
    ten = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    # m = 10, level 0.9: k = ⌈11 · 0.9⌉ = 10, q̂ = 4.0; level 0.8: k = ⌈8.8⌉ = 9, q̂ = 3.5.
    assert calibration_scale(ten, 0.9) == pytest.approx(4.0 / PHI_090, rel=1e-9)
    assert calibration_scale(ten, 0.8) == pytest.approx(3.5 / 0.8416212335729143, rel=1e-9)
    # Too few for the conformal quantile: the largest residual stands in.
    assert calibration_scale(ten[:5], 0.9) == pytest.approx(1.5 / PHI_090, rel=1e-9)
    # Never narrower than Eq. 8; no record, no change.
    assert calibration_scale([0.1] * 30, 0.9) == 1.0
    assert calibration_scale([], 0.9) == 1.0
    with pytest.raises(ValueError, match="`variance`"):
        standardised_residuals([0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="`level`"):
        calibration_scale(ten, 1.0)


@pytest.mark.filterwarnings("ignore:All acquisition values")
def test_each_trial_is_scored_against_the_gp_before_it_and_widens_beta() -> None:
    # Decision 1 (6 trials, no back-fill): no record, Eq. 8's β. Decision 2 (2 more trials):
    # scored against decision 1's GP (mean 1, sd_f 0.3, noise 0.16: sd 0.5), then the bound.
    first, second = FlatModel(1.0, 0.3, 0.16), FlatModel(0.5, 0.2, 0.01)
    ev = CalibratedRegretBoundEvaluator(exact=True, backfill=False, min_fit=2, scale_step=0,
                                        fitter=ListFitter(first, second))
    losses = [1.0, 1.1, 1.2, 0.9, 1.3, 1.4]
    imp1 = ev.evaluate(observations(losses), math.inf)
    beta6 = regret_bound_beta(1, 3, 0.1, 0.2)  # the best half: 3 trials
    assert ev.record == [] and ev.scale == 1.0
    assert imp1.fields["beta"] == pytest.approx(beta6)
    assert imp1.value == pytest.approx(2 * math.sqrt(beta6) * 0.3, rel=1e-6)

    imp2 = ev.evaluate(observations(losses + [-0.5, 1.25]), math.inf)
    # z = (1 − y)/0.5: 3.0 and −0.5; m = 2, k = min(2, ⌈2.7⌉) = 2: q̂ = 3.0.
    assert [p.trial_id for p in ev.record] == ["t6", "t7"]
    assert [p.z for p in ev.record] == pytest.approx([3.0, -0.5])
    assert np.allclose([(p.num_trials, p.mean, p.sd, p.sd_f) for p in ev.record],
                       [(6, 1.0, 0.5, 0.3)] * 2)
    s = 3.0 / PHI_090
    beta8 = regret_bound_beta(1, 4, 0.1, 0.2)
    assert ev.scale == pytest.approx(s)
    assert imp2.fields["beta"] == pytest.approx(s**2 * beta8)
    # Flat posterior: min ucb − min lcb = 2·s·sqrt(β)·σ_f of the new GP.
    assert imp2.value == pytest.approx(2 * s * math.sqrt(beta8) * 0.2, rel=1e-6)
    assert f"× {s:.2f}" in imp2.note
    # A third decision on the same trials scores nothing new.
    ev.fitter.models.append(second)
    ev.evaluate(observations(losses + [-0.5, 1.25]), math.inf)
    assert len(ev.record) == 2


def test_first_decision_backfills_from_a_gp_on_the_first_half() -> None:
    early, now = FlatModel(1.0, 0.6, 0.0), FlatModel(1.0, 0.1, 0.0)
    fitter = ListFitter(now, early)  # the bound's GP is fitted first, then the back-fill's
    ev = CalibratedRegretBoundEvaluator(exact=True, min_fit=2, fitter=fitter, scale_step=0)
    losses = [1.0, 1.2, 0.9, 1.1, 1.0, -0.8, 1.6, 0.7]
    ev.evaluate(observations(losses), math.inf)
    assert fitter.roles == ["bound", "calibration"]
    assert [p.trial_id for p in ev.record] == ["t4", "t5", "t6", "t7"]
    assert [p.num_trials for p in ev.record] == [4] * 4
    assert [p.z for p in ev.record] == pytest.approx([0.0, 3.0, -1.0, 0.5])
    assert ev.scale == pytest.approx(3.0 / PHI_090)  # k = min(4, ⌈4.5⌉) = 4: q̂ = 3.0


def test_presets_and_validation() -> None:
    parts = preset("calibrated", calibration_level=0.95)
    assert isinstance(parts.improvement_evaluator, CalibratedRegretBoundEvaluator)
    assert parts.improvement_evaluator.level == 0.95
    parts = preset("calibrated-pooled")
    assert isinstance(parts.improvement_evaluator, CalibratedRegretBoundEvaluator)
    assert isinstance(parts.error_evaluator, PooledErrorEvaluator)
    parts = preset("pooled", calibrate=True)
    assert isinstance(parts.improvement_evaluator, CalibratedRegretBoundEvaluator)
    assert type(preset("calibrated", calibrate=False).improvement_evaluator) is (
        RegretBoundEvaluator)
    assert type(preset("paper").improvement_evaluator) is RegretBoundEvaluator
    with pytest.raises(ValueError, match="`calibrate`"):
        preset("prb", calibrate=True)
    with pytest.raises(ValueError, match="`calibrate`"):
        preset("calibrated", calibrate="yes")
    with pytest.raises(ValueError, match="`calibration_level`"):
        AutoTermCriterion(rule="calibrated", calibration_level=0.0)
    with pytest.raises(ValueError, match="`backfill`"):
        CalibratedRegretBoundEvaluator(backfill=1)


def test_real_gp_calibrated_bound_is_never_below_the_papers() -> None:
    rng = np.random.default_rng(3)
    history = History()
    for i in range(30):
        x = float(rng.random())
        history.add(str(i), {"x": x}, list((x - 0.3) ** 2 + 0.05 * rng.standard_normal(5)))
    paper = AutoTermCriterion(exact_bound=True)
    calibrated = AutoTermCriterion(rule="calibrated", exact_bound=True)
    space = SearchSpace([NumericParam(("x",), 0.0, 1.0)])
    ev = calibrated.improvement_evaluator
    for n in (24, 27, 30):
        records = history.completed()[:n]
        d0, d1 = paper.evaluate(records, space), calibrated.evaluate(records, space)
        assert d1.rule == "calibrated" and d1.fit_ok
        assert d1.beta == pytest.approx(ev.scale**2 * d0.beta, rel=1e-9)
        assert d1.regret_bound >= d0.regret_bound - 1e-9
    # Back-filled at 24 (12 trials), then 3 + 3 new trials, each scored once.
    assert len(ev.record) == 18 and len({p.trial_id for p in ev.record}) == 18
    assert all(math.isfinite(p.z) and p.sd >= p.sd_f > 0 for p in ev.record)
    again = pickle.loads(pickle.dumps(calibrated))
    assert len(again.improvement_evaluator.record) == 18
    assert again.evaluate(history, space).fit_ok


def test_examples_in_docstrings() -> None:
    import doctest

    import ray_autoterm.criterion.calibration as module
    import ray_autoterm.plotting as plotting

    for mod in (module, plotting):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
        assert result.failed == 0 and result.attempted > 0, mod.__name__


def test_scale_is_rounded_up_in_steps_and_the_last_bound_reused_between_them() -> None:
    """The default evaluator rounds s_t up to a multiple of 0.05 (never below the formula's);
    a decision whose new trial leaves the GP (the fitter's cache) and the rounded s_t as they
    were reuses the last bound instead of minimising the LCB again."""
    early, now = FlatModel(1.0, 0.6, 0.0), FlatModel(1.0, 0.1, 0.0)
    ev = CalibratedRegretBoundEvaluator(exact=True, min_fit=2, fitter=ListFitter(now, early))
    losses = [1.0, 1.2, 0.9, 1.1, 1.0, -0.8, 1.6, 0.7]
    ev.evaluate(observations(losses), math.inf)
    raw = 3.0 / PHI_090  # 2.3409 (the hand-computed back-fill above)
    assert ev.scale == pytest.approx(2.35) and ev.scale >= raw
    last = ev._last_bound
    # One more trial, as predicted (z = 0): the raw quantile stays in the same step and the
    # fitter returns the same GP object, so the bound object is the very same one.
    ev.fitter.models.append(now)
    imp = ev.evaluate(observations(losses + [1.0]), math.inf)
    assert ev._last_bound is last and imp.value == pytest.approx(last[2].bound)
    with pytest.raises(InvalidArgumentError, match="scale_step"):
        CalibratedRegretBoundEvaluator(scale_step=-0.1)
