"""State shared by a linked stopper and searcher, and how it survives pickling and restore.

A linked :class:`~ray_autoterm.AutoTermStopper` and :class:`~ray_autoterm.AutoTermSearcher` hold
one :class:`SharedState`: the trial history, the partial fold lists of streaming trials, the GP
fitter (so a fit is shared) and the firing decision.

**One lock.** Tune calls the stopper, the searcher and the scheduler from its driver thread, and the
stopper decides in a worker thread. Every write (:meth:`SharedState.ingest`,
:meth:`SharedState.mark_pruned`) and every read of the history by them goes through
``SharedState.lock``; a decision works on a :meth:`SharedState.snapshot` (a list of records,
which are replaced on update, never changed in place), so no GP work runs under the lock.

Tune saves the two separately (the stopper
in the experiment state, the searcher in its own checkpoint) and, on ``Tuner.restore``, brings
them back as separate objects. Each owner therefore re-attaches on unpickling through a
per-process registry keyed by the link id: the first copy to arrive is registered, later copies
are merged into it (union of trials, the more complete fold list wins), and both owners end up
holding the same object again.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from ray_autoterm.criterion.decision import Decision
from ray_autoterm.gp import GPFitter
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.tune._keys import (
    CV_SCORES_KEY,
    FOLD_KEY,
    FOLD_LOSS_KEY,
    HOLDOUT_MEAN_KEY,
    HOLDOUT_N_KEY,
    HOLDOUT_SE_KEY,
    NUM_FOLDS_KEY,
    VAL_TRAIN_RATIO_KEY,
)
from ray_autoterm.tune.reporting import parse_fold_values

logger = logging.getLogger("ray_autoterm")

_REGISTRY: weakref.WeakValueDictionary[str, SharedState] = weakref.WeakValueDictionary()
_REGISTRY_LOCK = threading.Lock()


class SharedState:
    """History, GP fitter and firing state of one experiment (plain data when pickled)."""

    def __init__(self, link_id: str | None = None) -> None:
        self.link_id = link_id or uuid.uuid4().hex
        self.lock = threading.RLock()
        self.history = History()
        self.completion: list[str] = []  # trial ids in the order their fold lists completed
        self.curves: dict[str, dict[int, list[float]]] = {}  # trial -> epoch -> its values
        self.multi_epoch = False  # some trial reported values at a second epoch
        self._completed_ids: set[str] = set()
        self.partial: dict[str, dict[int, float]] = {}
        self.fitter = GPFitter()
        self.fired: Decision | None = None
        self.cv_scores_key = CV_SCORES_KEY
        self.metric: str | None = None
        self.single_value_ok = False  # a fixed threshold needs no folds
        self.expected_folds: dict[str, int] = {}  # streamed trials: the announced `num_folds`
        self.problems: dict[str, str] = {}  # trial id -> why it cannot be used (short words)
        self._warned: set[str] = set()
        # One validation set: the mean and its standard error under these keys.
        self.holdout_mean_key = HOLDOUT_MEAN_KEY
        self.holdout_se_key = HOLDOUT_SE_KEY
        self.holdout_seen = False  # a holdout result arrived (the stopper switches its error)
        with _REGISTRY_LOCK:
            _REGISTRY[self.link_id] = self

    def __getstate__(self) -> dict[str, Any]:
        with self.lock:
            state = self.__dict__.copy()
            state["history"] = self.history.to_list()
            state["completion"] = list(self.completion)
        state.pop("lock", None)
        state.pop("_completed_ids", None)
        state["fired"] = None if self.fired is None else self.fired.to_dict()
        state["_warned"] = set()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, default in (("holdout_mean_key", HOLDOUT_MEAN_KEY),
                             ("holdout_se_key", HOLDOUT_SE_KEY), ("holdout_seen", False)):
            state.setdefault(key, default)  # a state saved by an older version
        self.__dict__.update(state)
        self.lock = threading.RLock()
        self.history = History.from_list(state["history"])
        self.fired = None if state["fired"] is None else Decision.from_dict(state["fired"])
        self.completion = list(state.get("completion", []))
        self.__dict__.setdefault("curves", {})
        self.__dict__.setdefault("multi_epoch", False)
        self._completed_ids = set(self.completion)
        self._sync_completion()

    # ----------------------------------------------------------------- reads (under the lock)
    def record(self, trial_id: str) -> TrialRecord | None:
        """The trial's record, or ``None``."""
        with self.lock:  # re-entrant: the writers below call it under the lock too
            return self.history[trial_id] if trial_id in self.history else None  # noqa: SIM401

    @property
    def num_completed(self) -> int:
        """How many trials have completed their fold lists so far (pruned-and-imputed too)."""
        with self.lock:
            return len(self.completion)

    def snapshot(self, count: int | None = None) -> list[TrialRecord]:
        """The records of the first ``count`` trials to complete (all when ``None``), in
        completion order: what a decision at that trial count sees. Records are replaced on
        update, never changed in place, so the list stays consistent outside the lock."""
        with self.lock:
            ids = self.completion if count is None else self.completion[:count]
            return [self.history[t] for t in ids if t in self.history]

    def completed(self) -> list[TrialRecord]:
        """Complete records in completion order (a copy taken under the lock)."""
        with self.lock:
            return self.history.completed()

    def pruned(self) -> list[TrialRecord]:
        """Records of pruned trials (a copy taken under the lock)."""
        with self.lock:
            return self.history.pruned()

    def usable(self, min_folds: int) -> list[TrialRecord]:
        """The records the criterion can use (a copy taken under the lock)."""
        with self.lock:
            return self.history.usable(min_folds)

    def fidelity_snapshot(self) -> dict[str, dict[int, list[float]]]:
        """The trials' values per epoch (a copy), or ``{}`` when every trial reported at one
        epoch only (then nothing needs moving to a common fidelity)."""
        with self.lock:
            if not self.multi_epoch:
                return {}
            return {t: dict(c) for t, c in self.curves.items()}

    # ----------------------------------------------------------------- writes (under the lock)
    def _note_epoch(self, trial_id: str, result: Mapping[str, Any], values: list[float]) -> None:
        """Keep the values a trial reported at each epoch (Tune's ``training_iteration``)."""
        epoch = result.get("training_iteration")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            return
        curve = self.curves.setdefault(trial_id, {})
        curve[epoch] = list(values)
        if len(curve) > 1:
            self.multi_epoch = True

    def mark_pruned(
        self, trial_id: str, config: Mapping[str, Any], fold_scores: list[float],
        folds_measured: list[int], complete: bool,
    ) -> bool:
        """:meth:`History.mark_pruned` under the lock (a complete imputed record counts as a
        completion)."""
        with self.lock:
            changed = self.history.mark_pruned(
                trial_id, config, fold_scores, folds_measured, complete)
            self._note_completion(trial_id)
            return changed

    def _note_completion(self, trial_id: str) -> None:
        if trial_id in self._completed_ids:
            return
        rec = self.record(trial_id)
        if rec is not None and rec.complete:
            self._completed_ids.add(trial_id)
            self.completion.append(trial_id)

    def _sync_completion(self) -> None:
        """Add complete records that the completion list lacks (merged or older state)."""
        for rec in self.history.completed():
            self._note_completion(rec.trial_id)

    # ----------------------------------------------------------------- ingestion
    def ingest(
        self, trial_id: str, result: Mapping[str, Any], config: Mapping[str, Any] | None = None
    ) -> bool:
        """Record what a result says about a trial's folds; returns whether the history changed.

        Under the lock; see :meth:`_ingest` for what is understood."""
        with self.lock:
            changed = self._ingest(trial_id, result, config)
            if changed:
                self._note_completion(trial_id)
            return changed

    def _ingest(
        self, trial_id: str, result: Mapping[str, Any], config: Mapping[str, Any] | None
    ) -> bool:
        """Record what a result says about a trial's folds; returns whether the history changed.

        Understood, in this order: a fold list under ``cv_scores_key`` (one report per trial);
        a streamed fold (``fold`` and ``fold_loss``, complete once ``num_folds`` folds are in or
        the trial is done); with a fixed threshold, the scalar ``metric`` (one value per trial,
        complete when the trial is done); one validation set (``holdout_mean_key`` and
        ``holdout_se_key``, see :meth:`_ingest_holdout`). Anything else is skipped with a
        one-time warning.
        Non-finite values are recorded but the criterion leaves such a trial out.
        """
        config = dict(config if config is not None else result.get("config") or {})
        done = bool(result.get("done", False))
        ratio = _positive_or_none(result.get(VAL_TRAIN_RATIO_KEY))
        if self.cv_scores_key in result:
            scores = parse_fold_values(result[self.cv_scores_key])
            if scores is None:
                self._problem(
                    trial_id, f"`{self.cv_scores_key}` not a list of numbers",
                    f"Trial {trial_id} reported `{self.cv_scores_key}` = "
                    f"{result[self.cv_scores_key]!r}, which is not a list of numbers; "
                    "the trial is left out.",
                )
                return False
            self._check_folds(trial_id, scores)
            self._note_epoch(trial_id, result, scores)
            return self.history.add(trial_id, config, scores, ratio, complete=True)
        if FOLD_KEY in result and FOLD_LOSS_KEY in result:
            try:
                fold, loss = int(result[FOLD_KEY]), float(result[FOLD_LOSS_KEY])
            except (TypeError, ValueError):
                self._problem(trial_id, "a fold that is not a number",
                              f"Trial {trial_id} reported a fold that is not a number.")
                return False
            folds = self.partial.setdefault(trial_id, {})
            folds[fold] = loss
            k = result.get(NUM_FOLDS_KEY)
            if isinstance(k, int) and not isinstance(k, bool):
                self.expected_folds[trial_id] = k
            k = self.expected_folds.get(trial_id)
            # All announced folds in; without `num_folds`, whatever the trial sent by its end.
            complete = len(folds) >= k if k is not None else done
            scores = [folds[i] for i in sorted(folds)]
            if complete:
                self._check_folds(trial_id, scores)
            return self.history.add(trial_id, config, scores, ratio, complete=complete)
        if self.holdout_se_key in result and self.holdout_mean_key in result:
            return self._ingest_holdout(trial_id, result, config, done)
        if self.single_value_ok and self.metric and self.metric in result:
            value = parse_fold_values([result[self.metric]])
            if value is None:
                return False
            return self.history.add(trial_id, config, value, ratio, complete=done)
        if trial_id not in self.partial and trial_id not in self.history:
            expected = (f"`{self.cv_scores_key}` (a list of fold losses), "
                        f"`{FOLD_KEY}`/`{FOLD_LOSS_KEY}` or `{self.holdout_mean_key}`/"
                        f"`{self.holdout_se_key}` (one validation set)")
            self._problem(
                trial_id, f"no `{self.cv_scores_key}` in its results",
                f"Trial {trial_id} reported a result without {expected}; ray-autoterm skips "
                "such results. Report folds with ray_autoterm.report_cv_scores(...). "
                "(Said once; later trials like it are counted, not logged.)",
                kind="no-folds",
            )
        return False

    def _ingest_holdout(
        self, trial_id: str, result: Mapping[str, Any], config: dict[str, Any], done: bool
    ) -> bool:
        """One validation set: the mean under ``holdout_mean_key`` and its standard error under
        ``holdout_se_key`` (``holdout_n`` if given). Recorded as a one-value fold list with
        ``holdout_se``; partial until the trial is done (a trial reporting every epoch counts
        with its last report). A mean or error that is not a finite number (empty, one
        example, NaN/inf losses) is recorded as it is, and the trial is left out with one
        warning for the experiment."""
        self.holdout_seen = True
        mean, se = _number(result[self.holdout_mean_key]), _number(result[self.holdout_se_key])
        n_raw = result.get(HOLDOUT_N_KEY)
        n = int(n_raw) if isinstance(n_raw, (int, float)) and not isinstance(n_raw, bool) and (
            math.isfinite(n_raw)) else None
        if done:
            self._check_holdout(trial_id, mean, se, n)
        self._note_epoch(trial_id, result, [mean])
        return self.history.add(trial_id, config, [mean], None, complete=done,
                                holdout_se=se, holdout_n=n)

    def end_holdout(self, trial_id: str) -> bool:
        """A trial reporting one validation set ended without a ``done`` result (a scheduler
        such as ASHA stopped it, at its last rung or an earlier one): its last report becomes
        its complete record. Returns whether the history changed."""
        with self.lock:
            rec = self.record(trial_id)
            if rec is None or rec.complete or rec.pruned or rec.holdout_se is None:
                return False
            self._check_holdout(trial_id, rec.value, rec.holdout_se, rec.holdout_n)
            changed = self.history.add(trial_id, rec.config, rec.fold_scores, None,
                                       complete=True, holdout_se=rec.holdout_se,
                                       holdout_n=rec.holdout_n)
            self._note_completion(trial_id)
            return changed

    def _check_holdout(self, trial_id: str, mean: float, se: float, n: int | None) -> None:
        if math.isfinite(mean) and math.isfinite(se) and se >= 0:
            return
        why = ("no validation examples" if n == 0 else "a single validation example"
               if n == 1 else "non-finite per-example losses or error")
        self._problem(
            trial_id, f"holdout with {why}",
            f"Trial {trial_id} reported `{self.holdout_mean_key}` = {mean} and "
            f"`{self.holdout_se_key}` = {se} (n={n}): {why}, so there is no statistical "
            "error; the stopper leaves such trials out. Report every validation example's "
            "loss (report_holdout(per_example_losses)), all finite. (Said once; later "
            "trials like it are counted, not logged.)",
            kind="bad-holdout",
        )

    def ended_partial(self, trial_id: str) -> tuple[int, int] | None:
        """``(folds in, folds announced)`` for a streamed trial that has not sent all its
        folds (``None`` when it has, or announced no count)."""
        rec = self.record(trial_id)
        if rec is not None and (rec.complete or getattr(rec, "pruned", False)):
            return None  # all folds in, or pruned on purpose (FoldPruningScheduler)
        k = self.expected_folds.get(trial_id)
        n = len(self.partial.get(trial_id, {}))
        return (n, k) if k is not None and n < k else None

    def _check_folds(self, trial_id: str, scores: list[float]) -> None:
        needed = 1 if self.single_value_ok else 2
        if len(scores) < needed:
            n = len(scores)
            self._problem(
                trial_id, f"{n} value{'s' * (n != 1)} in `{self.cv_scores_key}`",
                f"Trial {trial_id} reported `{self.cv_scores_key}` = {scores!r} ({n} value"
                f"{'s' * (n != 1)}); the stopper needs at least {needed} fold value"
                f"{'s' * (needed > 1)} per trial"
                f"{' (Eq. 9 uses their spread)' if needed > 1 else ''}, so it leaves such "
                "trials out. Report every fold's loss, e.g. report_cv_scores([loss_1, ..., "
                "loss_k]). (Said once; later trials like it are counted, not logged.)",
                kind="few-folds",
            )
        elif not all(map(math.isfinite, scores)):
            self._problem(
                trial_id, "non-finite fold values",
                f"Trial {trial_id} reported non-finite fold values {scores}; it is left out of "
                "the criterion.",
            )

    def _problem(self, trial_id: str, short: str, message: str, kind: str | None = None) -> None:
        """Record why a trial cannot be used; log ``message`` once per trial, or once per
        experiment for a ``kind`` that every trial of a misconfigured objective repeats."""
        self.problems.setdefault(trial_id, short)
        key = kind or trial_id
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)


def attach(state: SharedState) -> SharedState:
    """Return the live state of ``state.link_id`` in this process, merging ``state`` into it."""
    with _REGISTRY_LOCK:
        live = _REGISTRY.get(state.link_id)
        if live is None or live is state:
            _REGISTRY[state.link_id] = state
            return state
        with live.lock:
            live.history.merge(state.history)
            live._sync_completion()
            for trial_id, folds in state.partial.items():
                mine = live.partial.setdefault(trial_id, {})
                for k, v in folds.items():
                    mine.setdefault(k, v)
            if live.fired is None and state.fired is not None:
                live.fired = state.fired
        live.fitter.num_fits = max(live.fitter.num_fits, state.fitter.num_fits)
        return live


def _number(value: Any) -> float:
    """``value`` as a float, NaN when it is not a number."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _positive_or_none(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None
