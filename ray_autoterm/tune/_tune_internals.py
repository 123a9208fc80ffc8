"""What the stopper learns from Tune's own frames when no supported hook tells it.

Tune hands a ``Stopper`` only ``(trial_id, result)``. The supported hook for everything else is a
``tune.Callback`` (:class:`~ray_autoterm.tune.callback.AutoTermCallback`), but Tune cannot attach
one automatically, and ``stop=AutoTermStopper()`` alone must work. So, when Tune first calls the
stopper, these helpers look at the calling frames of Ray's own modules (never a user's: reading a
user's frame locals would pin them) for the ``TuneController`` (its storage, its callbacks) and
for ``tune.run``'s ``metric`` and ``mode``. A Ray version that changes these internals only loses
the fallback: the stopper then says how to pass the callback explicitly.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

_MAX_DEPTH = 40


def caller_of_stopper() -> FrameType | None:
    """The frame that called the stopper's ``__call__`` or ``stop_all`` (two frames up)."""
    return sys._getframe(2)


def _ray_frames(start: FrameType | None):
    frame, depth = start, 0
    while frame is not None and depth < _MAX_DEPTH:
        if str(frame.f_globals.get("__name__", "")).startswith("ray."):
            yield frame
        frame, depth = frame.f_back, depth + 1


def called_by_ray(frame: FrameType | None) -> bool:
    """Whether ``frame`` (the stopper's caller) is Ray's code, not a user calling it directly."""
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith("ray.")


def calling_controller(frame: FrameType | None) -> Any | None:
    """The ``TuneController`` whose call reached ``frame`` (the stopper's caller), or ``None``."""
    for f in _ray_frames(frame):
        owner = f.f_locals.get("self")
        if all(hasattr(owner, a) for a in ("_callbacks", "_storage", "_trials")):
            return owner
    return None


def calling_combined_stopper(frame: FrameType | None) -> Any | None:
    """The ``CombinedStopper`` whose method is ``frame`` (the stopper's caller), or ``None``."""
    from ray.tune.stopper import CombinedStopper

    if frame is None or not str(frame.f_globals.get("__name__", "")).startswith("ray."):
        return None  # never a user's frame: reading its locals would pin them
    owner = frame.f_locals.get("self")
    return owner if isinstance(owner, CombinedStopper) else None


def tune_run_metric_mode(frame: FrameType | None) -> tuple[str | None, str | None]:
    """``tune.run``'s ``metric`` and ``mode`` (what ``TuneConfig`` passes on), if found above
    ``frame``."""
    for f in _ray_frames(frame):
        if f.f_code.co_name == "run" and f.f_globals.get("__name__") == "ray.tune.tune":
            metric, mode = f.f_locals.get("metric"), f.f_locals.get("mode")
            return (metric if isinstance(metric, str) else None,
                    mode if isinstance(mode, str) else None)
    return None, None


def experiment_dir(storage: Any) -> str | None:
    """The experiment directory of a Tune ``StorageContext``: the experiment path for local
    storage, else the driver's staging directory (Tune syncs it with the experiment state)."""
    try:
        if getattr(storage.storage_filesystem, "type_name", "") == "local":
            return str(storage.experiment_fs_path)
        return str(storage.experiment_driver_staging_path)
    except Exception:  # noqa: BLE001 - a Ray internals change must not break the run
        return None


def attach_callback(controller: Any, callback: Any) -> bool:
    """Append ``callback`` to the controller's callbacks; returns whether it worked."""
    callbacks = getattr(getattr(controller, "_callbacks", None), "_callbacks", None)
    if not isinstance(callbacks, list):
        return False
    callbacks.append(callback)
    return True


def controller_callbacks(controller: Any) -> list[Any]:
    callbacks = getattr(getattr(controller, "_callbacks", None), "_callbacks", None)
    return list(callbacks) if isinstance(callbacks, list) else []


def search_and_scheduler_modes(controller: Any) -> list[tuple[str, str | None, str | None]]:
    """``(where, metric, mode)`` of the controller's search algorithm (and of every searcher it
    wraps: ``ConcurrencyLimiter``, ``Repeater``, ...) and of its scheduler."""
    out: list[tuple[str, str | None, str | None]] = []
    chain: list[Any] = []
    obj = getattr(controller, "_search_alg", None)
    while obj is not None and all(obj is not o for o in chain):
        chain.append(obj)
        obj = getattr(obj, "searcher", None)
    for obj in reversed(chain):  # the innermost searcher that has a mode (wrappers copy it)
        metric, mode = _metric_mode(obj)
        if mode is not None:
            out.append((type(obj).__name__, metric, mode))
            break
    scheduler = getattr(controller, "_scheduler_alg", None)
    if scheduler is not None:
        metric, mode = _metric_mode(scheduler)
        if mode is not None:
            out.append((type(scheduler).__name__, metric, mode))
    return out


def _metric_mode(obj: Any) -> tuple[str | None, str | None]:
    metric = getattr(obj, "_metric", None)
    mode = getattr(obj, "_mode", None)
    if callable(mode):  # FoldPruningScheduler.mode() is a method; its setting is `_mode`
        mode = None
    return (metric if isinstance(metric, str) else None,
            mode if isinstance(mode, str) else None)


def trial_error_text(trial: Any) -> str:
    """The text of a failed trial's error, as Tune wrote it to the trial's local error file
    (``""`` when there is none or it cannot be read)."""
    try:
        path = trial.error_file
        if not path:
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except Exception:  # noqa: BLE001 - an unreadable error file must not end the run
        return ""
