# Where the stack's time goes, per function: tools/run.py run BY MicroPython
# (either width) with every function and method of the stack's modules
# wrapped in a ticks_us timer. tools/bench/tcp_bench.py --profile starts it in
# place of run.py (same arguments, same protocol) and drives the bulk cases.
#
#   micropython tools/bench/tcpprof.py --netif tap [run.py's options]
#
# Each wrapper (not on the leaves: see LEAVES) keeps, per function, calls,
# inclusive time and exclusive time (less the wrapped callees). The wrapper's
# cost inside a callee's span is calibrated and taken out of its exclusive
# time; the part outside (about 1 µs a call, calibrated and reported, but
# subtracting it undershoots in the real run) stays in the caller's exclusive
# time: compare the total with the unprofiled CPU time per segment. What C code costs (the pool, the TAP
# driver's syscalls, the VM's built-ins) is in the exclusive time of the
# Python function that called it. Every SIGUSR1 snapshot first prints
# `PROFILE {json}` (what was measured since the previous one) and starts
# afresh, so a snapshot before and after a case brackets it. The wrappers
# slow the stack down: the MB/s of a profiled run is not the stack's.
import sys
from time import ticks_diff, ticks_us

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
RUN_PY = _here + "/../run.py"

import stack  # noqa: E402,F401  (the frozen package, as run.py gets it)
from stack import arp, checksum, core, icmp, ipv4, netif, pbuf, reasm, seq, services, tcp, udp, wire  # noqa: E402,F401

DEPTH = [0]
CHILD_US = [0] * 128
RECS = {}


def mkwrap(key, f):
    rec = [0, 0, 0]     # exclusive µs, calls, inclusive µs

    def w(*a, **k):
        d = DEPTH[0] + 1
        DEPTH[0] = d
        CHILD_US[d] = 0
        t0 = ticks_us()
        try:
            return f(*a, **k)
        finally:
            incl = ticks_diff(ticks_us(), t0)
            DEPTH[0] = d - 1
            rec[0] += incl - CHILD_US[d]
            rec[1] += 1
            rec[2] += incl
            CHILD_US[d - 1] += incl
    RECS[key] = rec
    return w


def _calibrate():
    """(inner, outer): µs a wrapper adds per call inside the callee's span
    (beyond what a plain call costs) and outside it (charged to the caller),
    measured as the profile sees them: a wrapped loop calling a wrapped
    function, against the same loops unwrapped. The smallest of 7 rounds."""
    def nop(a):
        return a
    wn = mkwrap("_cal", nop)

    def empty(n):
        for i in range(n):
            pass

    def plain(n):
        f = nop
        for i in range(n):
            f(i)

    def wrapped(n):
        f = wn
        for i in range(n):
            f(i)
    wl = mkwrap("_calo", wrapped)
    n = 4000
    inner = outer = None
    for _ in range(7):
        for r in RECS.values():
            r[0] = r[1] = r[2] = 0
        t0 = ticks_us()
        empty(n)
        t1 = ticks_us()
        plain(n)
        t2 = ticks_us()
        wl(n)
        te, tp = ticks_diff(t1, t0), ticks_diff(t2, t1)
        call = (tp - te) / n                        # a plain call of nop
        i = RECS["_cal"][0] / n - call
        o = (RECS["_calo"][0] - te) / n
        inner = i if inner is None or i < inner else inner
        outer = o if outer is None or o < outer else outer
    del RECS["_cal"], RECS["_calo"]
    return max(0.0, inner), max(0.0, outer)


INNER_OV, OUTER_OV = _calibrate()

MODS = [m for n, m in sys.modules.items() if n.startswith("stack.")]
orig2w = {}


def _is_fn(v):
    return type(v).__name__ in ("function", "closure")


for m in MODS:
    mn = m.__name__.split(".")[-1]
    for name in dir(m):
        v = getattr(m, name)
        if type(v) is type and getattr(v, "__module__", m.__name__) == m.__name__:
            for an in list(v.__dict__):
                if an.startswith("__") or an == "snapshot":
                    continue
                fv = v.__dict__[an]
                if _is_fn(fv) and id(fv) not in orig2w:
                    key = "%s.%s.%s" % (mn, v.__name__, an)
                    wv = mkwrap(key, fv)
                    try:
                        setattr(v, an, wv)
                    except (AttributeError, TypeError):
                        del RECS[key]
                        continue
                    orig2w[id(fv)] = wv
# Leaves stay unwrapped: the Viper kernels and small helpers of wire, seq and
# checksum and pbuf's private ones are called tens of times per segment, and
# a wrapper costs about as much as they do; their time is their caller's.
LEAVES = set()
for m in MODS:
    mn = m.__name__.split(".")[-1]
    for name in dir(m):
        v = getattr(m, name)
        if _is_fn(v) and (mn in ("wire", "seq", "checksum") or (mn == "pbuf" and name.startswith("_"))):
            LEAVES.add(id(v))
for m in MODS:
    mn = m.__name__.split(".")[-1]
    for name in dir(m):
        v = getattr(m, name)
        if _is_fn(v) and not name.startswith("__") and id(v) not in orig2w and id(v) not in LEAVES:
            orig2w[id(v)] = mkwrap("%s.%s" % (mn, name), v)
for m in MODS:      # every module-global reference to a wrapped function
    for name in dir(m):
        w = orig2w.get(id(getattr(m, name)))
        if w is not None:
            try:
                setattr(m, name, w)
            except (AttributeError, TypeError):
                pass

_snapshot = core.Stack.snapshot


def _dump():
    out = {}
    for k, r in RECS.items():
        if r[1]:
            out[k] = [round(r[0] - r[1] * INNER_OV), r[1], r[2]]
            r[0] = r[1] = r[2] = 0
    return out


def snapshot(self):
    import json
    print("PROFILE " + json.dumps({"wrapped": len(orig2w), "inner_ov_us": INNER_OV,
                                   "outer_ov_us": OUTER_OV, "funcs": _dump()}))
    return _snapshot(self)


core.Stack.snapshot = snapshot

sys.argv[0] = RUN_PY
with open(RUN_PY) as f:
    src = f.read()
exec(src, {"__name__": "__main__", "__file__": RUN_PY})
