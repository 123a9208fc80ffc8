"""Trials at a lower fidelity (fewer epochs): their full-fidelity value, by the incumbent's curve.

A multi-fidelity scheduler (ASHA, HyperBand) ends most trials after a few epochs. Their last
value is not comparable with a trial trained to the end: it is pessimistic by however much the
model would still have improved. Fold pruning answers the same question across folds
(:func:`ray_autoterm.criterion.pruning.impute_folds`: the missing folds are the incumbent's,
shifted by the measured difference); this module answers it across epochs, in the same way:

    ŷ(γ, T) = y(γ, r) + (y(γ*, T) − y(γ*, r))                                    (curve shift)

where ``r`` is the trial's last epoch, ``T`` the full fidelity, and ``γ*`` the reference trial
(the incumbent among the trials that reached ``T``): a cut trial is assumed to improve from
epoch ``r`` to ``T`` as much as the incumbent did. With fold lists, the shift is applied fold by
fold, so the imputed folds keep the trial's own spread at epoch ``r``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from ray_autoterm.history import TrialRecord


def curve_shift(
    trial_values: Sequence[float],
    reference_at_r: Sequence[float],
    reference_at_t: Sequence[float],
) -> list[float]:
    """The trial's values at full fidelity, shifted by the reference's improvement from ``r``.

    Args:
        trial_values: The trial's values at its last epoch ``r`` (one per fold, or one).
        reference_at_r: The reference trial's values at epoch ``r`` (same length).
        reference_at_t: The reference trial's values at the full fidelity ``T`` (same length).

    Returns:
        ``trial_values[i] + reference_at_t[i] − reference_at_r[i]`` for each fold ``i``.

    Example:
        >>> [round(v, 6) for v in curve_shift([0.5, 0.7], [0.4, 0.6], [0.2, 0.3])]
        [0.3, 0.4]
    """
    if not len(trial_values) == len(reference_at_r) == len(reference_at_t):
        raise ValueError(
            "curve_shift needs as many values for the trial and for the reference at both "
            f"epochs; got {len(trial_values)}, {len(reference_at_r)} and {len(reference_at_t)}"
        )
    return [float(v) + float(t) - float(r)
            for v, r, t in zip(trial_values, reference_at_r, reference_at_t, strict=True)]


def reference_curve(
    curves: Mapping[str, Mapping[int, Sequence[float]]],
    full: int,
    at: int,
    sign: float = 1.0,
) -> tuple[str, Sequence[float], Sequence[float]] | None:
    """The best trial (by ``sign ×`` mean value at ``full``) among those with values at both
    ``at`` and ``full``: ``(trial_id, values at at, values at full)``, or ``None``.

    Example:
        >>> curves = {"a": {1: [0.5], 4: [0.3]}, "b": {1: [0.4], 4: [0.35]}, "c": {1: [0.1]}}
        >>> reference_curve(curves, full=4, at=1)
        ('a', [0.5], [0.3])
    """
    best: tuple[float, str] | None = None
    for trial_id, curve in curves.items():
        if full in curve and at in curve and len(curve[full]) == len(curve[at]):
            value = sign * sum(curve[full]) / len(curve[full])
            if best is None or value < best[0]:
                best = (value, trial_id)
    if best is None:
        return None
    curve = curves[best[1]]
    return best[1], curve[at], curve[full]


def at_full_fidelity(
    records: Sequence[TrialRecord],
    curves: Mapping[str, Mapping[int, Sequence[float]]],
    sign: float = 1.0,
) -> tuple[list[TrialRecord], int]:
    """The records, each trial below the full fidelity ``T`` (the highest epoch any trial
    reached) moved to ``T`` by :func:`curve_shift` against :func:`reference_curve`.

    A record is shifted only when its fold values are its curve's last point (a record that
    was pruned or imputed otherwise stays as it is) and a reference trial has values at both
    its epoch and ``T``. Trials that all report once (plain cross-validation) have one epoch
    each, and the records come back unchanged. Returns the records and how many were shifted.

    Args:
        records: The trials a decision sees (``fold_scores`` in the metric's own sign).
        curves: Per trial id, its values per epoch (Tune's ``training_iteration``).
        sign: ``1.0`` when lower is better (``mode="min"``), ``-1.0`` when higher is.

    Example:
        >>> recs = [TrialRecord("a", {}, [0.3]), TrialRecord("b", {}, [0.45])]
        >>> curves = {"a": {1: [0.5], 2: [0.3]}, "b": {1: [0.45]}}
        >>> out, n = at_full_fidelity(recs, curves)
        >>> [round(r.fold_scores[0], 6) for r in out], n
        ([0.3, 0.25], 1)
    """
    last = {t: max(c) for t, c in curves.items() if c}
    if not last:
        return list(records), 0
    full = max(last.values())
    if all(last.get(r.trial_id, full) == full for r in records):
        return list(records), 0
    references: dict[int, tuple[str, Sequence[float], Sequence[float]] | None] = {}
    out: list[TrialRecord] = []
    shifted = 0
    for rec in records:
        at = last.get(rec.trial_id, full)
        curve = curves.get(rec.trial_id, {})
        if at >= full or list(curve.get(at, ())) != list(rec.fold_scores):
            out.append(rec)
            continue
        if at not in references:
            references[at] = reference_curve(curves, full=full, at=at, sign=sign)
        ref = references[at]
        if ref is None or len(ref[1]) != len(rec.fold_scores):
            out.append(rec)
            continue
        out.append(dataclasses.replace(
            rec, fold_scores=curve_shift(rec.fold_scores, ref[1], ref[2])))
        shifted += 1
    return out, shifted


def at_common_rung(
    records: Sequence[TrialRecord],
    curves: Mapping[str, Mapping[int, Sequence[float]]],
    min_trials: int,
) -> tuple[list[TrialRecord], int]:
    """The records at one common epoch: the highest epoch ``E`` that at least ``min_trials``
    of them reached, each with its values at ``E``; trials that stopped below ``E`` are left
    out (the "rung-out" design, the GP on each trial's result at the highest rung that enough
    trials reached). Trials that all report once come back unchanged.

    Before ``min_trials`` trials reach any epoch, ``E`` is the epoch most trials reached (the
    rule cannot stop then anyway). Returns the records and the epoch ``E`` (0: unchanged).

    Example:
        >>> recs = [TrialRecord(t, {}, [v]) for t, v in (("a", 0.3), ("b", 0.45), ("c", 0.5))]
        >>> curves = {"a": {1: [0.5], 2: [0.3]}, "b": {1: [0.45]}, "c": {1: [0.6], 2: [0.5]}}
        >>> out, epoch = at_common_rung(recs, curves, min_trials=2)
        >>> [(r.trial_id, r.fold_scores) for r in out], epoch
        ([('a', [0.3]), ('c', [0.5])], 2)
    """
    last = {t: max(c) for t, c in curves.items() if c}
    ids = [r.trial_id for r in records]
    if not last or len({last.get(t, 0) for t in ids}) <= 1:
        return list(records), 0
    reached: dict[int, int] = {}
    for t in ids:
        for epoch in curves.get(t, {}):
            reached[epoch] = reached.get(epoch, 0) + 1
    enough = [e for e, n in reached.items() if n >= min_trials]
    epoch = max(enough) if enough else max(reached, key=lambda e: (reached[e], e))
    out: list[TrialRecord] = []
    for rec in records:
        curve = curves.get(rec.trial_id)
        if curve is None:
            out.append(rec)
        elif epoch in curve and len(curve[epoch]) == len(rec.fold_scores):
            values = [float(v) for v in curve[epoch]]
            out.append(rec if values == list(rec.fold_scores)
                       else dataclasses.replace(rec, fold_scores=values))
    return out, epoch


FIDELITY_DESIGNS = ("rung", "shift")
"""How the stopper compares trials reported at several epochs: ``"rung"`` (default:
:func:`at_common_rung`) or ``"shift"`` (:func:`at_full_fidelity`)."""


__all__ = ["FIDELITY_DESIGNS", "at_common_rung", "at_full_fidelity", "curve_shift",
           "reference_curve"]
