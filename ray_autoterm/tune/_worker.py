"""The stopper's background decisions: one worker thread, in order, rationed, with bounded lag.

Tune processes results in one driver thread; the GP work of a decision (tens of milliseconds
warm, about a second cold) should not sit on that path. :class:`DecisionWorker` runs the
decisions in one worker thread instead, under four rules:

* **In order.** It evaluates every trial count the synchronous rule would evaluate, one after
  the other (count ``n`` sees the first ``n`` trials to complete), so the firing decision is
  the synchronous rule's, not one of whichever counts a busy worker happened to reach (the rule
  is not monotone: a crossing at 24 can be undone by 27). Counts below ``skip_below``
  (``min_trials``), where the rule cannot stop, are skipped to the latest one.
* **Rationing.** After a decision it rests ``(1 / duty_cycle - 1)`` times the median duration of
  its last five decisions, so the GP work takes at most about ``duty_cycle`` of the driver's time
  while it keeps up. The median keeps one cold decision (imports, the first fit) from becoming a
  long rest.
* **Bounded lag.** Once ``max_lag`` completed trials wait for a decision, :meth:`request` cuts
  the rest short and holds the caller (Tune's result processing) until the worker has caught up.
* **Bounded hold.** The caller is never held for more than ``max_hold_share`` of the wall time
  since the first request: decisions slower than trials arrive (thousands of fast trials) then
  let the lag grow instead of stalling Tune, and the worker says so once. If more than
  ``_MAX_BACKLOG`` counts wait, it jumps ahead to the newest ones; when the experiment is over
  (:meth:`DecisionWorker.settle`), it decides the last ``_FINAL_IN_ORDER`` counts in order and
  a longer backlog at once.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger("ray_autoterm")

_HOLD_TIMEOUT_S = 120.0  # never hold Tune longer than this at once, whatever a decision costs
_MAX_BACKLOG = 64  # counts waiting beyond this are skipped (only the newest are evaluated)
_FINAL_IN_ORDER = 16  # at the end, a backlog up to this is still decided count by count
_IDLE_POLL_S = 0.25  # an idle worker brings in queued results at least this often


class DecisionWorker:
    """Runs ``decide(count)`` in a daemon thread for every new completed-trial count, in order.

    Args:
        decide: Evaluates the criterion on the first ``count`` trials to complete.
        duty_cycle: The largest share of wall time spent deciding, in (0, 1].
        max_lag: Completed trials that may wait for a decision before the caller is held.
        finished: Returns ``True`` once no more decisions are wanted (the experiment stopped).
        start: Completed trials already decided on (a restored stopper).
        skip_below: Counts below this are only decided at the latest of them.
        max_hold_share: The largest share of wall time the caller may be held, in (0, 1].
        sync: Called by the worker thread before it picks a count: brings in what the caller
            queued instead of recording it (the stopper's batched results) and returns the
            completed-trial count then known. ``None``: the caller records everything itself.
        queued: Completed trials the caller has queued but ``sync`` has not brought in yet
            (they count towards ``max_lag``).
        has_queue: Whether anything at all waits for ``sync`` (an idle worker then looks
            again every ``_IDLE_POLL_S``; otherwise it sleeps until a request).

    Example:
        >>> counts = []
        >>> worker = DecisionWorker(counts.append, duty_cycle=1.0, max_lag=1,
        ...                         finished=lambda: False, max_hold_share=1.0)
        >>> worker.request(1)  # max_lag=1: returns once the decision on trial 1 is made
        >>> counts
        [1]
    """

    def __init__(
        self, decide: Callable[[int], object], duty_cycle: float, max_lag: int,
        finished: Callable[[], bool], start: int = 0, skip_below: int = 0,
        max_hold_share: float = 0.01, sync: Callable[[], int] | None = None,
        queued: Callable[[], int] = lambda: 0, has_queue: Callable[[], bool] = lambda: False,
    ) -> None:
        self._has_queue = has_queue
        self._decide = decide
        self._sync = sync
        self._queued = queued
        self._rest_factor = 1.0 / duty_cycle - 1.0
        self.max_lag = max_lag
        self._finished = finished
        self._skip_below = skip_below
        self.max_hold_share = max_hold_share
        self._cond = threading.Condition()
        self._requested = start  # completed trials recorded (as counted by the caller)
        self._covered = start  # of those, how many the last finished decision saw
        self._busy = False
        self._hurry = False
        self._durations: deque[float] = deque(maxlen=5)
        self._thread: threading.Thread | None = None
        self._t0: float | None = None
        self._warned_behind = False
        self._final = False
        self._idle = False  # the worker waits for a request (not deciding, not resting)
        self.holds = 0  # how often the caller was held (for benchmarks)
        self.held_s = 0.0  # for how long, in all
        self.skipped = 0  # counts skipped for a backlog over _MAX_BACKLOG

    @property
    def pending(self) -> int:
        """Completed trials recorded but not yet covered by a finished decision."""
        return self._requested - self._covered

    def request(self, count: int) -> None:
        """``count`` completed trials are now recorded: decide soon; hold the caller while
        ``max_lag`` or more of them wait for a decision (within the hold budget)."""
        with self._cond:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            self._requested = max(self._requested, count)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ray-autoterm-criterion", daemon=True
                )
                self._thread.start()
            if self._idle:  # only an idle worker needs waking: a busy or resting one
                self._cond.notify_all()  # looks at ``pending`` when it is done
            if self.pending + self._queued() < self.max_lag:
                return
            budget = (_HOLD_TIMEOUT_S if self.max_hold_share >= 1.0
                      else self.max_hold_share * (now - self._t0) - self.held_s)
            if budget <= 0:
                self._say_behind()
                return
            self.holds += 1
            self._hurry = True
            self._cond.notify_all()
            deadline = now + min(budget, _HOLD_TIMEOUT_S)
            try:
                while self.pending + self._queued() >= self.max_lag and not self._finished():
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        self._say_behind()
                        break
                    self._cond.wait(left)
            finally:
                self.held_s += time.monotonic() - now

    def settle(self, timeout: float) -> bool:
        """Wait until every request is covered by a finished decision (or the experiment has
        stopped); returns whether that happened within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._hurry = True
            self._final = True  # the experiment is over: catch up (all at once if far behind)
            self._cond.notify_all()
            while (self.pending > 0 or self._busy) and not (self._finished() and not self._busy):
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def _say_behind(self) -> None:
        if not self._warned_behind:
            self._warned_behind = True
            logger.info(
                "ray-autoterm's decisions are slower than trials complete (%d trials wait); "
                "Tune is not held for more than %.0f%% of the time, so the stop may come more "
                "than max_lag=%d trials late (every count is still evaluated in order).",
                self.pending, 100 * self.max_hold_share, self.max_lag,
            )

    def _next_count(self) -> int:
        """The next count to decide on (called with the condition held, ``pending > 0``)."""
        target = self._covered + 1
        if self._requested < self._skip_below:
            return self._requested  # the rule cannot stop yet: only the latest count matters
        if self._final and self._requested - target >= _FINAL_IN_ORDER:
            return self._requested  # the experiment is over and far behind: all at once
        target = max(target, self._skip_below)
        if self._requested - target >= _MAX_BACKLOG:
            skipped = self._requested - _MAX_BACKLOG + 1 - target
            self.skipped += skipped
            target += skipped
        return target

    def on_worker_thread(self) -> bool:
        """Whether the caller is this worker's thread (which must never wait for itself)."""
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        while True:
            if self._sync is not None:
                try:
                    known = self._sync()
                except Exception:  # never let the worker die silently; keep the run going
                    logger.exception("ray-autoterm failed to record results; not stopping.")
                    known = 0
                with self._cond:
                    self._requested = max(self._requested, known)
                    self._cond.notify_all()  # a held caller looks at pending + queued again
            with self._cond:
                if self._finished():
                    self._covered = self._requested
                    self._cond.notify_all()
                    return
                if self.pending <= 0:
                    self._idle = True  # woken by a request (or, with a queue, looks again soon)
                    self._cond.wait(_IDLE_POLL_S if self._has_queue() else None)
                    self._idle = False
                    continue
                target, self._busy = self._next_count(), True
            start = time.perf_counter()
            try:
                self._decide(target)
            except Exception:  # never let the worker die silently; keep the run going
                logger.exception("ray-autoterm failed to evaluate the criterion; not stopping.")
            duration = time.perf_counter() - start
            with self._cond:
                self._covered = max(self._covered, target)
                self._busy = False
                self._durations.append(duration)
                self._cond.notify_all()
                end = time.monotonic() + statistics.median(self._durations) * self._rest_factor
                while not self._hurry and not self._finished():
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self.pending <= 0:
                    self._hurry = False
