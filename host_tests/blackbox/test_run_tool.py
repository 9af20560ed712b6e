"""tools/run.py as `make run` uses it: the PID file, signals (SIGINT and
SIGTERM shut down cleanly, SIGUSR1 prints one JSON line), attaching to an
existing TAP with --tap (host side left alone), and clear errors for bad
options. Each test runs the tool in its own private namespace."""
import json
import os
import select
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.blackbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPY = os.path.join(ROOT, "build", "unix", "micropython")
RUN = os.path.join(ROOT, "tools", "run.py")


class Proc:
    """run.py under `ip netns exec`, stdout read line by line with a deadline."""

    def __init__(self, ns, *args):
        env = dict(os.environ, MICROPYPATH=ROOT + ":.frozen")
        self.p = ns.popen([MPY, RUN] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env)
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

    def finish(self, timeout=15.0):
        try:
            return self.p.wait(timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait(5)


def _pidfile(tap):
    return os.path.join(ROOT, ".run", tap + ".pid")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_pid_file_and_clean_shutdown(netns, sig):
    pr = Proc(netns)
    try:
        ready = pr.expect("READY")
        with open(_pidfile(ready["tap"])) as f:
            pid = int(f.read())
        assert pid == ready["pid"]
        # the host side was configured by run.py
        addrs = netns.run(["ip", "-o", "-4", "addr", "show", "dev", "zc0"]).stdout
        assert "198.51.100.1/24" in addrs
        os.kill(pid, signal.SIGUSR1)
        snap = json.loads(pr.line())
        assert set(snap) == {"counters", "driver", "pool", "baseline", "copied"}
        assert snap["counters"]["arp_gratuitous_tx"] == 1
        os.kill(pid, sig)
        stopped = pr.expect("STOPPED")
        assert pr.finish() == 0
        assert stopped["pool"]["free"] == stopped["pool"]["total"]
        assert not os.path.exists(_pidfile(ready["tap"]))
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
