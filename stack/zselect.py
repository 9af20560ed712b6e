# `select` for programs on the stack (docs/socket.md, "select.poll and asyncio").
#
# run.py --app puts this module in sys.modules as `select` (and `uselect`),
# so a program's own select.poll -- and asyncio, whose core makes its poller
# with select.poll() -- drives the stack while it waits. A poll() here is the
# system's select.poll with the stack's own fds added (the driver, and the
# runner's add_fd() fds such as run.py's signalfd); each poll/ipoll round is:
# Stack.poll(now) (runner.pump), then one sleep in the kernel until a frame,
# a socket's eventfd, the stack's next deadline or the caller's timeout,
# whichever is first. A frame wakes it to poll the stack again; the stack's
# fds are never returned to the caller (a signalfd's handler runs).
#
# POLLOUT on our sockets comes from the stack, not the kernel: an eventfd is
# always writable, so a writer (asyncio's drain, open_connection's wait for
# the connection) would spin. Our sockets are registered with the kernel
# without POLLOUT; each round asks their ioctl(MP_STREAM_POLL) instead
# (send-queue room once connected; HUP/ERR on a reset; NVAL once closed).
import select as _select

from . import config
from . import socket as _zsock
from .runner import pump_wait
from .wire import ticks_add, ticks_diff

POLLIN = _select.POLLIN
POLLOUT = _select.POLLOUT
POLLERR = _select.POLLERR
POLLHUP = _select.POLLHUP

_MP_STREAM_POLL = 3
_POLL_NVAL = 0x20
_OUTISH = POLLOUT | POLLERR | POLLHUP | _POLL_NVAL


class poll:
    """select.poll with the stack driven while it waits (module comment)."""

    def __init__(self):
        rt = _zsock.runner()
        if rt is None:
            raise OSError(101)      # ENETUNREACH: no stack attached (socket.attach)
        self._rt = rt
        self._p = _select.poll()
        self._own = {}          # the stack's fds -> handler (None: the driver)
        self._out = {}          # our sockets the caller wants POLLOUT for -> mask
        self._byfd = {}         # fd -> our socket (results are objects, as MicroPython's)
        self._sleeps = hasattr(rt, "poller")    # ManualRunner: a clock, no sleeping
        d = getattr(rt, "drv_obj", None)
        if d is not None:
            self._p.register(d, POLLIN)
            self._own[d] = None
        for obj in getattr(rt, "handlers", {}):
            self._p.register(obj, POLLIN)
            self._own[obj] = rt.handlers[obj]

    def _kmask(self, obj, mask):
        """The mask for the kernel; POLLOUT of our sockets is kept here."""
        if isinstance(obj, _zsock.socket):
            self._byfd[obj.fileno()] = obj      # CPython's poll answers fds
            if mask & POLLOUT:
                self._out[obj] = mask
            elif obj in self._out:
                del self._out[obj]
            return mask & ~POLLOUT
        return mask

    def register(self, obj, mask=POLLIN | POLLOUT):
        self._p.register(obj, self._kmask(obj, mask))

    def modify(self, obj, mask):
        self._p.modify(obj, self._kmask(obj, mask))

    def unregister(self, obj):
        if obj in self._out:
            del self._out[obj]
        if isinstance(obj, _zsock.socket) and obj.fileno() in self._byfd:
            del self._byfd[obj.fileno()]
        self._p.unregister(obj)

    def poll(self, timeout=-1):
        return self._wait(timeout, 0)

    def ipoll(self, timeout=-1, flags=0):
        return self._wait(timeout, flags)

    def _wait(self, timeout, flags):
        rt = self._rt
        until = None if timeout is None or timeout < 0 else ticks_add(rt.now(), timeout)
        while True:
            wait = pump_wait(rt, until)
            ready = {}
            for obj in self._out:
                r = obj.ioctl(_MP_STREAM_POLL, POLLOUT) & _OUTISH
                if r:
                    ready[obj] = r
            if ready or wait < 0 or not self._sleeps:
                wait = 0
            elif wait > config.POLL_IDLE_MAX_MS:
                wait = config.POLL_IDLE_MAX_MS
            own = self._own
            for ent in self._p.poll(wait):
                obj = ent[0]
                if obj in own:
                    fn = own[obj]
                    if fn is not None:
                        fn(obj)
                    continue
                if type(obj) is int:
                    obj = self._byfd.get(obj, obj)
                ready[obj] = ready.get(obj, 0) | ent[1]
            if ready:
                res = list(ready.items())
                if flags & 1:           # one-shot: no more events until modify()
                    for ent in res:
                        self.modify(ent[0], 0)
                return res
            if until is not None and ticks_diff(until, rt.now()) <= 0:
                return []
            if not self._sleeps:
                rt.step()


def select(rlist, wlist, xlist, timeout=None):
    """select.select on the same loop: (readable, writable, [])."""
    p = poll()
    masks = {}
    for o in rlist:
        masks[o] = masks.get(o, 0) | POLLIN
    for o in wlist:
        masks[o] = masks.get(o, 0) | POLLOUT
    for o in masks:
        p.register(o, masks[o])
    res = p.poll(-1 if timeout is None else int(timeout * 1000))
    r = []
    w = []
    for o, ev in res:
        if ev & ~POLLOUT and o in rlist:
            r.append(o)
        if ev & ~POLLIN and o in wlist:
            w.append(o)
    return r, w, []
