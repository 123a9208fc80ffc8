"""``AutoTermStopper``: a Ray Tune stopper that ends the whole experiment by Eq. 10."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

from ray.tune.stopper import Stopper

from ray_autoterm._validation import check_key, check_mode, check_positive_int
from ray_autoterm.criterion.decision import Decision
from ray_autoterm.criterion.error_evaluators import HoldoutErrorEvaluator, StaticErrorEvaluator
from ray_autoterm.criterion.fidelity import FIDELITY_DESIGNS, at_common_rung, at_full_fidelity
from ray_autoterm.criterion.terminator import RULE_KNOBS, AutoTermCriterion
from ray_autoterm.errors import SearchSpaceError, invalid
from ray_autoterm.history import TrialRecord
from ray_autoterm.space import SearchSpace
from ray_autoterm.tune import _events as events
from ray_autoterm.tune import _tune_internals as internals
from ray_autoterm.tune._direction import Direction
from ray_autoterm.tune._keys import CV_SCORES_KEY
from ray_autoterm.tune._log import (
    append_decision,
    log_calibration,
    log_milestone,
    log_stop,
    write_stop,
)
from ray_autoterm.tune._progress import PROGRESS_KEY, ProgressCache, progress_metrics
from ray_autoterm.tune._shared import SharedState, attach
from ray_autoterm.tune._worker import DecisionWorker
from ray_autoterm.tune.callback import AutoTermCallback

if TYPE_CHECKING:
    from ray_autoterm.tune.searcher import AutoTermSearcher

logger = logging.getLogger("ray_autoterm")

_INBOX_BATCH = 64  # queued results that wake the worker to record them (trial ends always do)
_RUNTIME = ("_lock", "_decide_lock", "_worker", "_last_result", "_recent_ended", "_bound",
            "_has_callback", "_requested", "_progress_cache", "_flush_lock", "_inbox",
            "_inbox_ends")


class AutoTermStopper(Stopper):
    """Ends a Ray Tune experiment once the GP regret bound falls below the CV error.

    Each trial reports its cross-validation fold losses (``report_cv_scores``, or streamed folds);
    whenever a trial's fold list is complete, the stopper evaluates the criterion of Makarova et
    al. (2022): the regret upper bound of Eq. 8, from a GP on the best half of the trials, against
    the statistical error of the incumbent's CV estimate (Eq. 9). At the first ``t >= min_trials``
    with ``bound < error`` (Eq. 10) the experiment ends: ``stop_all()`` returns ``True`` and, if
    linked, the :class:`~ray_autoterm.AutoTermSearcher` proposes nothing more.

    **When decisions are made.** By default (``background=True``) the GP work runs in one worker
    thread of the driver, off Tune's result path. The worker evaluates the criterion at every
    trial count the synchronous rule (``background=False``, which decides inside ``__call__``)
    would evaluate, in order, each on the trials that had completed at that count (catching up
    when it falls behind; counts below ``min_trials``, where the rule cannot stop, are
    skipped), so the firing decision is the synchronous rule's. The worker is rationed
    (``duty_cycle``: after a decision it rests ``1 / duty_cycle - 1`` times the median of its
    last five decision times) and its lag is bounded (``max_lag``): once ``max_lag`` completed
    trials wait for a decision, Tune's result processing is held until the worker has caught
    up, so the experiment ends at most about ``max_lag`` trials after the synchronous rule
    would have ended it. Holding is itself bounded: Tune is never held for more than
    ``max_hold_share`` of the experiment's wall time (decisions slower than trials arrive, as
    in searches of many thousands of fast trials, then lag further and say so once). When the
    experiment ends, a final decision covers everything recorded (the callback's
    ``on_experiment_end``), so :attr:`fired` and :attr:`decisions` are current after
    ``fit()``.

    **Reading the decision.** :attr:`fired` is the decision that stopped the experiment (or
    ``None``); :attr:`decisions` holds every decision in order. Each has the bound, the error,
    the trial count and the incumbent (:class:`~ray_autoterm.Decision`).

    **What Tune tells a callback only.** Trials that end without a final ``done`` result (stopped
    by ASHA or another stopper, or raising), results that a ``CombinedStopper`` withholds, the
    experiment directory and its end are seen by
    :class:`~ray_autoterm.tune.callback.AutoTermCallback`.
    ``stop=AutoTermStopper()`` alone attaches it when Tune first calls the stopper; to be explicit
    (the supported way), pass ``RunConfig(callbacks=[stopper.callback()])``.

    **Every decision** is kept in :attr:`decisions` and appended as one JSON line, with this run's
    :attr:`run_id`, to ``autoterm_decisions.jsonl`` in the experiment directory (or ``log_dir``).
    No decision is made after the stop, so the last line of a run is the firing decision; it is
    also written to ``autoterm_stop.json``. The stop is logged in plain words, and so is the
    progress at 10, 20, ... trials.

    **Trials that cannot be used** (fewer than 2 fold values, a streamed trial cut short, no folds
    at all) are left out with one warning each kind; if ``give_up_after`` trials end and none of
    them is usable, the objective cannot feed the criterion: the stopper logs an error and stops
    the experiment with a decision saying why.

    **One validation set** (no k-fold): trials that report with
    :func:`~ray_autoterm.report_holdout` (``holdout_mean``, ``holdout_se``, ``holdout_n``) are
    detected from their first result, and the error becomes the incumbent's standard error of
    its mean validation loss, ``sd / sqrt(n)`` (:class:`~ray_autoterm.criterion.
    HoldoutErrorEvaluator`; ``docs/holdout.md``). A trial's last result counts once it is done.
    Users who compute the mean and its error themselves pass their keys: ``metric=`` (the mean)
    and ``error_key=`` (its standard error).

    Args:
        metric: A scalar result key: with ``threshold``, the one value per trial of objectives
            without cross-validation; with ``error_key``, the mean validation loss of one
            validation set (each taken from the trial's final result).
        mode: ``"min"`` if the fold values are losses, ``"max"`` if they are scores. ``None``
            (default): taken from wherever the direction is declared: the trials' results
            (``report_cv_scores(..., mode=...)`` reports ``cv_mode``), Tune's ``TuneConfig`` /
            ``tune.run`` mode, the search algorithm's or the scheduler's mode (each when its
            metric is ``cv_mean``), a linked searcher's. Two places that disagree are refused,
            naming both (before the first result where Tune allows it); a run where nothing
            says the direction is refused at its first completed trial instead of guessing.
        cv_scores_key: The result key holding a trial's list of fold values.
        searcher: An :class:`~ray_autoterm.AutoTermSearcher` to link: both share one history
            and one GP fitter; the search space comes from it.
        param_space: The Tune search space, when there is no linked searcher. Without either,
            the space is inferred from the configs seen (their bounding box, log scale where
            positive values span decades), with a one-time warning.
        min_trials: No stop before this many completed trials with fold scores (``t_min``).
        val_train_ratio: ``n_val/n_train`` of your splits when they are not plain k-fold.
        threshold: A fixed error instead of Eq. 9 (no cross-validation needed).
        error_key: With ``metric``: the result key of the standard error of ``metric`` (one
            validation set whose error you compute yourself); default ``holdout_se`` (with
            ``holdout_mean``, as :func:`~ray_autoterm.report_holdout` reports).
        training_noise: One validation set only: ``τ``, the spread of the validation mean over
            retraining (seeds, data order) that one split cannot see, added to the standard
            error as ``sqrt(se² + τ²)`` (metric units; default 0, see ``docs/holdout.md``).
        delta: ``δ`` of ``β_t``.
        beta_scale: Multiplies ``β_t`` (0.2 is the paper's division by 5).
        let_running_finish: When the criterion fires, let trials already running finish (they
            are paid for) instead of stopping them at once. New trials are stopped at their
            first result (a linked searcher starts none), and ``stop_all()`` turns ``True`` once
            none of the trials running at the fire is still running (however it ended).
        background: Run the GP work in a worker thread (default) or synchronously.
        duty_cycle: The largest share of wall time the background worker computes, in (0, 1].
        max_lag: Completed trials that may wait for a background decision before Tune's result
            processing is held (1 = decide on every trial before the next result is processed).
        max_hold_share: The largest share of the experiment's wall time Tune's result
            processing may be held for ``max_lag`` (in (0, 1]).
        cut_trials: What a trial that a scheduler or another stopper ended before its last
            fold (ASHA, HyperBand, MedianStoppingRule over streamed folds) teaches:
            ``"impute"`` (default) completes its missing folds from the incumbent's, shifted
            by its mean measured difference, so it counts like a pruned trial
            (:class:`~ray_autoterm.FoldPruningScheduler`); ``"leave_out"`` leaves it out.
        fidelity: How trials that report at several epochs (a scheduler such as ASHA cutting
            them at different epochs) are compared: ``"rung"`` (default) decides on the trials
            that reached the highest epoch ``min_trials`` trials reached, each at that epoch;
            ``"shift"`` moves every trial to the highest epoch by the incumbent's improvement
            over the same epochs. ``benchmarks/epochs.py`` chose the default: on recorded MLP
            learning curves under ASHA only ``"rung"`` ever stopped.
        give_up_after: Stop the experiment once this many trials have ended with none usable
            (``None``: never).
        log_dir: Where to write the decision log; default: the experiment directory.
        report_progress: Add the latest decision to every result as top-level numbers
            ``autoterm/regret_bound``, ``autoterm/statistical_error``, ``autoterm/num_trials``,
            ``autoterm/stopped``: they reach Tune's CSV/JSON/TensorBoard loggers and, when the
            trial reports at most two other numbers, the columns of Tune's default table.
        seed: Seeds the LCB minimisation.
        criterion_kwargs: Further :class:`~ray_autoterm.criterion.AutoTermCriterion` keywords
            (``rule``, ``min_fit``, ``fit_fraction``, ``num_restarts``, ``raw_samples``, ...);
            any other keyword is refused, naming ``AutoTermStopper``.

    Raises:
        InvalidArgumentError: at construction, for any argument out of range (naming it).

    Example:
        >>> from ray import tune
        >>> from ray_autoterm import AutoTermStopper, report_cv_scores
        >>> def trainable(config):
        ...     x = config["x"]
        ...     report_cv_scores([(x - 0.3) ** 2 + 0.01 * i for i in range(5)], mode="min")
        >>> stopper = AutoTermStopper(param_space={"x": tune.uniform(0, 1)}, min_trials=20)
        >>> run_config = tune.RunConfig(stop=stopper, callbacks=[stopper.callback()])
        >>> # tune.Tuner(trainable, param_space=..., run_config=run_config).fit()
        >>> stopper.stop_all()
        False
    """

    def __init__(
        self,
        metric: str | None = None,
        mode: str | None = None,
        *,
        cv_scores_key: str = CV_SCORES_KEY,
        searcher: AutoTermSearcher | None = None,
        param_space: Mapping[str, Any] | None = None,
        min_trials: int = 20,
        val_train_ratio: float | None = None,
        threshold: float | None = None,
        error_key: str | None = None,
        training_noise: float = 0.0,
        delta: float = 0.1,
        beta_scale: float = 0.2,
        let_running_finish: bool = False,
        background: bool = True,
        duty_cycle: float = 0.25,
        max_lag: int = 4,
        max_hold_share: float = 0.01,
        cut_trials: str = "impute",
        fidelity: str = "rung",
        give_up_after: int | None = 10,
        log_dir: str | os.PathLike[str] | None = None,
        report_progress: bool = True,
        seed: int = 0,
        **criterion_kwargs: Any,
    ) -> None:
        self._direction = Direction()  # where the direction was declared
        self.mode = "min"  # in use; ``mode_known`` says whether anything declared it
        requested = None if mode is None else check_mode(mode)
        unknown = sorted(set(criterion_kwargs) - _criterion_keywords())
        if unknown:
            raise invalid(
                unknown[0], criterion_kwargs[unknown[0]],
                "not given: it is not an argument of AutoTermStopper (its arguments and the "
                "criterion's: " + ", ".join(sorted(_stopper_keywords() | _criterion_keywords()))
                + ")",
            )
        self.cv_scores_key = check_key("cv_scores_key", cv_scores_key)
        if error_key is not None:
            check_key("error_key", error_key)
            if metric is None or threshold is not None:
                raise invalid(
                    "error_key", error_key,
                    "None unless `metric` is given and `threshold` is not (`metric` names the "
                    "mean validation loss, `error_key` its standard error)",
                )
        if metric is not None:
            check_key("metric", metric)
            if threshold is None and error_key is None:
                raise invalid(
                    "metric", metric,
                    "None unless `threshold` is given (without cross-validation the error is a "
                    "fixed threshold) or `error_key` names the metric's standard error (one "
                    "validation set); fold losses are read from `cv_scores_key`",
                )
        self.metric = metric
        self.error_key = error_key
        self.training_noise = HoldoutErrorEvaluator(training_noise).training_noise  # validated
        self._holdout = False  # the error is the incumbent's holdout SE (see _use_holdout)
        for name, value in (
            ("let_running_finish", let_running_finish), ("background", background),
            ("report_progress", report_progress),
        ):
            if not isinstance(value, bool):
                raise invalid(name, value, "True or False")
        if isinstance(duty_cycle, bool) or not isinstance(duty_cycle, (int, float)) or not (
            0 < duty_cycle <= 1
        ):
            raise invalid("duty_cycle", duty_cycle, "a number in (0, 1], e.g. 0.25")
        self.duty_cycle = float(duty_cycle)
        self.max_lag = check_positive_int("max_lag", max_lag)
        if isinstance(max_hold_share, bool) or not isinstance(max_hold_share, (int, float)) or not (
            0 < max_hold_share <= 1
        ):
            raise invalid("max_hold_share", max_hold_share, "a number in (0, 1], e.g. 0.01")
        self.max_hold_share = float(max_hold_share)
        self.give_up_after = (
            None if give_up_after is None else check_positive_int("give_up_after", give_up_after)
        )
        if cut_trials not in ("impute", "leave_out"):
            raise invalid("cut_trials", cut_trials, '"impute" or "leave_out"')
        self.cut_trials = cut_trials
        if fidelity not in FIDELITY_DESIGNS:
            raise invalid("fidelity", fidelity, " or ".join(f'"{d}"' for d in FIDELITY_DESIGNS))
        self.fidelity = fidelity
        self.let_running_finish = let_running_finish
        self.background = background
        self.report_progress = report_progress
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.criterion = AutoTermCriterion(
            mode=self.mode, min_trials=min_trials, delta=delta, beta_scale=beta_scale,
            val_train_ratio=val_train_ratio, threshold=threshold, seed=seed, **criterion_kwargs,
        )
        self._space: SearchSpace | None = None
        if param_space is not None:
            self._space = SearchSpace.from_param_space(param_space)
        self._searcher: AutoTermSearcher | None = None
        if requested is not None:
            self._claim_mode("AutoTermStopper(mode=...)", requested)
        if searcher is not None:
            from ray_autoterm.tune.searcher import AutoTermSearcher

            if not isinstance(searcher, AutoTermSearcher):
                raise invalid("searcher", searcher, "an AutoTermSearcher (or None)")
            self._state = searcher._link(self)
            self._searcher = searcher
            if searcher.declared_mode is not None:
                self._claim_mode("AutoTermSearcher(mode=...)", searcher.declared_mode)
        else:
            self._state = SharedState()
        self._configure_state()
        self.run_id = uuid.uuid4().hex[:12]
        """Identifies this run in the decision log (kept by ``Tuner.restore``)."""
        self.decisions: list[Decision] = []
        self._active: set[str] = set()  # trials that reported and have not ended
        self._ended: set[str] = set()
        self._ends_recorded: set[str] = set()  # of those, the ones _flush has recorded
        self._calibration_written = 0  # calibration-record entries already in the log
        self._started: set[str] = set()
        self._running_at_fire: set[str] | None = None
        self.running_at_stop: frozenset[str] = frozenset()
        self._decided_count = 0  # completion count the latest decision covered
        self._missed_calls = 0  # results only the callback saw (a CombinedStopper withheld them)
        self._any_usable = False
        self._next_milestone = 10
        self._warned_inferred = False
        self._said_fidelity = False
        self._init_runtime()

    # ----------------------------------------------------------------- plumbing
    def _configure_state(self) -> None:
        self._state.cv_scores_key = self.cv_scores_key
        self._state.metric = self.metric
        self._state.single_value_ok = self.criterion.min_folds == 1
        if self.error_key is not None and self.metric is not None:
            self._state.holdout_mean_key, self._state.holdout_se_key = self.metric, self.error_key
            self._state.single_value_ok = False  # `metric` is the holdout mean, not a threshold's
        self.criterion.fitter = self._state.fitter

    @property
    def mode_known(self) -> bool:
        """Whether anything declared the direction (see ``mode``)."""
        return self._direction.known

    def _claim_mode(self, where: str, mode: str) -> None:
        """``where`` declares the fold values' direction; refuse a contradiction."""
        if self._direction.claim(where, mode) and mode != self.mode:
            logger.info("ray-autoterm takes mode=%r from %s.", mode, where)
        self._use_mode(self._direction.mode)

    def _use_mode(self, mode: str) -> None:
        self.mode = self.criterion.mode = mode
        if self._searcher is not None and self._searcher.declared_mode is None:
            self._searcher._mode = mode

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._decide_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # Results and trial ends waiting to be recorded, in arrival order (see _observe, _flush).
        self._inbox: list[tuple[Any, ...]] = []
        self._inbox_ends = 0
        self._worker = DecisionWorker(
            self._decide, self.duty_cycle, self.max_lag,
            finished=lambda: self._state.fired is not None,
            start=self._decided_count,
            skip_below=self.criterion.min_trials, max_hold_share=self.max_hold_share,
            sync=self._sync_for_worker, queued=lambda: self._inbox_ends,
            has_queue=lambda: bool(self._inbox),
        )
        self._last_result: dict[str, dict[str, Any]] = {}
        self._recent_ended: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._bound = False
        self._has_callback = False
        self._requested = self._decided_count  # the completion count last decided or requested
        self._progress_cache: ProgressCache | None = None

    def __getstate__(self) -> dict[str, Any]:
        self._flush()  # nothing queued is lost with a checkpoint
        state = self.__dict__.copy()
        for key in _RUNTIME:
            state.pop(key, None)
        state["decisions"] = [d.to_dict() for d in self.decisions]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for key, default in (  # a stopper saved by an older version
            ("duty_cycle", 0.25), ("max_lag", 4), ("give_up_after", 10), ("_ended", set()),
            ("_started", set()), ("_decided_count", 0), ("_missed_calls", 0),
            ("_next_milestone", 10), ("run_id", uuid.uuid4().hex[:12]), ("_any_usable", False),
            ("_direction", Direction()), ("max_hold_share", 0.01), ("cut_trials", "impute"),
            ("_said_fidelity", False), ("fidelity", "rung"), ("error_key", None),
            ("training_noise", 0.0), ("_holdout", False), ("_calibration_written", 0),
        ):
            self.__dict__.setdefault(key, default)
        self.__dict__.setdefault("_ends_recorded", set(self._ended))
        self.decisions = [Decision.from_dict(d) for d in state["decisions"]]
        self._state = attach(self._state)
        self._configure_state()
        self._init_runtime()

    def callback(self) -> AutoTermCallback:
        """A ``tune.Callback`` feeding this stopper (``RunConfig(callbacks=[...])``).

        Optional: the stopper attaches one itself when Tune first calls it; passing it makes
        the hook explicit and independent of Tune's internals.
        """
        return AutoTermCallback(self)

    @property
    def history(self):  # noqa: ANN201 - History, documented in ray_autoterm.history
        """The trials recorded so far (shared with a linked searcher)."""
        self._flush()
        return self._state.history

    @property
    def fired(self) -> Decision | None:
        """The decision that stopped the experiment, or ``None``."""
        return self._state.fired

    def _search_space(self) -> SearchSpace | None:
        if self._searcher is not None and self._searcher.space is not None:
            return self._searcher.space
        if self._space is not None:
            return self._space
        if not self._warned_inferred:
            self._warned_inferred = True
            logger.warning(
                "AutoTermStopper has no search space, so it infers one from the configs seen "
                "(their bounding box). Pass `param_space=` (your Tune param_space) or link an "
                "AutoTermSearcher with `searcher=` for an exact bound."
            )
        return None

    # ----------------------------------------------------------------- Tune API
    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Record the result; return whether this trial should stop (only after firing)."""
        if not self._bound:
            self._bind(internals.caller_of_stopper())
        self._observe(trial_id, result)
        if self.report_progress:
            result.update(self._progress())
        if self._state.fired is None:
            return False
        if not self.let_running_finish:
            return True
        return trial_id not in (self._running_at_fire or set())

    def stop_all(self) -> bool:
        """Whether the experiment should end (see ``let_running_finish``)."""
        if not self._bound:
            self._bind(internals.caller_of_stopper())
        if self._state.fired is None:
            return False
        if not self.let_running_finish:
            return True
        with self._lock:
            if self._running_at_fire is None:  # fired by a restored copy or the searcher
                self._running_at_fire = set(self._active)
            self._running_at_fire &= self._active
            return not self._running_at_fire

    # ----------------------------------------------------------------- Tune's events
    def _bind(self, caller: FrameType | None) -> None:
        events.bind(self, caller)

    def _on_trial_start(self, trial_id: str, storage: Any) -> None:
        events.on_trial_start(self, trial_id, storage)

    def _on_callback_result(self, trial_id: str, result: dict[str, Any], storage: Any) -> None:
        events.on_callback_result(self, trial_id, result, storage)

    def _on_trial_end(self, trial_id: str, error: bool, message: str = "") -> None:
        if not events.mark_ended(self, trial_id):
            return
        with self._lock:
            self._inbox.append(("end", trial_id, error, message))
            self._inbox_ends += 1
        # An error is rare and may end the experiment (UnsupportedContextError): at once.
        self._after_enqueue(urgent=True, now=error)

    def _on_experiment_end(self) -> None:
        events.on_experiment_end(self)

    def _decide(self, count: int | None = None) -> Decision:
        """Evaluate the criterion on the first ``count`` trials to complete (all recorded so
        far when ``None``): record the decision and, if it says stop, stop the experiment.
        Once stopped, nothing more is evaluated: the firing decision is returned."""
        with self._decide_lock:
            if self._state.fired is not None:
                return self._state.fired
            if count is None:
                count = self._state.num_completed
            records = self._state.snapshot(count)
            curves = self._state.fidelity_snapshot()
            if curves:  # trials report every epoch: compare them at one fidelity
                records = self._at_one_fidelity(records, curves)
            decision = self.criterion.evaluate(records, self._search_space())
            decision = dataclasses.replace(decision, run_id=self.run_id)
            self._decided_count = max(self._decided_count, count)
            self._record(decision)
            return decision

    def _at_one_fidelity(
        self, records: list[TrialRecord], curves: dict[str, dict[int, list[float]]]
    ) -> list[TrialRecord]:
        """Trials reported at several epochs (ASHA, HyperBand over epochs), compared at one
        (see ``fidelity``)."""
        if self.fidelity == "rung":
            out, epoch = at_common_rung(records, curves, self.criterion.min_trials)
            what = (f"at epoch {epoch}, the highest that min_trials={self.criterion.min_trials} "
                    "trials reached (trials stopped below it are left out)")
        else:
            out, shifted = at_full_fidelity(records, curves, 1.0 if self.mode == "min" else -1.0)
            epoch = shifted
            what = ("at the highest epoch, a trial below it shifted by the incumbent's "
                    "improvement over the same epochs (the curve shift)")
        if epoch and not self._said_fidelity:
            self._said_fidelity = True
            logger.info("ray-autoterm compares trials reported at different epochs %s.", what)
        return out

    def _settle(self, timeout: float = 60.0) -> Decision | None:
        """Let the background worker decide on everything recorded so far (at most ``timeout``
        seconds), then return the latest decision (``None`` when no trial was ever usable:
        that returns at once). The callback does this when the experiment ends."""
        self._flush()
        self._request_decision()
        pending = self._state.fired is None and self._worker.pending > 0
        if pending and not self._worker.settle(timeout) and self._state.fired is None:
            logger.warning("ray-autoterm: no decision within %.0f s; deciding now.", timeout)
            self._decide()
        return self._state.fired or (self.decisions[-1] if self.decisions else None)

    # ----------------------------------------------------------------- internals
    def _observe(self, trial_id: str, result: dict[str, Any]) -> None:
        """A result from Tune: the few things the driver must know now (which way is better,
        which trials run) here; the folds are recorded by :meth:`_flush`."""
        done = bool(result.get("done", False))
        if self._direction.claim_from_result(result):
            self._use_mode(self._direction.mode)
        with self._lock:
            self._last_result[trial_id] = result
            if not done and trial_id not in self._ended:
                self._active.add(trial_id)
            self._inbox.append(("result", trial_id, result))
        if done:
            self._on_trial_end(trial_id, error=False)
        else:
            self._after_enqueue(urgent=False)

    def _after_enqueue(self, urgent: bool, now: bool = False) -> None:
        """Record what was queued now (``background=False``, an error, while no direction is
        known: the checks must run on Tune's thread), or leave it to the worker, waking it for
        a trial's end or a full batch. Recording a result costs ~10 µs in a batch but ~100 µs
        one at a time between Tune's own work (cold caches), and the driver is Tune's."""
        if now or not self.background or not self.mode_known:
            self._flush()
            self._request_decision()
        elif urgent or len(self._inbox) >= _INBOX_BATCH:
            self._worker.request(self._state.num_completed)

    def _flush(self) -> None:
        """Record the queued results and trial ends, in arrival order (one flush at a time)."""
        if not self._inbox:
            return
        with self._flush_lock:
            with self._lock:
                batch, self._inbox, self._inbox_ends = self._inbox, [], 0
            state = self._state
            for event in batch:
                trial_id = event[1]
                if event[0] == "result":
                    state.ingest(trial_id, event[2])
                    if state.holdout_seen and not self._holdout:
                        self._use_holdout()
                    if state.holdout_seen and event[2].get("done"):
                        state.end_holdout(trial_id)
                else:
                    error, message = event[2], event[3]
                    if not error and state.holdout_seen:
                        state.end_holdout(trial_id)  # one validation set: its last report
                    events.on_trial_end(self, trial_id, error, message)

    def _sync_for_worker(self) -> int:
        """The worker's ``sync``: record what is queued; the completed count then known."""
        self._flush()
        return self._state.num_completed

    def _request_decision(self) -> None:
        """Decide (or ask the worker to) if trials completed since the last request, whoever
        recorded them (this stopper, a linked searcher's final result, a trial's end)."""
        if self.background and self._worker.on_worker_thread():
            return  # recording queued results: the worker looks at the new count itself
        count = self._state.num_completed
        if count <= self._requested or self._state.fired is not None:
            return
        if not self.mode_known and self._state.usable(self.criterion.min_folds):
            self._direction.require()  # refuses: nothing says which way is better
        with self._lock:
            if count <= self._requested:
                return
            self._requested = count
        if self.background:
            self._worker.request(count)
        else:
            self._decide(count)

    def _use_holdout(self) -> None:
        """The trials report one validation set: compare the bound with the incumbent's holdout
        standard error from now on (the one place the error evaluator is switched). A fixed
        ``threshold`` stays as it is."""
        with self._decide_lock:
            self._holdout = True
            if isinstance(self.criterion.error_evaluator, StaticErrorEvaluator):
                return
            self.criterion.error_evaluator = HoldoutErrorEvaluator(self.training_noise)
            self._state.single_value_ok = False
        logger.info(
            "ray-autoterm: the trials report one validation set (`%s`, `%s`): the statistical "
            "error is the incumbent's standard error of its mean validation loss, sd/sqrt(n)%s.",
            self._state.holdout_mean_key, self._state.holdout_se_key,
            f", with training noise {self.training_noise:g}" if self.training_noise else "",
        )

    def _record(self, decision: Decision) -> None:
        pruned = self._state.pruned()  # by a linked FoldPruningScheduler
        if pruned:
            k = len(decision.incumbent_fold_scores or []) or max(len(r.fold_scores) for r in pruned)
            decision = dataclasses.replace(decision, num_pruned=len(pruned), folds_saved=sum(
                max(k - len(r.folds_measured or []), 0) for r in pruned))
        with self._lock:
            self.decisions.append(decision)
            fired = decision.should_stop and self._state.fired is None
            if fired:
                self._state.fired = decision
                self._running_at_fire = set(self._active)
                self.running_at_stop = frozenset(self._active)
                if self.report_progress:
                    # The firing decision reaches Tune's stored results and loggers: Tune keeps
                    # the result dicts it passed us as the trials' last results.
                    progress = self._progress()
                    trigger = self._recent_ended.get(decision.trigger_trial_id or "")
                    for result in [*self._last_result.values(), trigger]:
                        if result is not None:
                            result.update(progress)
        if self.log_dir is None:
            logger.warning(
                "ray-autoterm could not find the experiment directory; decisions are kept in "
                "`stopper.decisions` only. Pass `log_dir=` to write autoterm_decisions.jsonl."
            )
            self.log_dir = ""
        append_decision(self.log_dir, decision)
        self._calibration_written = log_calibration(
            self.log_dir, self.run_id, self.criterion.improvement_evaluator,
            self._calibration_written)
        if fired:
            write_stop(self.log_dir, decision, self.running_at_stop)
            # Trials started so far, as `ray-autoterm report` counts them.
            started = self._started | {record.trial_id for record in self._state.snapshot()}
            value_key = self._state.holdout_mean_key if self._holdout else self.cv_scores_key
            log_stop(decision, len(started), self._holdout, value_key)
        else:
            self._next_milestone = log_milestone(decision, self._next_milestone)

    def _progress(self) -> dict[str, float]:
        """The numbers ``report_progress`` adds to every result (rebuilt once per decision:
        this is on Tune's per-result path)."""
        self._progress_cache = progress_metrics(
            self.decisions, self._state.fired is not None, self._progress_cache)
        return self._progress_cache[1]


def _criterion_keywords() -> set[str]:
    """Keywords ``AutoTermStopper`` passes on to ``AutoTermCriterion`` (its arguments and
    its rules' knobs)."""
    params = inspect.signature(AutoTermCriterion).parameters
    named = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return (named | RULE_KNOBS) - {"mode", "fitter"}


def _stopper_keywords() -> set[str]:
    params = inspect.signature(AutoTermStopper).parameters
    return {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}


__all__ = ["PROGRESS_KEY", "AutoTermStopper", "SearchSpaceError"]
