"""tools/run.py as `make run` uses it: the PID file (one per TAP and
network namespace), signals (SIGINT and SIGTERM shut down cleanly, SIGUSR1
prints one JSON line), attaching to an existing TAP with --tap (host side left
alone; a missing one is refused), a second instance on a TAP in use refused
naming the first's PID, clear errors for bad options, and `make run BITS=32`
answering full-size and fragmented pings. Each test runs the tool in its own
private namespace."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.blackbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPY = os.environ.get("ZC_MICROPYTHON", os.path.join(ROOT, "build", "unix", "micropython"))
MPY32 = os.environ.get("ZC_MICROPYTHON32", os.path.join(ROOT, "build", "unix32", "micropython"))
RUN = os.path.join(ROOT, "tools", "run.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import netns as netns_mod  # noqa: E402  (tools/netns.py)
from zcrun import pool_at_baseline  # noqa: E402


class Proc:
    """run.py (or any argv) under `ip netns exec`, stdout read line by line
    with a deadline."""

    def __init__(self, ns, *args, argv=None, frozen=False):
        env = dict(os.environ, MICROPYPATH=ROOT + ":.frozen")
        if frozen:                  # as `make run`: the stack frozen into the binary
            env.pop("MICROPYPATH")
        self.p = ns.popen(argv or ([MPY, RUN] + list(args)), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, cwd=ROOT)
        self.buf = b""

    def line(self, timeout=10.0):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no line from run.py within %.0f s" % timeout)
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError("run.py closed stdout; stderr: %r" % self.p.stderr.read())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect(self, tag, timeout=10.0):
        for _ in range(50):
            line = self.line(timeout)
            if line.startswith(tag + " "):
                return json.loads(line[len(tag) + 1:])
        raise AssertionError("no %s line" % tag)

    def snapshot(self, pid):
        os.kill(pid, signal.SIGUSR1)
        for _ in range(50):
            line = self.line()
            if line.startswith("{"):
                return json.loads(line)
        raise AssertionError("no SIGUSR1 line")

    def finish(self, timeout=15.0):
        try:
            return self.p.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)


def _netns_inode(pid):
    return os.stat("/proc/%d/ns/net" % pid).st_ino


def _pidfile(tap, pid):
    """Where run.py (PID `pid`) keeps its PID file: per TAP and namespace."""
    return os.path.join(ROOT, ".run", "%s.net%d.pid" % (tap, _netns_inode(pid)))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_pid_file_and_clean_shutdown(netns, sig):
    pr = Proc(netns)
    try:
        ready = pr.expect("READY")
        pidfile = _pidfile(ready["tap"], ready["pid"])
        assert os.path.realpath(ready["pidfile"]) == pidfile
        with open(pidfile) as f:
            pid = int(f.read())
        assert pid == ready["pid"]
        # the host side was configured by run.py
        addrs = netns.run(["ip", "-o", "-4", "addr", "show", "dev", "zc0"]).stdout
        assert "198.51.100.1/24" in addrs
        os.kill(pid, signal.SIGUSR1)
        snap = json.loads(pr.line())
        assert set(snap) == {"counters", "driver", "pool", "baseline", "copied", "tcp", "heap"}
        assert snap["counters"]["arp_gratuitous_tx"] == 1
        # the services listen (echo, discard, qotd, source); no connection yet
        assert snap["tcp"] == {"pcbs": 0, "listeners": 4, "states": {}}
        assert 0 < snap["heap"]["alloc"] and 0 < snap["heap"]["free"]
        os.kill(pid, sig)
        stopped = pr.expect("STOPPED")
        assert pr.finish() == 0
        assert stopped["pool"]["free"] == stopped["pool"]["total"]
        assert not os.path.exists(pidfile)
        assert not netns.has_link("zc0"), "the TAP outlived the process"
    finally:
        if pr.p.poll() is None:
            pr.p.kill()
            pr.p.wait(5)


def test_attach_to_existing_tap_leaves_host_side_alone(netns):
    netns.run(["ip", "tuntap", "add", "mode", "tap", "name", "zcx0"], check=True)
    netns.run(["ip", "addr", "add", "198.51.100.11/24", "dev", "zcx0"], check=True)
    netns.run(["ip", "link", "set", "zcx0", "up"], check=True)
    netns.run(["ip", "neigh", "replace", "198.51.100.12", "lladdr", "02:00:00:00:00:0c",
               "nud", "permanent", "dev", "zcx0"], check=True)
    pr = Proc(netns, "--tap", "zcx0", "--ip", "198.51.100.12", "--mac", "02:00:00:00:00:0c")
    try:
        ready = pr.expect("READY")
        assert ready["tap"] == "zcx0" and ready["ip"] == "198.51.100.12"
        addrs = netns.run(["ip", "-o", "-4", "addr", "show", "dev", "zcx0"]).stdout
        assert "198.51.100.11/24" in addrs and "198.51.100.1/" not in addrs
        r = netns.run(["ping", "-c", "3", "-i", "0.05", "-W", "1", "198.51.100.12"], timeout=20)
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout
        os.kill(ready["pid"], signal.SIGTERM)
        pr.expect("STOPPED")
        assert pr.finish() == 0
        assert netns.has_link("zcx0"), "a persistent TAP we attached to must stay"
    finally:
        if pr.p.poll() is None:
            pr.p.kill()
            pr.p.wait(5)


@pytest.mark.parametrize("args, words", [
    (["--set", "NO_SUCH_SETTING=1"], "unknown setting"),
    (["--set", "MTU_BYTES"], "NAME=VALUE"),
    (["--netif", "nosuchmac"], "unknown NETIF"),
    (["--bogus", "1"], "unknown option"),
    (["--set", "MTU_BYTES=lots"], "bad value for MTU_BYTES"),
    (["--ip", "198.51.100.300"], "bad address"),
    (["--mac", "02:00:zz:00:00:02"], "bad address"),
    (["--prefix", "33"], "bad address or prefix"),
])
def test_bad_options_fail_clearly(netns, args, words):
    pr = Proc(netns, *args)
    rc = pr.finish()
    err = pr.p.stderr.read().decode() + pr.p.stdout.read().decode()
    assert rc != 0 and words in err, (rc, err)
    assert not netns.has_link("zc0")


def test_attach_to_missing_tap_is_refused(netns):
    # TAP=name means attach: a device that is not there is an error, not a new TAP.
    pr = Proc(netns, "--tap", "zcnone0")
    rc = pr.finish()
    err = pr.p.stderr.read().decode()
    assert rc == 2, (rc, err)
    assert "no device zcnone0" in err and "attaches to an existing TAP" in err, err
    assert not netns.has_link("zcnone0")
    assert not netns.has_link("zc0")


def test_second_instance_on_the_same_tap_names_the_first(netns):
    first = Proc(netns)
    try:
        ready = first.expect("READY")
        second = Proc(netns)
        rc = second.finish()
        err = second.p.stderr.read().decode()
        assert rc == 2, (rc, err)
        assert "zc0 is in use, by PID %d" % ready["pid"] in err, err
        assert "OSError" not in err, err
        # The first one is untouched: its PID file stays, it still answers.
        assert os.path.exists(_pidfile("zc0", ready["pid"]))
        r = netns.run(["ping", "-c", "2", "-i", "0.05", "-W", "1", "198.51.100.2"], timeout=20)
        assert r.returncode == 0, r.stdout
        os.kill(ready["pid"], signal.SIGTERM)
        first.expect("STOPPED")
        assert first.finish() == 0
    finally:
        first.kill()


def test_instances_in_two_namespaces_keep_their_own_pid_files(netns):
    other = netns_mod.NetNS.create()
    a = b = None
    try:
        a = Proc(netns)
        ra = a.expect("READY")
        b = Proc(other)
        rb = b.expect("READY")
        fa, fb = _pidfile("zc0", ra["pid"]), _pidfile("zc0", rb["pid"])
        assert fa != fb
        for f, pid in ((fa, ra["pid"]), (fb, rb["pid"])):
            with open(f) as fh:
                assert int(fh.read()) == pid
        # Stopping one leaves the other's PID file alone.
        os.kill(ra["pid"], signal.SIGTERM)
        a.expect("STOPPED")
        assert a.finish() == 0
        assert not os.path.exists(fa) and os.path.exists(fb)
        os.kill(rb["pid"], signal.SIGTERM)
        b.expect("STOPPED")
        assert b.finish() == 0
        assert not os.path.exists(fb)
    finally:
        for pr in (a, b):
            if pr is not None:
                pr.kill()
        other.delete()


def test_make_echoes_the_run_command_on_one_line():
    for extra, binary in (([], "build/unix/micropython"),
                          (["BITS=32", "TAP=zcx0", "SET=MTU_BYTES=1500"], "build/unix32/micropython")):
        r = subprocess.run(["make", "-n", "--no-print-directory", "run"] + extra, cwd=ROOT,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert not [ln for ln in lines if ln.strip() in ("\\", "")], lines
        run = [ln for ln in lines if "tools/run.py" in ln]
        assert len(run) == 1 and run[0].startswith(binary + " tools/run.py --netif tap"), lines
        assert "\\" not in run[0], run[0]
    r = subprocess.run(["make", "-n", "run", "BITS=16"], cwd=ROOT, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "BITS must be 32 or 64" in r.stderr, r.stderr


def _ping(ns, *args):
    r = ns.run(["ping", "-n", "-q"] + list(args) + ["198.51.100.2"], timeout=90)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, "no ping summary:\n%s\n%s" % (r.stdout, r.stderr)
    return int(m.group(1)), int(m.group(2))


def test_make_run_bits32_answers_full_size_and_fragmented_pings(netns):
    """`make run BITS=32`, literally (the frozen stack on the 32-bit binary)."""
    assert os.access(MPY32, os.X_OK), "no 32-bit binary %s: run `make build BITS=32`" % MPY32
    pr = Proc(netns, argv=["make", "-s", "--no-print-directory", "run", "BITS=32"], frozen=True)
    try:
        ready = pr.expect("READY", timeout=120)    # make may relink first
        pid = ready["pid"]
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert f.read().split(b"\0")[0].endswith(b"build/unix32/micropython")
        before = pr.snapshot(pid)
        assert _ping(netns, "-c", "200", "-i", "0.01", "-s", "1472", "-W", "2", "-w", "40") == (200, 200)
        assert _ping(netns, "-c", "5", "-i", "0.2", "-s", "8000", "-W", "3", "-w", "30") == (5, 5)
        deadline = time.monotonic() + 3
        while True:
            after = pr.snapshot(pid)
            if pool_at_baseline(after["pool"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert after["baseline"] is True and pool_at_baseline(after["pool"]), after["pool"]
        d = {k: after["counters"][k] - before["counters"].get(k, 0) for k in after["counters"]}
        assert d["icmp_echo_rx"] == 205 and d["icmp_echo_tx"] == 205, d
        assert d["reasm_ok"] == 5, d
        assert after["copied"] == before["copied"], (before["copied"], after["copied"])
        os.kill(pid, signal.SIGTERM)
        stopped = pr.expect("STOPPED")
        assert pr.finish() == 0
        assert stopped["pool"]["free"] == stopped["pool"]["total"], stopped["pool"]
    finally:
        pr.kill()
