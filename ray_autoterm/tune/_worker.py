"""The stopper's background decisions: one worker thread, rationed, with bounded lag.

Tune processes results in one driver thread; the GP work of a decision (tens of milliseconds
warm, about a second cold) should not sit on that path. :class:`DecisionWorker` runs the
decisions in one worker thread instead, under two rules:

* **Rationing.** After a decision it rests ``(1 / duty_cycle - 1)`` times the median duration of
  its last five decisions, so the GP work takes at most about ``duty_cycle`` of the driver's time
  however fast trials complete. The median keeps one cold decision (imports, the first fit) from
  becoming a long rest.
* **Bounded lag.** The rest never starves decisions: once ``max_lag`` completed trials wait for a
  decision, :meth:`request` cuts the rest short and holds the caller (Tune's result processing)
  until the worker has decided on them. So when Tune hands over the result that completes trial
  ``n``, the decisions have already covered at least ``n - max_lag + 1`` trials.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger("ray_autoterm")

_HOLD_TIMEOUT_S = 120.0  # never hold Tune longer than this, whatever a decision costs


class DecisionWorker:
    """Runs ``decide()`` in a daemon thread whenever more completed trials are recorded.

    Args:
        decide: Evaluates the criterion on everything recorded at that moment.
        duty_cycle: The largest share of wall time spent deciding, in (0, 1].
        max_lag: Completed trials that may wait for a decision before Tune is held.
        finished: Returns ``True`` once no more decisions are wanted (the experiment stopped).
        start: Completed trials already decided on (a restored stopper).

    Example:
        >>> calls = []
        >>> worker = DecisionWorker(lambda: calls.append(1), duty_cycle=1.0, max_lag=1,
        ...                         finished=lambda: False)
        >>> worker.request(1)  # max_lag=1: returns once the decision on trial 1 is made
        >>> len(calls)
        1
    """

    def __init__(
        self, decide: Callable[[], object], duty_cycle: float, max_lag: int,
        finished: Callable[[], bool], start: int = 0,
    ) -> None:
        self._decide = decide
        self._rest_factor = 1.0 / duty_cycle - 1.0
        self.max_lag = max_lag
        self._finished = finished
        self._cond = threading.Condition()
        self._requested = start  # completed trials recorded (as counted by the caller)
        self._covered = start  # of those, how many the last finished decision saw
        self._busy = False
        self._hurry = False
        self._durations: deque[float] = deque(maxlen=5)
        self._thread: threading.Thread | None = None
        self.holds = 0  # how often Tune was held (for benchmarks)

    @property
    def pending(self) -> int:
        """Completed trials recorded but not yet covered by a finished decision."""
        return self._requested - self._covered

    def request(self, count: int) -> None:
        """``count`` completed trials are now recorded: decide soon; hold the caller while
        ``max_lag`` or more of them wait for a decision."""
        with self._cond:
            self._requested = max(self._requested, count)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="ray-autoterm-criterion", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
            if self.pending < self.max_lag:
                return
            self.holds += 1
            self._hurry = True
            self._cond.notify_all()
            deadline = time.monotonic() + _HOLD_TIMEOUT_S
            while self.pending >= self.max_lag and not self._finished():
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    break
                self._cond.wait(left)

    def settle(self, timeout: float) -> bool:
        """Wait until every request is covered by a finished decision (or the experiment has
        stopped); returns whether that happened within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            while (self.pending > 0 or self._busy) and not (self._finished() and not self._busy):
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self.pending <= 0 and not self._finished():
                    self._cond.wait()
                if self._finished():
                    self._covered = self._requested
                    self._cond.notify_all()
                    return
                target, self._busy = self._requested, True
            start = time.perf_counter()
            try:
                self._decide()
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
                self._hurry = False
