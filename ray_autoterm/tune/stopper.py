"""``AutoTermStopper``: a Ray Tune stopper that ends the whole experiment by Eq. 10."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ray.tune.stopper import Stopper

from ray_autoterm._validation import check_key, check_mode
from ray_autoterm.criterion.decision import DECISION_LOG_NAME, Decision
from ray_autoterm.criterion.terminator import AutoTermCriterion
from ray_autoterm.errors import SearchSpaceError, invalid
from ray_autoterm.space import SearchSpace
from ray_autoterm.tune._shared import CV_SCORES_KEY, SharedState, attach

if TYPE_CHECKING:
    from ray_autoterm.tune.searcher import AutoTermSearcher

logger = logging.getLogger("ray_autoterm")

PROGRESS_KEY = "autoterm"
"""Result key of the progress metrics (a dict; Tune's loggers flatten it to ``autoterm/...``)."""


class AutoTermStopper(Stopper):
    """Ends a Ray Tune experiment once the GP regret bound falls below the CV error.

    Each trial reports its cross-validation fold losses (``report_cv_scores``, or streamed folds);
    whenever a trial's fold list is complete, the stopper evaluates the criterion of Makarova et
    al. (2022): the regret upper bound of Eq. 8, from a GP on the best half of the trials, against
    the statistical error of the incumbent's CV estimate (Eq. 9). At the first ``t >= min_trials``
    with ``bound < error`` (Eq. 10) the experiment ends: ``stop_all()`` returns ``True`` and, if
    linked, the :class:`~ray_autoterm.AutoTermSearcher` proposes nothing more.

    **When decisions are made.** By default (``background=True``) the GP work runs in one worker
    thread of the driver, so Tune's result processing never waits for it: a completed trial wakes
    the worker, which evaluates the criterion on everything recorded at that moment (trials that
    complete meanwhile are included in the next evaluation, so bursts coalesce). ``stop_all()``
    therefore sees a new decision once that evaluation has finished, typically well under a
    second after the trial's final result. The worker holds Python's GIL while it computes, so
    it is rationed (``duty_cycle``): after an evaluation that took ``t`` seconds it rests
    ``t * (1 / duty_cycle - 1)`` seconds, and however fast trials complete, the GP work takes
    at most that share of the driver's time (``benchmarks/scale.py`` measures Tune's result
    throughput with and without the stopper). :meth:`decide` evaluates synchronously.
    ``background=False`` evaluates inside ``__call__`` (deterministic; for tests and debugging).

    **Every decision** is kept in :attr:`decisions` and appended as one JSON line to
    ``autoterm_decisions.jsonl`` in the experiment directory (or in ``log_dir``). The stop is
    logged in plain words: bound, error, trial count and incumbent.

    Args:
        metric: A scalar result key, used only with ``threshold`` for objectives without
            cross-validation (one value per trial, taken from the trial's final result).
        mode: ``"min"`` if the fold values are losses, ``"max"`` if they are scores.
        cv_scores_key: The result key holding a trial's list of fold values.
        searcher: An :class:`~ray_autoterm.AutoTermSearcher` to link: both share one history
            and one GP fitter; the search space comes from it.
        param_space: The Tune search space, when there is no linked searcher. Without either,
            the space is inferred from the configs seen (their bounding box, log scale where
            positive values span decades), with a one-time warning.
        min_trials: No stop before this many completed trials with fold scores (``t_min``).
        val_train_ratio: ``n_val/n_train`` of your splits when they are not plain k-fold.
        threshold: A fixed error instead of Eq. 9 (no cross-validation needed).
        delta: ``δ`` of ``β_t``.
        beta_scale: Multiplies ``β_t`` (0.2 is the paper's division by 5).
        let_running_finish: When the criterion fires, let trials already running finish (they
            are paid for) instead of stopping them at once. New trials are stopped at their
            first result (a linked searcher starts none), and ``stop_all()`` turns ``True`` once
            the running ones are done.
        background: Run the GP work in a worker thread (default) or synchronously.
        duty_cycle: The largest share of wall time the background worker computes, in (0, 1]
            (``1``: evaluate again as soon as a trial completes). Lower values leave more of the
            driver to Tune when trials are very short, and delay decisions (and so the stop)
            by up to ``(1 / duty_cycle - 1)`` times a decision's duration.
        log_dir: Where to write the decision log; default: the experiment directory.
        report_progress: Add the latest decision to every result, under ``autoterm/...``
            (``regret_bound``, ``statistical_error``, ``num_trials``, ``stopped``). Tune passes
            the same result on to its loggers and progress reporter, so the convergence shows in
            CSV/JSON/TensorBoard and can be a column of Tune's table
            (``CLIReporter(metric_columns=["cv_mean", "autoterm/regret_bound", ...])``).
        seed: Seeds the LCB minimisation.
        criterion_kwargs: Further :class:`~ray_autoterm.criterion.AutoTermCriterion` keywords
            (``min_fit``, ``fit_fraction``, ``num_restarts``, ``raw_samples``).

    Raises:
        InvalidArgumentError: at construction, for any argument out of range (naming it).

    Example:
        >>> from ray import tune
        >>> from ray_autoterm import AutoTermStopper, report_cv_scores
        >>> def trainable(config):
        ...     x = config["x"]
        ...     report_cv_scores([(x - 0.3) ** 2 + 0.01 * i for i in range(5)])
        >>> stopper = AutoTermStopper(param_space={"x": tune.uniform(0, 1)}, min_trials=20)
        >>> # tune.run(trainable, config={"x": tune.uniform(0, 1)}, num_samples=200, stop=stopper)
        >>> stopper.stop_all()
        False
    """

    def __init__(
        self,
        metric: str | None = None,
        mode: str = "min",
        *,
        cv_scores_key: str = CV_SCORES_KEY,
        searcher: AutoTermSearcher | None = None,
        param_space: Mapping[str, Any] | None = None,
        min_trials: int = 20,
        val_train_ratio: float | None = None,
        threshold: float | None = None,
        delta: float = 0.1,
        beta_scale: float = 0.2,
        let_running_finish: bool = False,
        background: bool = True,
        duty_cycle: float = 0.25,
        log_dir: str | os.PathLike[str] | None = None,
        report_progress: bool = True,
        seed: int = 0,
        **criterion_kwargs: Any,
    ) -> None:
        self.mode = check_mode(mode)
        self.cv_scores_key = check_key("cv_scores_key", cv_scores_key)
        if metric is not None:
            check_key("metric", metric)
            if threshold is None:
                raise invalid(
                    "metric", metric,
                    "None unless `threshold` is given (without cross-validation the error is a "
                    "fixed threshold); fold losses are read from `cv_scores_key`",
                )
        self.metric = metric
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
        self.let_running_finish = let_running_finish
        self.background = background
        self.report_progress = report_progress
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.criterion = AutoTermCriterion(
            mode=mode, min_trials=min_trials, delta=delta, beta_scale=beta_scale,
            val_train_ratio=val_train_ratio, threshold=threshold, seed=seed, **criterion_kwargs,
        )
        self._space: SearchSpace | None = None
        if param_space is not None:
            self._space = SearchSpace.from_param_space(param_space)
        self._searcher: AutoTermSearcher | None = None
        if searcher is not None:
            from ray_autoterm.tune.searcher import AutoTermSearcher

            if not isinstance(searcher, AutoTermSearcher):
                raise invalid("searcher", searcher, "an AutoTermSearcher (or None)")
            self._state = searcher._link(self)
            self._searcher = searcher
        else:
            self._state = SharedState()
        self._configure_state()
        self.decisions: list[Decision] = []
        self._active: set[str] = set()
        self._running_at_fire: set[str] | None = None
        self.running_at_stop: frozenset[str] = frozenset()
        self._warned_inferred = False
        self._init_runtime()

    # ----------------------------------------------------------------- plumbing
    def _configure_state(self) -> None:
        self._state.cv_scores_key = self.cv_scores_key
        self._state.metric = self.metric
        self._state.single_value_ok = self.criterion.min_folds == 1
        self.criterion.fitter = self._state.fitter

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_lock", "_wake", "_worker"):
            state.pop(key, None)
        state["decisions"] = [d.to_dict() for d in self.decisions]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("duty_cycle", 0.25)  # a stopper saved by an older version
        self.decisions = [Decision.from_dict(d) for d in state["decisions"]]
        self._state = attach(self._state)
        self._configure_state()
        self._init_runtime()

    @property
    def history(self):  # noqa: ANN201 - History, documented in ray_autoterm.history
        """The trials recorded so far (shared with a linked searcher)."""
        return self._state.history

    # ``running_at_stop``: the trials that were running when the criterion fired.

    @property
    def latest_decision(self) -> Decision | None:
        """The most recent decision, or ``None`` before the first."""
        return self.decisions[-1] if self.decisions else None

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
        if self.log_dir is None:
            self.log_dir = _experiment_dir_of_caller()
        done = bool(result.get("done", False))
        with self._lock:
            if done:
                self._active.discard(trial_id)
            else:
                self._active.add(trial_id)
            changed = self._state.ingest(trial_id, result)
        if changed and self._state.history[trial_id].complete:
            if self.background:
                self._ensure_worker()
                self._wake.set()
            else:
                self.decide()
        if self.report_progress:
            result[PROGRESS_KEY] = self._progress()
        if self._state.fired is None:
            return False
        if not self.let_running_finish:
            return True
        running = self._running_at_fire or set()
        return trial_id not in running

    def stop_all(self) -> bool:
        """Whether the experiment should end (see ``let_running_finish``)."""
        if self._state.fired is None:
            return False
        if not self.let_running_finish:
            return True
        with self._lock:
            if self._running_at_fire is None:
                self._running_at_fire = set(self._active)
            self._running_at_fire &= self._active
            return not self._running_at_fire

    def decide(self) -> Decision:
        """Evaluate the criterion now, on everything recorded so far, and return the decision.

        The decision is appended to :attr:`decisions` and the decision log; if it says stop,
        the experiment stops (and a linked searcher finishes).
        """
        decision = self.criterion.evaluate(self._state.history, self._search_space())
        with self._lock:
            self.decisions.append(decision)
            if decision.should_stop and self._state.fired is None:
                self._state.fired = decision
                self._running_at_fire = set(self._active)
                self.running_at_stop = frozenset(self._active)
                fired = True
            else:
                fired = False
        self._write(decision)
        if fired:
            inc = decision.incumbent_config
            logger.info(
                "ray-autoterm stops the experiment after %d trials: the regret bound %.4g is "
                "below the statistical error %.4g. Incumbent: trial %s, %s = %.6g, config %s.",
                decision.num_trials, decision.regret_bound, decision.statistical_error,
                decision.incumbent_trial_id, self.cv_scores_key, decision.incumbent_value, inc,
            )
        return decision

    # ----------------------------------------------------------------- internals
    def _progress(self) -> dict[str, float]:
        last = self.latest_decision
        nan = float("nan")

        def num(v: float | None) -> float:
            return nan if v is None else float(v)

        return {
            "regret_bound": num(last.regret_bound if last else None),
            "statistical_error": num(last.statistical_error if last else None),
            "num_trials": float(last.num_trials if last else 0),
            "stopped": float(self._state.fired is not None),
        }

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(
                target=self._work, name="ray-autoterm-criterion", daemon=True
            )
            self._worker.start()

    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            start = time.perf_counter()
            try:
                self.decide()
            except Exception:  # never let the worker die silently; keep the run going
                logger.exception("ray-autoterm failed to evaluate the criterion; not stopping.")
            if self._state.fired is not None:
                continue  # nothing left to ration
            # Rest in proportion to the work just done (see ``duty_cycle``); completions that
            # arrive meanwhile set ``_wake`` and are evaluated together afterwards.
            time.sleep((time.perf_counter() - start) * (1.0 / self.duty_cycle - 1.0))

    def wait_for_decision(self, timeout: float = 60.0) -> None:
        """Block until the background worker has evaluated everything recorded so far."""
        deadline = time.monotonic() + timeout
        target = len(self._state.history.completed())
        while time.monotonic() < deadline:
            last = self.latest_decision
            idle = not self._wake.is_set()
            if last is not None and idle and _seen(last, self, target):
                return
            time.sleep(0.02)

    def _write(self, decision: Decision) -> None:
        if not self.log_dir:
            return
        try:
            os.makedirs(self.log_dir, exist_ok=True)
            with open(os.path.join(self.log_dir, DECISION_LOG_NAME), "a", encoding="utf-8") as f:
                f.write(json.dumps(decision.to_dict(), default=str) + "\n")
        except OSError as exc:
            logger.warning("ray-autoterm could not write its decision log in %s: %s", self.log_dir, exc)


def _seen(decision: Decision, stopper: AutoTermStopper, target: int) -> bool:
    usable = [r for r in stopper._state.history.completed() if stopper.criterion.usable(r)]
    return decision.num_trials >= len(usable) or target == 0


def _experiment_dir_of_caller() -> str | None:
    """The experiment directory of the Tune controller calling the stopper, if it is local.

    Tune calls a stopper from ``TuneController._process_trial_result``; its storage context
    knows the experiment path. For non-local storage the driver's staging directory is used
    (Tune syncs it to the storage with the experiment state).
    """
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            break
        if not str(frame.f_globals.get("__name__", "")).startswith("ray."):
            # Only Ray's own frames are inspected: reading a user's frame locals would pin
            # them (Python keeps the snapshot alive with the frame).
            frame = frame.f_back
            continue
        controller = frame.f_locals.get("self")
        storage = getattr(controller, "_storage", None)
        if storage is not None and hasattr(storage, "experiment_fs_path"):
            try:
                fs = storage.storage_filesystem
                if getattr(fs, "type_name", "") == "local":
                    return str(storage.experiment_fs_path)
                return str(storage.experiment_driver_staging_path)
            except Exception:  # noqa: BLE001 - a Ray internals change must not break the run
                break
        frame = frame.f_back
    logger.warning(
        "ray-autoterm could not find the experiment directory; decisions are kept in "
        "`stopper.decisions` only. Pass `log_dir=` to write autoterm_decisions.jsonl."
    )
    return ""


__all__ = ["AutoTermStopper", "SearchSpaceError"]
