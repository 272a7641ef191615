"""Sign-in throttling: slow down whoever keeps trying wrong tokens, never the right one.

Every answer to a wrong token stays what it was (401); what changes is when it comes. One
client address may fail :attr:`SignInThrottle.free_failures` times (20) within a minute at
full speed; each further failure within that minute is answered later, by
:attr:`~SignInThrottle.step` seconds more each time (50 ms, 100 ms, ...), at most
:attr:`~SignInThrottle.max_delay` (1 s). A valid token is never delayed nor locked out: only
failures are counted, and nothing ever refuses a right token.

The wait is ``await``-ed (``asyncio.sleep``), in the event loop, never ``time.sleep``: a
sleeping thread of the pool would be one less for every other request. One throttle is made
per app (:func:`api.app.create_app`) and shared by the API's bearer check
(:func:`api.deps.current_principal`) and the console's sign-in (:mod:`api.console.auth`).
The clock and the sleep are parameters, so tests need neither patching nor real waiting.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable


class SignInThrottle:
    """Counts failed sign-ins per client address over a sliding window; says how long the
    answer to each failure waits (:meth:`failed`) and waits it (:meth:`pause`)."""

    def __init__(
        self,
        *,
        free_failures: int = 20,
        window: float = 60.0,
        step: float = 0.05,
        max_delay: float = 1.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.free_failures = free_failures
        self.window = window
        self.step = step
        self.max_delay = max_delay
        self.max_clients = max_clients
        self._clock = clock
        self._sleep = sleep
        # Enough failures per client to reach the longest delay; older ones do not matter.
        self._keep = free_failures + (math.ceil(max_delay / step) if step > 0 else 0) + 1
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def failed(self, client: str) -> float:
        """Record a failed sign-in from ``client``; the seconds its answer waits (0 for the
        first :attr:`free_failures` within the window)."""
        now = self._clock()
        with self._lock:
            times = self._failures.pop(client, None) or deque(maxlen=self._keep)
            while times and times[0] <= now - self.window:
                times.popleft()
            times.append(now)
            self._failures[client] = times  # most recent last
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            over = len(times) - self.free_failures
        return 0.0 if over <= 0 else min(self.max_delay, self.step * over)

    async def pause(self, delay: float) -> None:
        """Wait ``delay`` seconds without holding a thread (no-op for 0)."""
        if delay > 0:
            await self._sleep(delay)
