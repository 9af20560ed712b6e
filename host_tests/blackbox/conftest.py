"""Black-box harness: the stack under test in a private netns, driven over TAP.

Each test gets a fresh namespace (`ip netns add zct<random>`, lo up, IPv6
off) and its own stack process:

    ip netns exec NS build/unix/micropython tools/run.py --netif tap [--set N=V ...]

tools/run.py creates TAP `zc0`, puts 198.51.100.1/24 on the host side and
answers as 198.51.100.2 (MAC 02:00:00:00:00:02). It prints `READY {json}` when
up; on SIGUSR1 one line `{"counters": {...}, "pool": {...}, "driver": {...},
"copied": N}`; on SIGTERM `STOPPED {json}` and exits 0.

The stack runs on the 64-bit binary (ZC_MICROPYTHON, build/unix/micropython);
a test parametrised with `@pytest.mark.parametrize("stack", WIDTHS,
indirect=True)` runs on both widths (ids `64`, `32`; the 32-bit binary is
ZC_MICROPYTHON32, build/unix32/micropython, and missing it fails the test).

After each test the pool must be back at baseline (free + held[H_RXPOST] ==
total), live and in the STOPPED line, and the process must exit 0: a leak or
an unclean exit fails the test. Tunables for a test:
`@pytest.mark.stack_config(REASM_TIMEOUT_MS=500)`; more run.py arguments:
`@pytest.mark.stack_args("--connect", "198.51.100.1:7007")`.
"""
import json
import os
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import netns as netns_mod  # noqa: E402  (tools/netns.py)
import zcrun  # noqa: E402  (tools/zcrun.py: the client side of run.py's protocol)
from zcrun import pool_at_baseline  # noqa: E402

TAP = "zc0"
HOST_IP = "198.51.100.1"
STACK_IP = "198.51.100.2"
SUBNET_BCAST = "198.51.100.255"
STACK_MAC = "02:00:00:00:00:02"

QUIESCE_S = 3.0

# Shortened for tests (names from stack/config.py).
DEFAULT_SETTINGS = {"REASM_TIMEOUT_MS": 1000}

# The MicroPython binaries by width (the `stack` fixture's indirect parameter).
BINARIES = {
    "64": os.environ.get("ZC_MICROPYTHON", os.path.join(ROOT, "build", "unix", "micropython")),
    "32": os.environ.get("ZC_MICROPYTHON32", os.path.join(ROOT, "build", "unix32", "micropython")),
}
WIDTHS = ("64", "32")

# The MAC paths the whole suite runs through (DESIGN.md: "One black-box suite,
# four MAC paths"): every test that uses the `stack` fixture runs once per
# NETIF (ids `[tap]`, ...). ZC_BB_NETIFS=tap,... narrows or reorders the set.
# A test that only makes sense on some: @pytest.mark.netifs("tap").
ALL_NETIFS = ("tap",)
NETIFS = tuple(n for n in os.environ.get("ZC_BB_NETIFS", ",".join(ALL_NETIFS)).split(",") if n)

_CAPABLE, _WHY_NOT = netns_mod.blackbox_capable()
SKIP_REASON = ("BLACK-BOX SUITE NOT RUN: it needs root and /dev/net/tun (%s). "
               "CI runs as root; run `sudo make test` here." % _WHY_NOT)


def pytest_configure(config):
    config.addinivalue_line("markers", "stack_config(**settings): tools/run.py --set overrides")
    config.addinivalue_line("markers", "stack_args(*argv): more tools/run.py arguments")
    config.addinivalue_line("markers", "netifs(*names): run only through these NETIFs")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    keep, drop = [], []
    for item in items:
        only = item.get_closest_marker("netifs")
        cs = getattr(item, "callspec", None)
        netif = cs.params.get("bb_netif") if cs is not None else None
        (drop if only is not None and netif is not None and netif not in only.args else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.blackbox)
            if not _CAPABLE:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def pytest_terminal_summary(terminalreporter):
    if not _CAPABLE and any(str(r.fspath).startswith("host_tests/blackbox")
                            for r in terminalreporter.stats.get("skipped", [])):
        terminalreporter.write_sep("!", SKIP_REASON, red=True, bold=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    st = getattr(item, "_zc_stack", None)
    if st is not None and rep.failed:
        rep.sections.append(("stack stderr (%s)" % rep.when, st.stderr_text() or "(empty)"))
        if st.other_stdout:
            rep.sections.append(("stack stdout (%s)" % rep.when, "".join(st.other_stdout)[-8000:]))


class StackError(AssertionError):
    pass


class Stack(zcrun.RunPy):
    """The stack under test: one tools/run.py process in one namespace."""

    what = "the stack"
    error = StackError

    def __init__(self, ns, settings, mpy=BINARIES["64"], netif="tap"):
        # The source tree wins over the frozen copy of `stack` (as in the unit lane).
        super().__init__(ns, mpy=mpy, settings=settings, micropypath=zcrun.SOURCE_FIRST, netif=netif)
        self._l2 = None
        self.host_mac = None
        self.stack_ip = STACK_IP
        self.stack_mac = STACK_MAC
        self.host_ip = HOST_IP

    # ------------------------------------------------------------ lifecycle
    def start(self):
        super().start()
        if isinstance(self.ready, dict):
            self.stack_ip = self.ready.get("ip", STACK_IP)
            self.stack_mac = self.ready.get("mac", STACK_MAC)
        # run.py configures the host side itself; wait (bounded) until it is usable.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = self.netns.run(["ip", "-o", "-4", "addr", "show", "dev", TAP])
            if HOST_IP + "/" in r.stdout:
                break
            time.sleep(0.05)
        else:
            raise StackError("after READY, %s in the namespace has no %s" % (TAP, HOST_IP))
        self.host_mac = self.netns.link_mac(TAP)
        return self

    def kill(self):
        self.close_sockets()
        super().kill()

    # ------------------------------------------------------------ counters
    def counters(self, timeout=zcrun.SNAPSHOT_TIMEOUT_S):
        """A fresh snapshot: {"counters", "pool", "driver", "copied"}."""
        return self.snapshot(timeout)

    @staticmethod
    def delta(before, after):
        """Counters that changed, plus `copied`, as after - before."""
        d = zcrun.counter_delta(before, after)
        d["copied"] = after.get("copied", 0) - before.get("copied", 0)
        return d

    def delta_since(self, before):
        return self.delta(before, self.counters())

    def wait_baseline(self, quiesce_s=QUIESCE_S):
        """Poll (bounded) until the pool is at baseline; return the last snapshot."""
        deadline = time.monotonic() + quiesce_s
        time.sleep(0.1)
        return self.snapshot_until(lambda snap: pool_at_baseline(snap["pool"]),
                                   deadline - time.monotonic(), 0.1)

    # ------------------------------------------------------------ namespace
    def ns(self):
        """Context manager: the calling thread inside the test namespace."""
        return self.netns.enter()

    def run(self, argv, timeout=60):
        """A command in the namespace (CompletedProcess, text)."""
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        return self.netns.run(argv, timeout=timeout)

    # ------------------------------------------------------------ frames
    def _socket(self):
        from scapy.all import conf
        if self._l2 is None:
            # Crafted frames only ever leave through an interface without a default route.
            routes = self.netns.default_route()
            assert not routes, "default route in test ns: " + routes
            with self.ns():
                assert netns_mod.in_private_ns()
                self._l2 = conf.L2socket(iface=TAP)
        return self._l2

    def send(self, frame):
        """Send one Ethernet frame (scapy packet or bytes) out of the host side of zc0."""
        self._socket().send(frame)

    def sniffer(self, lfilter=None, from_stack=True):
        """A started scapy AsyncSniffer on zc0 (inside the namespace).
        from_stack: keep only frames the stack sent (not the host's own)."""
        from scapy.all import AsyncSniffer, Ether, conf
        host_mac = (self.host_mac or "").lower()

        def keep(p):
            if from_stack and (Ether not in p or p[Ether].src.lower() == host_mac):
                return False
            return lfilter(p) if lfilter else True

        with self.ns():
            sock = conf.L2listen(iface=TAP)
        sn = AsyncSniffer(opened_socket=sock, lfilter=keep, store=True)
        sn._zc_sock = sock
        sn.start()
        # The sniff thread must be reading before anything is sent.
        deadline = time.monotonic() + 2
        while not getattr(sn, "running", False) and time.monotonic() < deadline:
            time.sleep(0.01)
        return sn

    @staticmethod
    def stop_sniffer(sn, settle_s=0.2, max_s=2.0):
        """Stop once nothing new arrived for settle_s (frames already in the
        socket get parsed first); return the frames kept."""
        deadline = time.monotonic() + max_s
        last = -1
        while time.monotonic() < deadline:
            n = len(sn.results) if sn.results is not None else 0
            if n == last:
                break
            last = n
            time.sleep(settle_s)
        try:
            res = sn.stop()
        except Exception:  # already stopped
            res = sn.results
        finally:
            sn._zc_sock.close()
        return list(res or [])

    def sr(self, frame, lfilter=None, timeout=3.0, count=1):
        """Send `frame`, return what the stack sent back matching lfilter:
        up to `count` frames, waiting at most `timeout` seconds."""
        sn = self.sniffer(lfilter)
        try:
            self.send(frame)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if sn.results is not None and len(sn.results) >= count:
                    break
                time.sleep(0.02)
        finally:
            got = self.stop_sniffer(sn)
        return got[:count] if count else got

    def close_sockets(self):
        if self._l2 is not None:
            self._l2.close()
            self._l2 = None


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def netns():
    """A fresh private network namespace, removed afterwards whatever happens."""
    if not _CAPABLE:
        pytest.skip(SKIP_REASON)
    ns = netns_mod.NetNS.create()
    try:
        yield ns
    finally:
        ns.delete()


@pytest.fixture(params=NETIFS)
def bb_netif(request):
    """The NETIF the stack under test runs on (tools/run.py --netif)."""
    return request.param


@pytest.fixture
def stack(request, netns, bb_netif):
    settings = dict(DEFAULT_SETTINGS)
    for m in reversed(list(request.node.iter_markers("stack_config"))):
        settings.update(m.kwargs)
    width = getattr(request, "param", "64")
    st = Stack(netns, settings, BINARIES[width], netif=bb_netif)
    for m in request.node.iter_markers("stack_args"):
        st.args += list(m.args)
    request.node._zc_stack = st
    try:
        st.start()
    except BaseException:
        st.kill()
        raise
    try:
        yield st
    finally:
        problems = []
        try:
            st.close_sockets()
            if st.alive():
                # A live snapshot after a short quiesce: the test leaked nothing.
                snap = st.wait_baseline()
                if not pool_at_baseline(snap["pool"]):
                    problems.append("pool not at baseline after the test (live): %s"
                                    % json.dumps(snap["pool"]))
            else:
                problems.append("the stack died during the test (status %s)" % st.proc.returncode)
            if st.alive():
                rc = st.stop()
                if rc != 0:
                    problems.append("the stack exited with status %s after SIGTERM" % rc)
                if st.stopped is not None and "pool" in st.stopped \
                        and not pool_at_baseline(st.stopped["pool"]):
                    problems.append("pool not at baseline in STOPPED: %s" % json.dumps(st.stopped["pool"]))
                elif st.stopped is not None and "pool" not in st.stopped:
                    problems.append("STOPPED line carries no pool stats: %r" % (st.stopped,))
        except StackError as e:
            problems.append(str(e))
        finally:
            st.kill()
        if problems:
            pytest.fail("stack teardown: " + "; ".join(problems), pytrace=False)
