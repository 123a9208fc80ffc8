"""``AutoTermSearcher``: GP Bayesian optimisation with BoTorch as a Ray Tune ``Searcher``."""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from ray.tune.search import Searcher

from ray_autoterm._validation import check_key, check_mode, check_positive_int
from ray_autoterm.bo import propose
from ray_autoterm.errors import SearchSpaceError, invalid
from ray_autoterm.space import SearchSpace
from ray_autoterm.tune._keys import CV_SCORES_KEY
from ray_autoterm.tune._shared import SharedState, attach

if TYPE_CHECKING:
    from ray_autoterm.tune.stopper import AutoTermStopper

logger = logging.getLogger("ray_autoterm")


class AutoTermSearcher(Searcher):
    """GP Bayesian optimisation over a Tune search space, sharing its GP with the stopper.

    The first ``num_initial`` configs come from a scrambled-Sobol design; after that a GP (the
    same model as the criterion's: Matérn-5/2, ARD, learned noise; categoricals through a
    categorical kernel) is fitted to the mean fold losses and ``qLogNoisyExpectedImprovement`` is
    maximised, with the configs of running trials as pending points so that concurrent trials get
    different proposals. Linked to an :class:`~ray_autoterm.AutoTermStopper`
    (``AutoTermStopper(searcher=searcher)``), both use one history and one GP fitter: while the
    bound's GP is fitted on all trials (up to ``min_fit`` = 20) the two share each fit; beyond,
    the bound needs its own fit on the best half, so each completed trial costs two fits
    (counted in ``searcher.fitter.fits_by_role``). Once the stopper has fired, :meth:`suggest`
    returns ``Searcher.FINISHED``.

    The objective is the mean of the fold values under ``cv_scores_key`` (or a streamed fold
    list); results without folds fall back to the scalar ``metric`` when one is set.

    Args:
        space: The Tune search space (or leave ``None`` and pass ``param_space`` to the Tuner).
        metric: Optional scalar key; only a fallback objective for results without folds.
        mode: ``"min"`` or ``"max"`` for the fold values (a linked stopper's mode must agree).
        cv_scores_key: Result key of the fold list.
        num_initial: Size of the quasi-random initial design.
        points_to_evaluate: Configs to try first.
        seed: Seeds the design and the acquisition optimisation.
        num_restarts: Restarts of the acquisition optimisation.
        raw_samples: Quasi-random points screened for those restarts.

    Raises:
        InvalidArgumentError: for arguments out of range; SearchSpaceError for an unsupported
            domain, naming the parameter.

    Example:
        >>> from ray import tune
        >>> searcher = AutoTermSearcher({"lr": tune.loguniform(1e-4, 1e-1)}, num_initial=5)
        >>> config = searcher.suggest("trial_0")
        >>> 1e-4 <= config["lr"] <= 1e-1
        True
    """

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        cv_scores_key: str = CV_SCORES_KEY,
        num_initial: int = 10,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        seed: int = 0,
        num_restarts: int = 8,
        raw_samples: int = 256,
    ) -> None:
        if mode is not None:
            check_mode(mode)
        super().__init__(metric=metric, mode=mode)
        self.declared_mode = mode
        """The mode given here (``None``: taken from Tune or a linked stopper)."""
        self.cv_scores_key = check_key("cv_scores_key", cv_scores_key)
        self.num_initial = check_positive_int("num_initial", num_initial)
        self.num_restarts = check_positive_int("num_restarts", num_restarts)
        self.raw_samples = check_positive_int("raw_samples", raw_samples)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid("seed", seed, "an integer")
        self.seed = seed
        self.space: SearchSpace | None = None
        self._param_space = None if space is None else dict(space)
        if space is not None:
            self.space = SearchSpace.from_param_space(space)
        self._points = [dict(p) for p in (points_to_evaluate or [])]
        if self.space is not None:
            for p in self._points:
                self.space.encode(p)  # raises if a point does not fit the space
        self._live: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._failed: list[dict[str, Any]] = []
        self._state = SharedState()
        self._state.cv_scores_key = self.cv_scores_key
        self._linked = False

    # ----------------------------------------------------------------- linking
    def _link(self, stopper: AutoTermStopper) -> SharedState:
        """Share this searcher's state with ``stopper`` (which checks that the modes agree)."""
        if self._linked:
            raise invalid("searcher", self, "a searcher not yet linked to another AutoTermStopper")
        if self.declared_mode is None and stopper.mode_known:
            self._mode = stopper.mode
        self._linked = True
        return self._state

    @property
    def fitter(self):  # noqa: ANN201 - GPFitter
        """The GP fitter (shared with a linked stopper); ``fitter.num_fits`` counts the fits."""
        return self._state.fitter

    @property
    def history(self):  # noqa: ANN201 - History
        """The trials recorded so far (shared with a linked stopper)."""
        return self._state.history

    # ----------------------------------------------------------------- Tune API
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take the Tuner's ``param_space`` (and metric/mode where not set here)."""
        if self.space is not None and config:
            return False  # a space given twice: Tune reports the conflict
        if mode is not None:
            if self._mode is not None and self._mode != mode:
                return False
            self._mode = check_mode(mode)
        if metric is not None and self._metric is None:
            self._metric = metric
        if config:
            self._param_space = dict(config)
            self.space = SearchSpace.from_param_space(config)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]  # Tune returns FINISHED, a str
        """Next config, or ``Searcher.FINISHED`` once the linked stopper has fired."""
        if self._state.fired is not None:
            return Searcher.FINISHED
        if self.space is None:
            raise SearchSpaceError(
                "AutoTermSearcher has no search space: pass it as "
                "AutoTermSearcher(space={...}) or as the Tuner's `param_space`."
            )
        if self._points:
            config = self._points.pop(0)
        else:
            X, y = self._observations()
            pending = [self.space.encode(c) for c in [*self._live.values(), *self._failed]]
            x = propose(
                self.space, X, y, np.array(pending).reshape(-1, self.space.dim),
                fitter=self._state.fitter, num_initial=self.num_initial, seed=self.seed,
                num_restarts=self.num_restarts, raw_samples=self.raw_samples,
                design_index=len(self._configs),
            )
            config = self.space.decode(x)
        self._live[trial_id] = config
        self._configs[trial_id] = config
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Record streamed folds (Tune passes results flattened; the config is ours)."""
        self._state.ingest(trial_id, result, self._configs.get(trial_id))

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record the trial's final folds; an errored or NaN trial becomes a pending point."""
        config = self._live.pop(trial_id, None)
        if not error and result:
            final = dict(result)
            final["done"] = True
            self._state.ingest(trial_id, final, self._configs.get(trial_id))
        rec = self._state.record(trial_id)
        ok = rec is not None and rec.complete and rec.fold_scores and all(
            math.isfinite(v) for v in rec.fold_scores
        )
        if not ok and config is not None:
            # Errored or NaN: no observation, but keep it as a permanent pending point so the
            # acquisition does not propose the same failing config again.
            self._failed.append(config)

    def _observations(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.space is not None
        sign = -1.0 if self._mode == "max" else 1.0
        rows, ys = [], []
        for rec in self._state.completed():
            if not rec.fold_scores or not all(math.isfinite(v) for v in rec.fold_scores):
                continue
            try:
                rows.append(self.space.encode(rec.config))
            except SearchSpaceError:
                continue
            ys.append(sign * rec.value)
        return np.array(rows).reshape(-1, self.space.dim), np.array(ys)

    # ----------------------------------------------------------------- checkpoints
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("space", None)  # rebuilt from the param space (holds no Tune objects)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.space = (None if self._param_space is None
                      else SearchSpace.from_param_space(self._param_space))
        self._state = attach(self._state)

    def save(self, checkpoint_path: str) -> None:
        """Pickle the searcher (history, pending configs, design position) to a file."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        """Load a :meth:`save` file; re-links with a restored stopper of the same experiment."""
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        self.__setstate__(state)
