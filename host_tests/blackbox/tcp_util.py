"""TCP black-box helpers: Linux sockets in the test namespace talking to the
stack's services (tools/run.py: echo 7, discard 9, source 19), and what the
snapshot's `tcp` section says afterwards.

Every wait is bounded: sockets carry a timeout, loops a deadline.

Sizes: the CI versions are short; `make soak` sets ZC_SOAK=1 and the same
tests run the long versions (SOAK_* below). Measured figures (MB/s, seconds)
are appended as JSON lines to the file named by ZC_TCP_FIGURES when set
(`make soak` prints them), and always to the test's captured stdout.
"""
import hashlib
import json
import os
import socket
import threading
import time

MIB = 1 << 20
SOAK = os.environ.get("ZC_SOAK", "") not in ("", "0")

ECHO_PORT = 7
DISCARD_PORT = 9
SOURCE_PORT = 19

CHUNK = 64 * 1024
IO_TIMEOUT_S = 20          # one send/recv making no progress this long fails the test


def figure(name, **values):
    """Record a measured figure (stdout, and ZC_TCP_FIGURES when set)."""
    rec = dict(name=name, **values)
    line = json.dumps(rec, sort_keys=True)
    print("FIGURE " + line)
    path = os.environ.get("ZC_TCP_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def connect(stack, port, rcvbuf=None, timeout=IO_TIMEOUT_S):
    """A TCP socket of the test namespace connected to the stack's port."""
    s = stack.netns.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((stack.stack_ip, port))
    except BaseException:
        s.close()
        raise
    return s


class Sender(threading.Thread):
    """Sends n random bytes (os.urandom, chunk by chunk) on a socket, hashing
    them, then shuts down its sending side. .digest, .sent, .error after join()."""

    def __init__(self, sock, n, shutdown=True):
        super().__init__(daemon=True)
        self.sock = sock
        self.n = n
        self.shutdown = shutdown
        self.sent = 0
        self.digest = None
        self.error = None

    def run(self):
        h = hashlib.sha256()
        try:
            left = self.n
            while left > 0:
                k = CHUNK if left > CHUNK else left
                b = os.urandom(k)
                h.update(b)
                self.sock.sendall(b)
                self.sent += k
                left -= k
            if self.shutdown:
                self.sock.shutdown(socket.SHUT_WR)
        except BaseException as e:      # reported by the test thread
            self.error = e
        self.digest = h.hexdigest()


def recv_all(sock, limit, deadline):
    """Read until EOF (or `limit` bytes): (sha256 hex, byte count)."""
    h = hashlib.sha256()
    got = 0
    while got < limit:
        if time.monotonic() > deadline:
            raise AssertionError("receive still going at the deadline (%d bytes)" % got)
        b = sock.recv(CHUNK if limit - got > CHUNK else limit - got)
        if not b:
            break
        h.update(b)
        got += len(b)
    return h.hexdigest(), got


def expect_eof(sock, deadline):
    """The peer closed: the next read is EOF (bytes after it fail the test)."""
    while time.monotonic() < deadline:
        b = sock.recv(4096)
        if not b:
            return
        raise AssertionError("%d unexpected bytes before EOF: %r" % (len(b), b[:32]))
    raise AssertionError("no EOF by the deadline")


# ---- the stack's source service pattern (stack/services.py) --------------------

def fin_then_drain(sock, check, deadline):
    """Our FIN to the source service, then what it had queued, up to its
    EOF, into the pattern check (bounded by deadline)."""
    sock.shutdown(socket.SHUT_WR)
    while True:
        assert time.monotonic() < deadline, "no EOF from source after our FIN"
        b = sock.recv(65536)
        if not b:
            return
        check.feed(b)


def source_pattern():
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if root not in sys.path:
        sys.path.insert(0, root)
    from stack import services
    return services._pattern(services.SOURCE_CHUNK)


class PatternCheck:
    """Checks a byte stream against the endless repetition of `pattern`."""

    def __init__(self, pattern):
        self.pat = pattern
        self.doubled = pattern + pattern
        self.pos = 0            # stream offset
        self.bad_at = None

    def feed(self, b):
        k = len(self.pat)
        i = 0
        while i < len(b) and self.bad_at is None:
            o = self.pos % k
            n = min(len(b) - i, k - o)
            if b[i:i + n] != self.doubled[o:o + n]:
                j = next(x for x in range(n) if b[i + x] != self.doubled[o + x])
                self.bad_at = self.pos + j
            self.pos += n
            i += n


# ---- the snapshot's tcp section --------------------------------------------------

def tcp_states(snap):
    return dict(snap.get("tcp", {}).get("states", {}))


def only_time_wait(snap):
    """True when every connection left is in TIME_WAIT."""
    st = tcp_states(snap)
    return all(k == "TIME_WAIT" for k in st)


def wait_quiet(stack, timeout):
    """Snapshots (bounded) until the pool is at baseline and no connection
    but TIME_WAIT ones is left; the last snapshot."""
    return stack.snapshot_until(lambda s: s["baseline"] and only_time_wait(s), timeout, 0.05)


def wait_no_pcbs(stack, timeout):
    return stack.snapshot_until(lambda s: s["tcp"]["pcbs"] == 0, timeout, 0.05)


def assert_quiet_then_empty(stack, msl_ms, slack_s=1.5):
    """After a test: the pool at baseline, only TIME_WAIT connections, and
    those gone within 2 MSL (+ slack for the timer tick and the snapshot).
    Returns (quiet snapshot, seconds until the table was empty)."""
    t0 = time.monotonic()
    snap = wait_quiet(stack, 5.0)
    assert snap["baseline"], "pool not at baseline: %s" % json.dumps(snap["pool"])
    assert only_time_wait(snap), "connections left besides TIME_WAIT: %s" % tcp_states(snap)
    limit = 2 * msl_ms / 1000.0 + slack_s
    snap2 = wait_no_pcbs(stack, limit + 1.0)
    took = time.monotonic() - t0
    assert snap2["tcp"]["pcbs"] == 0, "connections left %.1f s later (2 MSL = %.1f s): %s" % (
        took, 2 * msl_ms / 1000.0, tcp_states(snap2))
    assert took <= limit, "TIME_WAIT took %.2f s to expire (2 MSL = %.2f s)" % (took, 2 * msl_ms / 1000.0)
    assert snap2["baseline"], "pool not at baseline: %s" % json.dumps(snap2["pool"])
    return snap, took


# ---- a Linux echo server for the stack's client (run.py --connect) -------------

class EchoServer(threading.Thread):
    """A Linux TCP echo server in the namespace, on 0.0.0.0:port (bound
    before the stack's TAP exists: the stack's first SYN finds it). Serves
    connections one after the other: echoes until EOF, then closes. Counts
    connections, bytes, and connections whose bytes differ from `expect`."""

    def __init__(self, netns, port, expect, deadline_s):
        super().__init__(daemon=True)
        self.lsock = netns.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("0.0.0.0", port))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.expect = expect
        self.deadline = time.monotonic() + deadline_s
        self.conns = 0
        self.bytes = 0
        self.bad = []
        self.error = None
        self._halt = threading.Event()

    def run(self):
        try:
            while not self._halt.is_set() and time.monotonic() < self.deadline:
                try:
                    c, _ = self.lsock.accept()
                except socket.timeout:
                    continue
                with c:
                    c.settimeout(IO_TIMEOUT_S)
                    got = bytearray()
                    while True:
                        b = c.recv(65536)
                        if not b:
                            break
                        got += b
                        c.sendall(b)
                    self.conns += 1
                    self.bytes += len(got)
                    if got != self.expect:
                        self.bad.append((self.conns, len(got)))
        except BaseException as e:
            self.error = e

    def stop(self):
        self._halt.set()
        self.join(5)
        self.lsock.close()


def echo_sha256(stack, n, deadline_s):
    """n bytes through the stack's TCP echo service while the echo is read
    back (both ways at once): all of it returned, sha256 identical. Returns
    the seconds it took."""
    s = connect(stack, ECHO_PORT)
    try:
        tx = Sender(s, n)
        t0 = time.monotonic()
        tx.start()
        digest, got = recv_all(s, n + 1, t0 + deadline_s)
        took = time.monotonic() - t0
        tx.join(IO_TIMEOUT_S)
        assert not tx.is_alive(), "sender still running"
        assert tx.error is None, "send failed after %d bytes: %r" % (tx.sent, tx.error)
    finally:
        s.close()
    assert got == n, "echo returned %d of %d bytes" % (got, n)
    assert digest == tx.digest, "echo differs from what was sent (sha256)"
    return took
