# Helpers for unit tests that run on both lanes: CPython (pytest) and
# MicroPython (host_tests/mpy/runner.py). No pytest imports at module level.
import sys

MICROPYTHON = sys.implementation.name == "micropython"


def _dirname(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else ("/" if i == 0 else ".")


# host_tests/unit/support.py -> repo root
REPO_ROOT = _dirname(_dirname(_dirname(__file__)))


class SkipTest(Exception):
    """Raised by skip() on MicroPython; the runner reports it as skipped."""


def skip(reason):
    """Skip the running test on either lane."""
    if not MICROPYTHON:
        import pytest
        pytest.skip(reason)
    raise SkipTest(reason)


def raises(exc_type, fn, *args, **kw):
    """Call fn(*args, **kw); it must raise exc_type. Returns the exception."""
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (
        getattr(fn, "__name__", repr(fn)), getattr(exc_type, "__name__", repr(exc_type))))


def read_text(relpath):
    """A file of the repository as str (relpath from the repo root)."""
    with open(REPO_ROOT + "/" + relpath) as f:
        return f.read()


def is_lower_identifier(name):
    """[a-z_][a-z0-9_]*: MicroPython's str has no isidentifier()."""
    if not name:
        return False
    for i, c in enumerate(name):
        if c == "_" or ("a" <= c <= "z"):
            continue
        if i > 0 and "0" <= c <= "9":
            continue
        return False
    return True


# ---- a whole Stack on a memif with a clock the test drives --------------------
# Protocol tests (test_arp, test_ipv4, test_reasm, test_icmp_udp) build one
# per test:
#
#     with Rig(ARP_MAX_REQUESTS=2) as r:   # config overrides, restored on exit
#         r.learn()                        # peer's MAC in the ARP cache
#         r.inject(frame); r.poll(t)       # the clock only moves through poll
#         frames = r.sent()                # what the stack transmitted
#         d = r.delta()                    # counters that moved since r.mark()
#         r.finish()                       # shutdown + pool at NBLOCKS free
#
# Leaving the block without finish() (an assertion failed) still shuts the
# stack down and restores the config, without hiding the failure.

US_MAC = b"\x02\x00\x00\x00\x00\x02"
PEER_MAC = b"\x02\x00\x00\x00\x00\x01"
OTHER_MAC = b"\x02\x00\x00\x00\x00\x09"
US_IP = "198.51.100.2"
PEER_IP = "198.51.100.1"
OTHER_IP = "198.51.100.9"     # on-link, not us
SUBNET_BCAST = "198.51.100.255"


class Rig:
    def __init__(self, ip=US_IP, prefix=24, gw=None, now=0, mac=US_MAC, impair=None, tx_ring=32,
                 **settings):
        """now: the ticks value the stack's clock starts at (e.g. NEAR_WRAP, so
        the test's timers run across the 2^30 wrap). The test's own time
        (self.t, poll(t), run_until(t)) always starts at 0. impair: a dict of
        stack.impair.Impair keywords (seed=, rx_loss=, ...): the layer sits
        between the memif (self.drv) and the stack (self.imp)."""
        from stack import config
        from stack.core import Stack
        from stack.memif import Memif
        from stack.pool import pool
        self.config = config
        self.pool = pool
        self.saved = {}
        for k in settings:
            self.saved[k] = getattr(config, k)
            setattr(config, k, settings[k])
        self.free_at_start = pool.nfree()
        ps = pool.stats()       # Stack() sets quotas and the RX reserve: put them back after
        self.pool_limits = (list(ps["quota"]), ps["reserve"], list(ps["hdr_quota"]))
        self.drv = Memif(wire_queue=256, tx_ring=tx_ring)
        self.imp = None
        sdrv = self.drv
        if impair is not None:
            from stack.impair import Impair
            self.imp = sdrv = Impair(self.drv, now_ms=now, **impair)
        self.st = Stack(sdrv, mac, ip, prefix, gw, now_ms=now)
        self.ctr = self.st.ctr
        self.t0 = now
        self.t = 0
        self.done = False
        self.mark()

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if not self.done:
            if et is None:
                self.finish()
            else:
                try:
                    self.st.shutdown()
                except Exception:   # the first failure is the one to report
                    pass
                self._restore()
                self.done = True
        return False

    def _restore(self):
        for k in self.saved:
            setattr(self.config, k, self.saved[k])
        self.saved = {}
        quota, reserve, hquota = self.pool_limits
        for h in range(len(hquota)):
            self.pool.set_hquota(h, hquota[h])
        for h in range(len(quota)):
            self.pool.set_quota(h, quota[h])
        self.pool.set_reserve(reserve)

    # -- wire and clock --
    def inject(self, frame, flags=0):
        assert self.drv.inject(frame, flags), "memif wire queue full"

    def poll(self, t=None):
        """Advance the clock to t (ms; default: stay) and poll until the wire
        queue is empty. Returns what poll() returned last."""
        if t is not None:
            assert t >= self.t, "the clock never goes back"
            self.t = t
        r = self.st.poll(self.now())
        for _ in range(64):
            if not self.drv.pending_rx():
                break
            r = self.st.poll(self.now())
        assert not self.drv.pending_rx(), "frames left on the wire after 64 polls"
        return r

    def now(self):
        """The stack's ticks value at the test's time self.t: start + t,
        wrapping at 2^30 as a 32-bit port's ticks_ms() does."""
        return (self.t0 + self.t) & TICKS_MAX

    def run_until(self, t, step=None):
        """Poll every `step` ms (default: the timer tick) up to and at t."""
        if step is None:
            step = self.config.TIMER_TICK_MS
        while self.t + step < t:
            self.poll(self.t + step)
        self.poll(t)

    def sent(self):
        """Frames transmitted since the last call (bytes, oldest first)."""
        return self.drv.take_sent()

    def sent_parsed(self):
        import frames
        return [frames.parse_frame(f) for f in self.drv.take_sent()]

    # -- counters --
    def mark(self):
        self.base = dict(self.ctr)

    def delta(self, since=None):
        """{name: change} of the counters that moved since mark()."""
        base = self.base if since is None else since
        d = {}
        for k in self.ctr:
            v = self.ctr[k] - base.get(k, 0)
            if v:
                d[k] = v
        return d

    # -- frames from the peer --
    def ip_in(self, payload, proto, src=PEER_IP, dst=US_IP, dst_mac=US_MAC, src_mac=PEER_MAC,
              pad_to=0, flags=0, **ipkw):
        import frames
        self.inject(frames.eth(dst_mac, src_mac, frames.ETH_IP,
                               frames.ipv4(src, dst, proto, payload, **ipkw), pad_to), flags)

    def ping_in(self, ident=1, seq=1, data=b"ping", src=PEER_IP, dst=US_IP, **kw):
        import frames
        self.ip_in(frames.icmp_echo(ident, seq, data), frames.PROTO_ICMP, src=src, dst=dst, **kw)

    def udp_in(self, sport, dport, data, src=PEER_IP, dst=US_IP, checksum=True, length=None, **kw):
        import frames
        self.ip_in(frames.udp(sport, dport, data, src, dst, checksum, length), frames.PROTO_UDP,
                   src=src, dst=dst, **kw)

    def learn(self, ip=PEER_IP, mac=PEER_MAC):
        """Put ip -> mac in the stack's ARP cache the way a host does (it asks
        us), swallow the reply and re-mark the counters."""
        import frames
        if self.imp is not None:
            self.imp.bypass = True      # set-up traffic is not impaired
        self.inject(frames.eth(BCAST, mac, frames.ETH_ARP,
                               frames.arp(1, mac, ip, frames.ZERO_MAC, US_IP)))
        self.poll()
        if self.imp is not None:
            self.imp.bypass = False
        self.sent()
        assert self.st.arp.lookup(ip) == mac
        self.mark()

    # -- the end --
    def quiesced(self):
        from stack.pool import at_baseline
        return at_baseline()

    def finish(self):
        """Shut the stack down; every block must be back in the pool."""
        if self.done:
            return
        self.done = True
        try:
            self.st.shutdown()
            pool = self.pool
            assert pool.nfree() == pool.NBLOCKS, "pool not at baseline after shutdown: %d of %d free (%d at start); held %r" % (
                pool.nfree(), pool.NBLOCKS, self.free_at_start, pool.stats()["held"])
            assert pool.hnfree() == pool.HNBLOCKS, "header blocks held after shutdown: %r" % (
                pool.stats()["hdr_held"],)
            from stack import pbuf
            assert pbuf.in_use() == 0, "pbuf objects still in use after shutdown: %d" % pbuf.in_use()
        finally:
            self._restore()


BCAST = b"\xff\xff\xff\xff\xff\xff"

TICKS_MAX = 0x3FFFFFFF          # the stack's clock wraps at 2^30 (stack/wire.py)
NEAR_WRAP = 0x40000000 - 1000   # a start time 1 s before the wrap


def ip_int(a):
    """"a.b.c.d" -> int, for a test's own reasoning about addresses (the
    stack never takes one)."""
    p = a.split(".")
    return (int(p[0]) << 24) | (int(p[1]) << 16) | (int(p[2]) << 8) | int(p[3])


def ip_b(a):
    """"a.b.c.d" -> bytes(4) (the form stack functions take)."""
    p = a.split(".")
    return bytes([int(x) for x in p])
