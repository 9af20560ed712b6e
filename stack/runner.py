# The poll loop that drives a Stack, as one object (docs/socket.md).
#
# tools/run.py's main loop and every blocking socket call run the same
# step(): Stack.poll(now), the hooks (run.py's client), then a sleep in
# select.poll on the driver's fd (and any fd added with add_fd, e.g. run.py's
# signalfd) until a frame comes, the stack's next deadline, or the caller's
# own deadline, whichever is first. Time is the stack's ticks clock.
import select
import time

from . import config
from .wire import TICKS_MAX, ticks_diff


if hasattr(time, "ticks_ms"):
    def ticks_now():
        """The stack's clock: ticks_ms kept to 30 bits on every port."""
        return time.ticks_ms() & TICKS_MAX
else:
    def ticks_now():
        return int(time.monotonic() * 1000) & TICKS_MAX


class Runner:
    """Drives `st` (a Stack). `drv_obj`: what to register for the driver's
    readiness (the driver itself for a C driver, its fd otherwise; None: the
    driver's fileno())."""

    def __init__(self, st, drv_obj=None):
        self.st = st
        self.poller = select.poll()
        self.handlers = {}
        self.hooks = []         # f() after each poll; True: poll again at once
        self.steps = 0
        self.polled_at = 0      # the ticks time of the last Stack.poll
        if drv_obj is None:
            drv_obj = st.netif.drv.fileno()
        if isinstance(drv_obj, int) and drv_obj < 0:
            drv_obj = None
        else:
            self.poller.register(drv_obj, select.POLLIN)
        self.drv_obj = drv_obj  # what stack/zselect.py's polls wake for too
        # MicroPython's ipoll reuses its result tuple; CPython has only poll
        self._wait = self.poller.ipoll if hasattr(self.poller, "ipoll") else self.poller.poll

    def now(self):
        return ticks_now()

    def add_fd(self, obj, fn):
        """Wake for obj (an fd or a stream object) and call fn(obj) when it is readable."""
        self.poller.register(obj, select.POLLIN)
        self.handlers[obj] = fn

    def pump(self):
        """One Stack.poll now, no waiting (hands queued frames to the wire).
        Returns the stack's next deadline; the time it polled at is
        `self.polled_at` (no tuple per round: the run loop allocates nothing)."""
        now = self.now()
        self.polled_at = now
        return self.st.poll(now)

    def step(self, until=None):
        """One round: poll the stack, then sleep until a frame, a deadline of
        the stack's, or `until` (ticks; None: no limit of the caller's)."""
        self.steps += 1
        wait = pump_wait(self, until)
        if wait < 0:
            wait = 0
        elif wait > config.POLL_IDLE_MAX_MS:
            wait = config.POLL_IDLE_MAX_MS
        handlers = self.handlers
        for ent in self._wait(wait):
            if handlers:
                fn = handlers.get(ent[0])
                if fn is not None:
                    fn(ent[0])


def pump_wait(rt, until):
    """Poll rt's stack once; then how long (ms) the caller may sleep: until the
    stack's next deadline, at once if a hook wants another round, or until
    `until` (ticks; None: no limit), whichever comes first (< 0: overdue)."""
    nxt = rt.pump()
    now = rt.polled_at
    wait = ticks_diff(nxt, now)
    for h in rt.hooks:
        if h():
            wait = 0
    if until is not None:
        d = ticks_diff(until, now)
        if d < wait:
            wait = d
    return wait


class ManualRunner:
    """A runner for tests: polls several stacks (joined by memifs) on a
    clock that only moves through step() (1 ms a step), never sleeping.
    `st` is the stack its sockets live on; for_stack() gives a runner for
    another of the stacks on the same clock."""

    def __init__(self, stacks, now=0, st=None, clock=None):
        self.stacks = stacks
        self.st = st if st is not None else stacks[0]
        self.clock = clock if clock is not None else [now & TICKS_MAX, 0]
        self.hooks = clock[2] if clock is not None else []
        if clock is None:
            self.clock.append(self.hooks)

    def for_stack(self, st):
        return ManualRunner(self.stacks, st=st, clock=self.clock)

    def now(self):
        return self.clock[0]

    @property
    def steps(self):
        return self.clock[1]

    def pump(self):
        t = self.clock[0]
        self.polled_at = t
        nxt = t
        for _ in range(2):
            for st in self.stacks:
                n = st.poll(t)
                if st is self.st:
                    nxt = n
        return nxt

    def step(self, until=None):
        c = self.clock
        c[1] += 1
        if c[1] > 1000000:
            raise RuntimeError("ManualRunner: too many steps")
        self.pump()
        for h in self.hooks:
            h()
        c[0] = (c[0] + 1) & TICKS_MAX
