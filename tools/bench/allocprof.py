# Where the echo path allocates: heap bytes per echoed datagram, per function,
# of the stack AS FROZEN into the binary (run BY MicroPython, either width):
#
#   build/unix32/micropython tools/bench/allocprof.py [udp64 udp1472 udp4000 icmp56 ...]
#
# Every function and method of the stack's modules (and memif, the test wire)
# is wrapped; each wrapper measures gc.mem_alloc() around its call and keeps
# the bytes not taken by wrapped callees ("exclusive"). What a wrapped call
# itself costs its caller (the *args tuple) is calibrated first and removed,
# so a figure can be off by a tuple (16/32 bytes) either way; the totals of
# host_tests/mpy/test_zero_copy.py are the exact ones. The cases and frames
# are that test's. A diagnostic, not a test.
import gc
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path[:] = [".frozen", _here + "/../../host_tests/mpy"]
import test_zero_copy as T
import stack
assert stack.__path__ == ".frozen/stack"

D = [0]
CH = [0] * 200
RECS = {}
OVER = [0] * 12
ENABLED = [False]

def mkwrap(key, f):
    rec = [0, 0]
    RECS[key] = rec
    def w(*a):
        if not ENABLED[0]:
            return f(*a)
        d = D[0]
        D[0] = d + 1
        CH[d + 1] = 0
        m0 = gc.mem_alloc()
        r = f(*a)
        incl = gc.mem_alloc() - m0
        D[0] = d
        rec[0] += incl - CH[d + 1]
        rec[1] += 1
        CH[d] += incl + OVER[len(a)]
        return r
    return w

# calibrate: the outside cost of calling a wrapped function with n args
class _C:
    def m0(self): return None
    def m1(self, a): return None
    def m2(self, a, b): return None
    def m3(self, a, b, c): return None
    def m4(self, a, b, c, d): return None
    def m5(self, a, b, c, d, e): return None
for i in range(6):
    setattr(_C, "m%d" % i, mkwrap("_cal%d" % i, getattr(_C, "m%d" % i)))
def _cal():
    c = _C()
    res = []
    for n in range(6):
        tot = 0
        for _ in range(8):
            CH[0] = 0
            m0 = gc.mem_alloc()
            if n == 0: c.m0()
            elif n == 1: c.m1(1)
            elif n == 2: c.m2(1, 2)
            elif n == 3: c.m3(1, 2, 3)
            elif n == 4: c.m4(1, 2, 3, 4)
            else: c.m5(1, 2, 3, 4, 5)
            tot += gc.mem_alloc() - m0
        res.append(tot // 8)
    return res
ENABLED[0] = True
gc.collect(); gc.disable()
r = _cal()
gc.enable()
ENABLED[0] = False
for i in range(6):
    OVER[i + 1] = r[i]
for i in range(7, 12):
    OVER[i] = OVER[6] + (i - 6) * 16
for i in range(6):
    del RECS["_cal%d" % i]
print("overhead by arity", OVER)


mods = [m for n, m in sys.modules.items() if n.startswith("stack.") and True]
orig2w = {}
def is_fn(v):
    t = type(v).__name__
    return t in ("function", "closure") or (t == "function" )
for m in mods:
    mn = m.__name__.split(".")[-1]
    for name in dir(m):
        v = getattr(m, name)
        if type(v) is type and getattr(v, "__module__", None) == m.__name__ if hasattr(v, "__module__") else type(v) is type:
            for an in dir(v):
                if an.startswith("__"):
                    continue
                try:
                    fv = v.__dict__[an] if hasattr(v, "__dict__") else getattr(v, an)
                except KeyError:
                    continue
                if type(fv).__name__ in ("function", "closure") and id(fv) not in orig2w:
                    wv = mkwrap("%s.%s.%s" % (mn, v.__name__, an), fv)
                    try:
                        setattr(v, an, wv)
                    except (AttributeError, TypeError):
                        del RECS["%s.%s.%s" % (mn, v.__name__, an)]
                        continue
                    orig2w[id(fv)] = wv
for m in mods:
    mn = m.__name__.split(".")[-1]
    for name in dir(m):
        v = getattr(m, name)
        if type(v).__name__ in ("function", "closure") and not name.startswith("__"):
            if id(v) not in orig2w:
                orig2w[id(v)] = mkwrap("%s.%s" % (mn, name), v)
# replace every module-global reference
fmap = {}
for m in mods:
    for name in dir(m):
        v = getattr(m, name)
        w = orig2w.get(id(v))
        if w is not None:
            setattr(m, name, w)
print("wrapped", len(orig2w))

cases = [("udp", T._udp, 64, 1), ("udp", T._udp, 1472, 1), ("udp", T._udp, 4000, 3),
         ("icmp", T._icmp, 56, 1), ("icmp", T._icmp, 1472, 1), ("icmp", T._icmp, 4000, 3)]
want = sys.argv[1:] 
for proto, mk, size, nf in cases:
    if want and "%s%d" % (proto, size) not in want:
        continue
    drv, st, wire = T._setup()
    for i in range(T.WARMUP):
        T._echo(drv, st, wire, mk(size, 100 + i), nf)
    reqs = [mk(size, 1000 + i) for i in range(T.ROUNDS)]
    for r in RECS.values():
        r[0] = r[1] = 0
    CH[0] = 0
    tot = 0
    gc.collect(); gc.disable()
    ENABLED[0] = True
    for fr in reqs:
        s, w, rep = T._echo(drv, st, wire, fr, nf)
        tot += s
    ENABLED[0] = False
    gc.enable()
    st.shutdown()
    print("== %s %d (%d-bit): %d B/datagram in the span, wrappers included" % (proto, size, 32 if sys.maxsize < 2**32 else 64, tot // T.ROUNDS))
    items = sorted([(r[0], k, r[1]) for k, r in RECS.items() if r[0]], reverse=True)
    for b, k, c in items:
        print("   %6d B/dgram  %-40s calls/dgram %s" % (b // T.ROUNDS, k, c / T.ROUNDS))
