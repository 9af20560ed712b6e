"""Client side of tools/run.py's protocol (CPython): the black-box harness
(host_tests/blackbox/conftest.py) and the bench (tools/bench/echo_rtt.py).

    rp = RunPy(ns, mpy, args=["--ip", ...], settings={"REASM_TIMEOUT_MS": 1000},
               micropypath=SOURCE_FIRST)
    rp.start()          # `ip netns exec NS mpy tools/run.py --netif tap ...`;
                        # the READY line's JSON in rp.ready
    rp.snapshot()       # SIGUSR1: {"counters", "pool", "baseline", "driver", "copied"}
    rp.stop()           # SIGTERM, the STOPPED line's JSON in rp.stopped; exit status
    rp.kill()           # on every path: kill what still runs, drop the stderr file

The protocol (tools/run.py's header): one line `READY {json}` when up; on
SIGUSR1 one JSON line of counters and pool levels; on SIGTERM/SIGINT
`STOPPED {json}` and exit status 0. A thread reads stdout into a queue and
every wait on it is bounded; other stdout lines are kept in other_stdout,
stderr goes to a temporary file (stderr_text()).

A caller names the process in its messages (`what`), picks the exception
raised (`error`) and how many lines of stderr an "it exited" error carries.
Importable as `zcrun` with tools/ on sys.path (the bench and the black-box
conftest put it there).
"""
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_BIN = os.environ.get("ZC_MICROPYTHON", os.path.join(ROOT, "build", "unix", "micropython"))
RUN_PY = os.path.join(ROOT, "tools", "run.py")
# MICROPYPATH for "the source tree wins over the frozen copy of `stack`".
SOURCE_FIRST = ROOT + ":.frozen"

READY_TIMEOUT_S = 30
SNAPSHOT_TIMEOUT_S = 5
STOP_TIMEOUT_S = 15

H_RXPOST = 0


class RunPyError(Exception):
    pass


def json_after(line, tag, what="tools/run.py", error=RunPyError):
    """The JSON after `tag` on a READY/STOPPED line ({} when there is none)."""
    rest = line[len(tag):].strip()
    if not rest:
        return {}
    try:
        return json.loads(rest)
    except ValueError:
        raise error("bad %s line from %s: %r" % (tag, what, line))


def is_snapshot(line):
    """True for the JSON line SIGUSR1 prints."""
    if not line.startswith("{"):
        return False
    try:
        d = json.loads(line)
    except ValueError:
        return False
    return isinstance(d, dict) and "counters" in d and "pool" in d


def pool_at_baseline(pool):
    """DESIGN invariant 4 for both block classes, and no double free ever counted."""
    return (pool["free"] + pool["held"][H_RXPOST] == pool["total"]
            and pool["hdr_free"] == pool["hdr_total"] and not pool.get("bad_free"))


def _delta(before, after):
    d = {}
    for k, v in after.items():
        if isinstance(v, (int, float)):
            dv = v - before.get(k, 0)
            if dv:
                d[k] = dv
    return d


def counter_delta(before, after):
    """The counters that moved between two snapshots: {name: after - before}."""
    return _delta(before.get("counters") or {}, after.get("counters") or {})


def driver_delta(before, after):
    """The same for the driver's counters."""
    return _delta(before.get("driver") or {}, after.get("driver") or {})


class RunPy:
    """One tools/run.py process in one namespace (anything with popen())."""

    what = "tools/run.py"        # how messages name the process
    error = RunPyError           # what they raise
    stderr_tail_lines = 0        # stderr lines an "it exited" error carries
    script = RUN_PY              # what MicroPython runs (the bench's profiler wraps run.py)

    def __init__(self, netns, mpy=MPY_BIN, args=(), settings=None, micropypath=None, netif="tap"):
        self.netns = netns
        self.netif = netif
        self.mpy = mpy
        self.args = list(args)
        self.settings = dict(settings or {})
        self.micropypath = micropypath
        self.proc = None
        self.ready = None
        self.stopped = None
        self.other_stdout = []
        self._lines = queue.Queue()
        self._err = tempfile.TemporaryFile(mode="w+b")

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Start run.py and wait (bounded) for its READY line."""
        for path, what in ((self.mpy, "MicroPython binary (run `make build`)"),
                           (self.script, "tools/run.py")):
            if not os.path.exists(path):
                raise self.error("%s missing: %s" % (what, path))
        argv = [self.mpy, self.script, "--netif", self.netif] + self.args
        for k, v in sorted(self.settings.items()):
            argv += ["--set", "%s=%s" % (k, v)]
        self.argv = argv
        env = None
        if self.micropypath is not None:
            env = dict(os.environ)
            env["MICROPYPATH"] = self.micropypath
        self.proc = self.netns.popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, env=env,
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     text=True, errors="replace", bufsize=1)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        line = self.next_line(lambda s: s.startswith("READY"), READY_TIMEOUT_S, "READY")
        self.ready = json_after(line, "READY", self.what, self.error)
        return self

    def _read_stdout(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def next_line(self, want, timeout, what):
        """The next stdout line for which want(line) holds, waiting at most
        `timeout` s; lines passed over go to other_stdout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self.error("timed out after %.0f s waiting for %s from %s"
                                 % (timeout, what, self.what))
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._lines.put(None)  # stay at EOF for later readers
                try:
                    rc = self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    rc = None
                msg = "%s exited (status %s) while we waited for %s" % (self.what, rc, what)
                if self.stderr_tail_lines:
                    tail = self.stderr_text().splitlines(True)[-self.stderr_tail_lines:]
                    msg += "; stderr tail:\n" + "".join(tail)
                raise self.error(msg)
            if want(line):
                return line
            self.other_stdout.append(line)

    def stderr_text(self, limit=16000):
        """What the process wrote to stderr so far (the last `limit` chars)."""
        try:
            fd = self._err.fileno()
            # pread: the child shares the file offset; leave it alone.
            data = os.pread(fd, os.fstat(fd).st_size, 0)
        except (ValueError, OSError):
            return ""
        return data.decode("utf-8", "replace")[-limit:]

    def alive(self):
        return self.proc.poll() is None

    def request_stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM (when still running), then the STOPPED line (bounded),
        its JSON kept in .stopped."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        line = self.next_line(lambda s: s.startswith("STOPPED"), timeout, "STOPPED")
        self.stopped = json_after(line, "STOPPED", self.what, self.error)

    def reap(self, timeout=STOP_TIMEOUT_S):
        """The exit status, waiting at most `timeout` s; None when the
        process had to be killed."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM, then the STOPPED line and the exit status (bounded); a
        process still there `timeout` s later is killed, and that is an error."""
        try:
            self.request_stop(timeout)
        finally:
            rc = self.reap(timeout)
            if rc is None:
                raise self.error("%s did not exit within %d s of SIGTERM (killed)"
                                 % (self.what, timeout))
        return rc

    def kill(self):
        """Kill the process if it still runs; drop the stderr file."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._err.close()

    # ------------------------------------------------------------ counters
    def snapshot(self, timeout=SNAPSHOT_TIMEOUT_S):
        """A fresh snapshot (SIGUSR1): {"counters", "pool", "driver", "copied", ...}."""
        if self.proc.poll() is not None:
            raise self.error("%s is not running (exit status %s)" % (self.what, self.proc.returncode))
        self.proc.send_signal(signal.SIGUSR1)
        line = self.next_line(is_snapshot, timeout, "a counters line (SIGUSR1)")
        return json.loads(line)

    def snapshot_until(self, done, timeout, interval):
        """Snapshots (bounded in time, one every `interval` s) until done(snap);
        the last one either way."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            if done(snap) or time.monotonic() >= deadline:
                return snap
            time.sleep(interval)
