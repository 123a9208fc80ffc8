"""How the stopper follows a Tune run: its start, trials that end, results it was not given.

These functions are the part of :class:`~ray_autoterm.AutoTermStopper` that reacts to what Tune
does rather than to a result (the stopper's ``_bind``, ``_on_trial_start``, ... call them): the
first call (find the experiment directory and the modes Tune was given, attach
:class:`~ray_autoterm.tune.callback.AutoTermCallback`), the callback's events
(trial start, results a ``CombinedStopper`` withheld, trials that end without ``done``, the end
of the experiment) and the rule that ends a run none of whose trials can be used.
"""

from __future__ import annotations

import logging
from collections import Counter
from types import FrameType
from typing import TYPE_CHECKING, Any

from ray_autoterm.criterion.decision import Decision
from ray_autoterm.criterion.pruning import impute_folds, reference_records
from ray_autoterm.tune import _tune_internals as internals
from ray_autoterm.tune._keys import CV_MEAN_KEY
from ray_autoterm.tune.callback import AutoTermCallback

_RECENT_ENDED = 64  # final results of ended trials kept, to carry the stop if one fires it

if TYPE_CHECKING:
    from ray_autoterm.tune.stopper import AutoTermStopper

logger = logging.getLogger("ray_autoterm")


def bind(stopper: AutoTermStopper, caller: FrameType | None) -> None:
    """First call from Tune: find the experiment directory, the modes Tune was given and
    attach the callback (see :mod:`ray_autoterm.tune._tune_internals`)."""
    stopper._bound = True
    controller = internals.calling_controller(caller)
    if controller is not None:
        if stopper.log_dir is None:
            stopper.log_dir = internals.experiment_dir(controller._storage)
        mine = [cb for cb in internals.controller_callbacks(controller)
                if isinstance(cb, AutoTermCallback) and cb.stopper.run_id == stopper.run_id]
        for cb in mine:  # a restored experiment may hold another copy of this stopper
            cb.stopper = stopper
        if not mine and not internals.attach_callback(controller, stopper.callback()):
            controller = None
    if controller is None and not stopper._has_callback and internals.called_by_ray(caller):
        logger.warning(
            "ray-autoterm could not attach its Tune callback, so it cannot see trials that "
            "end without a final result, results a CombinedStopper withholds, or the end of "
            "the experiment. Pass RunConfig(callbacks=[stopper.callback()])."
        )
        combined = internals.calling_combined_stopper(caller)
        first = list(getattr(combined, "_stoppers", [stopper]))[0] if combined else stopper
        if first is not stopper:
            logger.warning(
                "AutoTermStopper is not the first stopper of its CombinedStopper: Tune asks "
                "its stoppers in order and stops asking at the first that says stop, so the "
                "criterion may never see a result. Put AutoTermStopper first."
            )
    places = [("TuneConfig / tune.run", *internals.tune_run_metric_mode(caller))]
    if controller is not None:
        places += internals.search_and_scheduler_modes(controller)
    for where, metric, mode in places:
        if mode in ("min", "max") and metric in (CV_MEAN_KEY, stopper.metric):
            stopper._claim_mode(f"{where} (metric={metric!r}, mode={mode!r})", mode)
        elif mode in ("min", "max") and metric is None and "FoldPruningScheduler" in where:
            stopper._claim_mode(f"{where} (mode={mode!r})", mode)


def on_trial_start(stopper: AutoTermStopper, trial_id: str, storage: Any) -> None:
    stopper._has_callback = True
    if stopper.log_dir is None and storage is not None:
        stopper.log_dir = internals.experiment_dir(storage)
    with stopper._lock:
        stopper._started.add(trial_id)
        if trial_id not in stopper._ended:  # running from its start, not its first result
            stopper._active.add(trial_id)


def on_callback_result(
    stopper: AutoTermStopper, trial_id: str, result: dict[str, Any], storage: Any
) -> None:
    stopper._has_callback = True
    if stopper.log_dir is None and storage is not None:
        stopper.log_dir = internals.experiment_dir(storage)
    if stopper._last_result.get(trial_id) is result:
        return  # the stopper was called with this result
    stopper._missed_calls += 1
    if stopper._missed_calls == 1:
        logger.info(
            "ray-autoterm is not called with every result (a CombinedStopper stops asking "
            "its stoppers at the first that says stop); its callback passes them on."
        )
    stopper._observe(trial_id, result)
    if stopper.report_progress:
        result.update(stopper._progress())


def mark_ended(stopper: AutoTermStopper, trial_id: str) -> bool:
    """A trial ended (final result, scheduler or stopper, error): no longer running. Returns
    ``False`` when it had already ended (Tune passes a final result twice)."""
    with stopper._lock:
        if trial_id in stopper._ended:
            return False
        stopper._ended.add(trial_id)
        stopper._active.discard(trial_id)
        last = stopper._last_result.pop(trial_id, None)
        if last is not None:  # kept a while, to carry the stop if this trial fires it
            stopper._recent_ended[trial_id] = last
            while len(stopper._recent_ended) > _RECENT_ENDED:
                stopper._recent_ended.popitem(last=False)
    return True


def on_trial_end(stopper: AutoTermStopper, trial_id: str, error: bool, message: str = "") -> None:
    """What a trial's end means for its record (after :func:`mark_ended`, once its results
    are recorded): folds cut short are imputed or the trial is left out, and why is said.

    A trial that raised ``UnsupportedContextError`` (a reporting helper called where its
    report cannot reach Tune, as in a Ray Train worker) ends the experiment at once with
    that message: every other trial would raise the same."""
    stopper._ends_recorded.add(trial_id)
    with stopper._state.lock:
        rec = stopper._state.record(trial_id)
        done = rec is not None and (rec.complete or rec.pruned)  # the common case: no more
        cut = None if done else stopper._state.ended_partial(trial_id)
        failed_unusable = error and (rec is None or not stopper.criterion.usable(rec))
    if cut is not None and stopper.cut_trials == "impute" and impute_cut(stopper, trial_id):
        pass  # counted like a pruned trial (see impute_cut)
    elif cut is not None:
        stopper._state._problem(
            trial_id, f"ended with {cut[0]} of {cut[1]} folds",
            f"Trial {trial_id} ended with {cut[0]} of {cut[1]} folds: a scheduler or a "
            "stopper (ASHA, MaximumIterationStopper, ...) ended it before its last fold, or "
            "the trainable returned early, and "
            + ("cut_trials=\"leave_out\" leaves such trials out" if stopper.cut_trials
               == "leave_out" else "no complete trial with as many folds exists yet to "
               "impute its missing folds from, so it is left out")
            + " (see the docs, 'Schedulers'). (Said once; later trials like it are counted, "
            "not logged.)",
            kind="ended-partial",
        )
    elif failed_unusable:
        stopper._state.problems.setdefault(trial_id, "raised an error")
    if error and "UnsupportedContextError" in message and stopper._state.fired is None:
        text = message[message.index("UnsupportedContextError"):].strip()
        logger.error("ray-autoterm stops the experiment: trial %s raised %s", trial_id, text)
        give_up(stopper, f"trial {trial_id} raised {text.splitlines()[0]}")
        return
    check_give_up(stopper)


def impute_cut(stopper: AutoTermStopper, trial_id: str) -> bool:
    """A trial a scheduler cut after some of its folds (ASHA, HyperBand, MedianStoppingRule, a
    stopper) becomes a complete observation, as ``FoldPruningScheduler`` does with the trials it
    prunes: each missing fold is the incumbent's same fold shifted by the trial's mean measured
    difference to it (:func:`~ray_autoterm.criterion.pruning.impute_folds`), so its value is the
    paired estimate of its CV mean. It then counts in ``t`` and ``min_trials`` and a decision
    follows; returns ``False`` when no complete trial with as many folds exists yet."""
    state = stopper._state
    with state.lock:
        folds = dict(state.partial.get(trial_id, {}))
        rec = state.record(trial_id)
        k = state.expected_folds.get(trial_id)
    refs = [r for r in reference_records(state.completed()) if len(r.fold_scores) == k]
    if rec is None or not folds or not refs or any(not 0 <= i < (k or 0) for i in folds):
        return False
    sign = 1.0 if stopper.mode == "min" else -1.0
    incumbent = min(refs, key=lambda r: sign * r.value)
    state.mark_pruned(trial_id, rec.config, impute_folds(folds, incumbent), sorted(folds),
                      complete=True)
    stopper._request_decision()
    return True


def on_experiment_end(stopper: AutoTermStopper) -> None:
    """Final decision on everything recorded, and why there was no stop, if none."""
    stopper._settle()
    if stopper._state.fired is not None:
        return
    usable = len(stopper._state.usable(stopper.criterion.min_folds))
    cut = sum(stopper._state.ended_partial(t) is not None for t in stopper._ended)
    last = stopper.decisions[-1] if stopper.decisions else None
    if usable < stopper.criterion.min_trials:
        logger.warning(
            "ray-autoterm did not stop the experiment: only %d trials completed all their "
            "folds with usable scores, fewer than min_trials=%d%s.", usable,
            stopper.criterion.min_trials,
            f"; {cut} ended with fewer folds than they announced (cut short by a scheduler "
            "or a stopper: see the README, 'Schedulers')" if cut else "",
        )
    elif last is not None:
        logger.info("ray-autoterm did not stop the experiment: %s", last.summary())


def check_give_up(stopper: AutoTermStopper) -> None:
    if stopper.give_up_after is None or stopper._state.fired is not None or stopper._any_usable:
        return
    ended = sorted(stopper._ends_recorded)  # ended, and their results recorded
    if len(ended) < stopper.give_up_after:
        return
    if stopper._state.usable(stopper.criterion.min_folds):
        stopper._any_usable = True  # usable records stay usable: no need to look again
        return
    why = Counter(stopper._state.problems.get(t, "no usable fold scores") for t in ended)
    words = "; ".join(f"{w}: {n}" for w, n in why.most_common())
    reason = (
        f"none of the {len(ended)} trials that ended has usable fold scores ({words}), so "
        f"the criterion can never decide: stopped after give_up_after={stopper.give_up_after} "
        f"trials instead of spending the budget. {_advice(why)}"
    )
    give_up(stopper, reason)


def give_up(stopper: AutoTermStopper, reason: str) -> None:
    """Stop the experiment with a decision saying why the criterion cannot decide."""
    decision = Decision(0, True, reason, mode=stopper.mode, error_source="none",
                        run_id=stopper.run_id)
    with stopper._decide_lock:
        if stopper._state.fired is None:
            stopper._record(decision)


def _advice(why: Counter[str]) -> str:
    """What to change, from why the trials could not be used (most common reason first)."""
    advice = []
    for words, _ in why.most_common():
        if "error" in words:
            tip = ("Look at the trials' errors (Tune prints them; ResultGrid.errors) and fix the "
                   "trainable.")
        elif "non-finite" in words:
            tip = "The trials reported NaN or inf fold values: check the model and its inputs."
        elif "folds" in words and "ended with" in words:
            tip = ("A scheduler or stopper ended the trials before their last fold: let each "
                   "trial finish its folds (see the docs, 'Schedulers').")
        else:
            tip = ("Report at least 2 fold values per trial "
                   "(report_cv_scores([...], mode=...)).")
        if tip not in advice:
            advice.append(tip)
    return " ".join(advice)
