#!/usr/bin/env python3
"""TCP benchmark through the raw API: zcstack on TAP beside the Linux kernel
over a veth pair, in the same run (CPython 3.11).

    tools/bench/tcp_bench.py [--bulk-mb N] [--linux-bulk-factor N] [--echo-count N]
                             [--warmup N] [--conns N] [--idle-conns N] [--timeout S]
                             [--time-limit S] [--out PATH] [--micropython PATH]
                             [--cases LIST] [--profile]
    tools/bench/tcp_bench.py --table build/bench/tcp.json build/bench/tcp32.json
                             (the README's table from the JSON reports)

Cases, each against both targets (Linux is always the client, our own
sockets in the host-side namespace, as tools/bench/echo_rtt.py does for ICMP
and UDP; the namespaces, the stack process and its protocol are that tool's):

  bulk_in    --bulk-mb MB (Linux: --linux-bulk-factor times more) sent to the discard service (port 9), then our FIN;
             timed from connect() to the server's FIN (the stack's discard
             closes after it read our FIN, so everything arrived). MB/s.
  bulk_out   --bulk-mb MB read from the source service (port 19), timed from
             connect() to the last byte. MB/s.
  echo_1     1-byte echo round trips on one connection to port 7 (TCP_NODELAY),
             one in flight: p50/p90/p99/mean/min/max in ms.
  cps        --conns connections one after the other: connect, 1 byte to the
             echo service, 1 byte back, close. Connections per second.
  idle_heap  (zcstack only) --idle-conns connections to port 7 left open and
             idle: the MicroPython heap after a collection (SIGUSR1 "heap":
             gc.mem_alloc()) with them ESTABLISHED, less the heap before, per
             connection. Linux has no comparable figure (null).

  zcstack    tools/run.py on TAP zc0 in namespace zcb-<rand>: its services
             discard (9), source (19), echo (7) on the raw API.
  linux      namespaces zcbh-<rand> / zcbp-<rand> joined by veth; in the peer
             namespace a small single-threaded Python server (selectors,
             bounded lifetime) offers discard, source and echo on 9, 19, 7.

Per bulk case also: the server process's CPU seconds per MB (utime+stime of
/proc/<pid>/stat around the transfer: for zcstack the run.py process, which
does all of its TCP; for Linux only the server's process context: much of
Linux's TCP work runs in softirq charged to the sender), the client thread's
CPU per MB, and for zcstack the payload bytes copied per delivered byte (the
SIGUSR1 "copied" field), the counters delta and whether the pool came back to
baseline. MB is 10^6 bytes. Ratios zcstack/linux per case.

Bounded: every socket operation has --timeout, every case a byte or count
bound, the whole run --time-limit; namespaces are removed on every exit path.
Prints one JSON object and writes it to --out (build/bench/tcp.json). Exit
status 0 when every case ran to the end, 1 when one failed or the time limit
cut it short (the JSON says which), 2 when the set-up failed.
"""
import argparse
import datetime
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import echo_rtt as er  # noqa: E402  (namespaces, the stack process, statistics)
from echo_rtt import (HOST_IP, PEER_IP, PREFIX_LEN, TAP, VETH_HOST, VETH_PEER,  # noqa: E402
                      BenchError, NetNS, NetnsError, TimeLimit, check_route, counter_delta,
                      driver_delta, pct, ratio, sh, wait_addr)
import zcrun  # noqa: E402

ROOT = er.ROOT
DEFAULT_OUT = os.path.join(ROOT, "build", "bench", "tcp.json")

DISCARD_PORT = 9
SOURCE_PORT = 19
ECHO_PORT = 7
RAW_PORTS = {"discard": DISCARD_PORT, "source": SOURCE_PORT, "echo": ECHO_PORT}
SOCK_PORTS = {"discard": 1009, "source": 1019, "echo": 1007}     # tools/bench/sock_services.py

CASES = ("bulk_in", "bulk_out", "echo_1", "cps", "idle_heap")

# The targets (reported, not asserted).
TARGETS = {"bulk_mb_per_s": 50.0, "cps": 3000.0, "echo_1_p50_ms": 0.15,
           "heap_per_idle_conn_bytes_32bit": 1536, "copied_per_byte": 0.0}
# References the issue measured on this kind of machine over TAP.
REFERENCES = {"lwip": {"bulk_mb_per_s": 310, "echo_1_us": 15.6, "cps": [13500, 18000]},
              "pytcp": {"bulk_in_mb_per_s": 0.5, "bulk_out_mb_per_s": 1.0, "cps": 52}}

CHUNK = 1 << 20
MB = 1e6
CLK_TCK = os.sysconf("SC_CLK_TCK")
BASELINE_WAIT_S = 5.0
SERVER_SLACK_S = 60
NS_RUN_TIMEOUT_S = 30


def log(msg):
    print("tcp_bench: " + msg, file=sys.stderr, flush=True)


class CaseError(Exception):
    pass


def proc_cpu_s(pid):
    """utime + stime of a process, in seconds (clock ticks of /proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()     # from field 3 (state) on
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# ---------------------------------------------------------------- the Linux reference

SERVER = r"""
import selectors, socket, sys, time
ip, life = sys.argv[1], float(sys.argv[2])
DISCARD, SOURCE, ECHO = 9, 19, 7
sel = selectors.DefaultSelector()
buf = bytearray(1 << 20)
src = bytes(range(256)) * 256
for port in (DISCARD, SOURCE, ECHO):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(1024)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, ("listen", port))
pend = {}
def close(s):
    sel.unregister(s)
    pend.pop(s, None)
    s.close()
end = time.monotonic() + life
print("SERVER-READY", flush=True)
while time.monotonic() < end:
    for key, ev in sel.select(0.5):
        s, (kind, port) = key.fileobj, key.data
        if kind == "listen":
            try:
                c, _ = s.accept()
            except OSError:
                continue
            c.setblocking(False)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            evs = selectors.EVENT_READ | (selectors.EVENT_WRITE if port == SOURCE else 0)
            sel.register(c, evs, ("conn", port))
            continue
        try:
            if ev & selectors.EVENT_READ:
                n = s.recv_into(buf)
                if n == 0:
                    close(s)
                    continue
                if port == ECHO:
                    data = pend.get(s, b"") + bytes(memoryview(buf)[:n])
                    k = s.send(data)
                    if k < len(data):
                        pend[s] = data[k:]
                        sel.modify(s, selectors.EVENT_WRITE, key.data)
                    continue
            if ev & selectors.EVENT_WRITE:
                if port == SOURCE:
                    s.send(src)
                else:
                    data = pend.pop(s)
                    k = s.send(data)
                    if k < len(data):
                        pend[s] = data[k:]
                    else:
                        sel.modify(s, selectors.EVENT_READ, key.data)
        except BlockingIOError:
            pass
        except OSError:
            close(s)
"""


def start_server(ns, lifetime_s):
    proc = ns.popen([sys.executable, "-c", SERVER, PEER_IP, "%.0f" % lifetime_s],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
    r, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline() if r else ""
    if not line.startswith("SERVER-READY"):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise BenchError("the Linux TCP server did not start: %s" % (err or line).strip())
    return proc


# ---------------------------------------------------------------- the stack

PROF_PY = os.path.join(HERE, "tcpprof.py")
SOCK_APP = os.path.join(HERE, "sock_services.py")
PROFILE_TOP = 20


class StackProc(er.StackProc):
    def __init__(self, ns, mpy, settings=None, profile=False, app=None):
        args = ["--ip", PEER_IP, "--host-ip", HOST_IP, "--prefix", str(PREFIX_LEN)]
        if app is not None:
            args += ["--app", app]
        zcrun.RunPy.__init__(self, ns, mpy, args=args, settings=settings)
        self.app = app
        if profile:
            self.script = PROF_PY

    def start(self):
        er.StackProc.start(self)
        if self.app is not None:
            # the program's servers listen once it printed so (bounded)
            self.next_line(lambda s: s.startswith("SERVICES UP"), 10, "SERVICES UP")
        return self

    def profile_since(self, mark):
        """The JSON of the first PROFILE line (tools/bench/tcpprof.py) after
        the first `mark` lines of other_stdout: what the stack did from the
        snapshot before a case to the first one after it."""
        for line in self.other_stdout[mark:]:
            if line.startswith("PROFILE "):
                return json.loads(line[len("PROFILE "):])
        return None


def profile_table(prof, segments, unit="segment"):
    """The top functions by exclusive time, per segment (or per `unit`: the
    cps case counts per connection; the keys keep their _seg names)."""
    funcs = prof["funcs"]
    total = sum(v[0] for v in funcs.values())
    rows = sorted(funcs.items(), key=lambda kv: -kv[1][0])[:PROFILE_TOP]
    return {"unit": unit, "segments": segments, "total_us": total,
            "us_per_segment": round(total / segments, 2) if segments else None,
            "wrapped_calls_per_segment": round(sum(v[1] for v in funcs.values()) / segments, 1)
            if segments else None,
            "wrapper_overhead_us": {"inner": round(prof["inner_ov_us"], 3),
                                    "outer": round(prof["outer_ov_us"], 3)},
            "top": [{"func": k, "excl_us_per_seg": round(v[0] / segments, 2),
                     "incl_us_per_seg": round(v[2] / segments, 2),
                     "calls_per_seg": round(v[1] / segments, 2),
                     "share": round(v[0] / total, 3) if total else None}
                    for k, v in rows]}


# ---------------------------------------------------------------- clients

def _sock(t, timeout):
    s = t["host_ns"].socket(socket.AF_INET, socket.SOCK_STREAM, device=t["dev"])
    s.settimeout(timeout)
    return s


def _check_deadline(deadline):
    if time.monotonic() > deadline:
        raise TimeLimit()


def bulk_in(t, nbytes, timeout, deadline):
    data = memoryview(os.urandom(CHUNK))
    s = _sock(t, timeout)
    try:
        t0 = time.perf_counter()
        s.connect((PEER_IP, t["ports"]["discard"]))
        left = nbytes
        while left > 0:
            _check_deadline(deadline)
            k = min(left, CHUNK)
            s.sendall(data[:k])
            left -= k
        s.shutdown(socket.SHUT_WR)
        # the server's FIN: it read everything up to ours
        for _ in range(1000):
            b = s.recv(4096)
            if not b:
                break
            _check_deadline(deadline)
        else:
            raise CaseError("the discard server sent data")
        t1 = time.perf_counter()
    finally:
        s.close()
    return nbytes, t1 - t0


def bulk_out(t, nbytes, timeout, deadline):
    buf = bytearray(CHUNK)
    s = _sock(t, timeout)
    got = 0
    try:
        t0 = time.perf_counter()
        s.connect((PEER_IP, t["ports"]["source"]))
        n = 0
        while got < nbytes:
            n += 1
            if not n & 63:
                _check_deadline(deadline)
            k = s.recv_into(buf, min(CHUNK, nbytes - got))
            if k == 0:
                raise CaseError("the source closed after %d bytes" % got)
            got += k
        t1 = time.perf_counter()
    finally:
        s.close()
    return got, t1 - t0


def echo_1(t, count, warmup, timeout, deadline):
    s = _sock(t, timeout)
    samples = []
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((PEER_IP, t["ports"]["echo"]))
        buf = bytearray(16)
        for i in range(warmup + count):
            if not i & 63:
                _check_deadline(deadline)
            b = bytes((i & 0xFF,))
            t0 = time.perf_counter_ns()
            s.send(b)
            k = s.recv_into(buf)
            t1 = time.perf_counter_ns()
            if k != 1 or buf[0] != b[0]:
                raise CaseError("echo %d: got %r" % (i, bytes(buf[:k])))
            if i >= warmup:
                samples.append(t1 - t0)
    finally:
        s.close()
    return samples


def cps(t, conns, timeout, deadline):
    """Seconds for `conns` connections, and each one's time (ns) from
    socket() to close()."""
    buf = bytearray(16)
    each = []
    t0 = time.perf_counter()
    for i in range(conns):
        if not i & 15:
            _check_deadline(deadline)
        c0 = time.perf_counter_ns()
        s = _sock(t, timeout)
        try:
            s.connect((PEER_IP, t["ports"]["echo"]))
            s.send(b"x")
            k = s.recv_into(buf)
            if k != 1 or buf[0] != 0x78:
                raise CaseError("connection %d: got %r" % (i, bytes(buf[:k])))
        finally:
            s.close()
        each.append(time.perf_counter_ns() - c0)
    return time.perf_counter() - t0, each


def summarize_rtt(samples):
    s = sorted(samples)
    ms = lambda v: round(v / 1e6, 4)  # noqa: E731
    out = {"samples": len(s)}
    if s:
        out.update({"p50_ms": ms(pct(s, 50)), "p90_ms": ms(pct(s, 90)),
                    "p99_ms": ms(pct(s, 99)), "mean_ms": ms(sum(s) / len(s)),
                    "min_ms": ms(s[0]), "max_ms": ms(s[-1])})
    return out


# ---------------------------------------------------------------- cases

def zc_before(t):
    if t.get("stack") is None:
        return None
    return t["stack"].snapshot()


def zc_after(t, res, before, delivered):
    """The stack's counters, copy tally and pool after a case."""
    stack = t.get("stack")
    if stack is None:
        return
    after = stack.snapshot_until(lambda s: zcrun.pool_at_baseline(s["pool"])
                                 and not s.get("tcp", {}).get("pcbs"),
                                 BASELINE_WAIT_S, 0.05)
    if before is not None:
        copied = after.get("copied", 0) - before.get("copied", 0)
        res["copied_bytes"] = copied
        res["copied_per_byte"] = round(copied / delivered, 6) if delivered else None
        res["counters_delta"] = counter_delta(before, after)
        res["driver_delta"] = driver_delta(before, after)
    res["pool_at_baseline"] = zcrun.pool_at_baseline(after["pool"])
    res["tcp_after"] = after.get("tcp")


def run_bulk(name, t, a, deadline):
    fn = bulk_in if name == "bulk_in" else bulk_out
    before = zc_before(t)
    c0 = proc_cpu_s(t["server_pid"])
    u0 = time.thread_time()
    want = a.bulk_mb * (a.linux_bulk_factor if t.get("stack") is None else 1)
    nbytes, secs = fn(t, int(want * MB), a.timeout, deadline)
    u1 = time.thread_time()
    c1 = proc_cpu_s(t["server_pid"])
    mb = nbytes / MB
    res = {"bytes": nbytes, "seconds": round(secs, 4), "mb_per_s": round(mb / secs, 2),
           "server_cpu_s": round(c1 - c0, 3),
           "server_cpu_s_per_mb": round((c1 - c0) / mb, 5),
           "client_cpu_s_per_mb": round((u1 - u0) / mb, 5)}
    mark = len(t["stack"].other_stdout) if t.get("profile") else 0
    zc_after(t, res, before, nbytes)
    if t.get("profile"):
        segs = res.get("counters_delta", {}).get("tcp_rx" if name == "bulk_in" else "tcp_tx", 0)
        prof = t["stack"].profile_since(mark)
        res["profile"] = profile_table(prof, segs) if prof else None
    return res


def run_echo(t, a, deadline):
    before = zc_before(t)
    samples = echo_1(t, a.echo_count, a.warmup, a.timeout, deadline)
    res = summarize_rtt(samples)
    zc_after(t, res, before, 2 * (a.echo_count + a.warmup))
    return res


def run_cps(t, a, deadline):
    before = zc_before(t)
    c0 = proc_cpu_s(t["server_pid"])
    secs, each = cps(t, a.conns, a.timeout, deadline)
    c1 = proc_cpu_s(t["server_pid"])
    res = {"connections": a.conns, "seconds": round(secs, 4),
           "per_s": round(a.conns / secs, 1),
           "server_cpu_ms_per_conn": round((c1 - c0) * 1000 / a.conns, 4)}
    res["each"] = summarize_rtt(each)    # one connection, socket() to close()
    del res["each"]["samples"]
    mark = len(t["stack"].other_stdout) if t.get("profile") else 0
    zc_after(t, res, before, 2 * a.conns)
    if t.get("profile"):
        prof = t["stack"].profile_since(mark)
        res["profile"] = profile_table(prof, a.conns, "connection") if prof else None
    return res


def run_idle_heap(t, a, deadline):
    stack = t.get("stack")
    if stack is None:
        return None             # no comparable figure for the kernel
    snap0 = stack.snapshot_until(lambda s: not s.get("tcp", {}).get("pcbs"), BASELINE_WAIT_S, 0.05)
    socks = []
    res = {"connections": a.idle_conns}
    try:
        for i in range(a.idle_conns):
            _check_deadline(deadline)
            s = _sock(t, a.timeout)
            socks.append(s)
            s.connect((PEER_IP, t["ports"]["echo"]))
        # ESTABLISHED at the stack too (the handshake's last ACK arrived)
        snap1 = stack.snapshot_until(
            lambda s: s.get("tcp", {}).get("states", {}).get("ESTABLISHED") == a.idle_conns,
            BASELINE_WAIT_S, 0.05)
        est = snap1.get("tcp", {}).get("states", {}).get("ESTABLISHED")
        if est != a.idle_conns:
            raise CaseError("%s of %d connections ESTABLISHED at the stack" % (est, a.idle_conns))
    finally:
        for s in socks:
            s.close()
    h0, h1 = snap0["heap"]["alloc"], snap1["heap"]["alloc"]
    res.update({"heap_before": h0, "heap_with_conns": h1,
                "heap_bytes_per_conn": round((h1 - h0) / a.idle_conns, 1)})
    after = stack.snapshot_until(lambda s: zcrun.pool_at_baseline(s["pool"])
                                 and not s.get("tcp", {}).get("pcbs"), BASELINE_WAIT_S, 0.05)
    res["heap_after_close"] = after["heap"]["alloc"]
    res["pool_at_baseline"] = zcrun.pool_at_baseline(after["pool"])
    res["tcp_after"] = after.get("tcp")
    return res


def run_case(name, t, a, deadline):
    if name in ("bulk_in", "bulk_out"):
        return run_bulk(name, t, a, deadline)
    if name == "echo_1":
        return run_echo(t, a, deadline)
    if name == "cps":
        return run_cps(t, a, deadline)
    return run_idle_heap(t, a, deadline)


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bulk-mb", type=float, default=64,
                    help="MB (10^6 bytes) per bulk case for zcstack (64)")
    ap.add_argument("--linux-bulk-factor", type=float, default=8,
                    help="Linux moves this many times --bulk-mb (8): it is ~40x faster, and "
                         "its CPU time needs more than a few 10 ms clock ticks")
    ap.add_argument("--echo-count", type=int, default=5000, help="timed 1-byte echoes (5000)")
    ap.add_argument("--warmup", type=int, default=50, help="untimed echoes first (50)")
    ap.add_argument("--conns", type=int, default=2000, help="connections of the cps case (2000)")
    ap.add_argument("--idle-conns", type=int, default=24,
                    help="idle connections of idle_heap (24; above 28 the stack's "
                         "TCP_MAX_PCBS is raised to fit)")
    ap.add_argument("--timeout", type=float, default=5.0, help="per socket operation, s (5)")
    ap.add_argument("--time-limit", type=float, default=300.0,
                    help="bound on the whole measurement, s (300)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="JSON output file (%(default)s)")
    ap.add_argument("--micropython", default=os.environ.get("ZC_MICROPYTHON", er.DEFAULT_MPY),
                    help="MicroPython binary (%(default)s)")
    ap.add_argument("--profile", action="store_true",
                    help="the stack under tools/bench/tcpprof.py (every stack function timed "
                         "with ticks_us); the bulk and cps cases, zcstack only, with the top "
                         "costs per segment (tcp_rx segments in, tcp_tx out) or per "
                         "connection; the speeds are then not the stack's")
    ap.add_argument("--api", choices=("raw", "socket"), default="raw",
                    help="the stack's services: the raw API's (run.py's own, ports 7/9/19) "
                         "or an asyncio program on the socket API "
                         "(tools/bench/sock_services.py under run.py --app, ports 1007/1009/1019)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated subset of: " + ", ".join(CASES))
    a = ap.parse_args(argv)
    wanted = [w for w in a.cases.split(",") if w]
    bad = sorted(set(wanted) - set(CASES))
    if bad:
        ap.error("unknown case(s): " + ", ".join(bad))
    a.cases = [c for c in CASES if c in wanted]
    if a.profile:
        a.cases = [c for c in a.cases if c.startswith("bulk_") or c == "cps"]
    if not a.cases:
        ap.error("no case selected")
    if not (0.001 <= a.bulk_mb <= 100000 and 1 <= a.linux_bulk_factor <= 1000):
        ap.error("--bulk-mb must be 0.001..100000, --linux-bulk-factor 1..1000")
    if not (1 <= a.echo_count <= 10 ** 7 and 0 <= a.warmup <= 10 ** 6):
        ap.error("--echo-count must be 1..10^7, --warmup 0..10^6")
    if not (1 <= a.conns <= 20000 and 1 <= a.idle_conns <= 1000):
        ap.error("--conns must be 1..20000, --idle-conns 1..1000")
    if not (0.1 <= a.timeout <= 60) or not (1 <= a.time_limit <= 86400):
        ap.error("--timeout must be 0.1..60 s, --time-limit 1..86400 s")
    return a


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def make_veth(hns, pns):
    sh(["ip", "-n", hns.name, "link", "add", VETH_HOST, "type", "veth",
        "peer", "name", VETH_PEER, "netns", pns.name])
    sh(["ip", "-n", hns.name, "addr", "add", "%s/%d" % (HOST_IP, PREFIX_LEN), "dev", VETH_HOST])
    sh(["ip", "-n", pns.name, "addr", "add", "%s/%d" % (PEER_IP, PREFIX_LEN), "dev", VETH_PEER])
    sh(["ip", "-n", hns.name, "link", "set", VETH_HOST, "up"])
    sh(["ip", "-n", pns.name, "link", "set", VETH_PEER, "up"])
    wait_addr(hns, VETH_HOST, HOST_IP)
    wait_addr(pns, VETH_PEER, PEER_IP)
    check_route(hns, PEER_IP, VETH_HOST)


def fill_ratios(case):
    z, lx = case.get("zcstack") or {}, case.get("linux") or {}
    for k in ("mb_per_s", "server_cpu_s_per_mb", "p50_ms", "p99_ms", "per_s"):
        if k in z or k in lx:
            case["ratio_" + k] = ratio(z.get(k), lx.get(k))


def verdicts(result):
    got = {c["case"]: c for c in result["cases"]}
    z = lambda name, k: (got.get(name, {}).get("zcstack") or {}).get(k)  # noqa: E731
    out = {}
    for name in ("bulk_in", "bulk_out"):
        v = z(name, "mb_per_s")
        out[name + "_mb_per_s"] = {"value": v, "target": TARGETS["bulk_mb_per_s"],
                                   "met": v is not None and v >= TARGETS["bulk_mb_per_s"]}
    v = z("cps", "per_s")
    out["cps"] = {"value": v, "target": TARGETS["cps"], "met": v is not None and v >= TARGETS["cps"]}
    v = z("echo_1", "p50_ms")
    out["echo_1_p50_ms"] = {"value": v, "target": TARGETS["echo_1_p50_ms"],
                            "met": v is not None and v <= TARGETS["echo_1_p50_ms"]}
    v = z("idle_heap", "heap_bytes_per_conn")
    out["heap_per_idle_conn_bytes"] = {"value": v, "width": result["machine"].get("width"),
                                       "target_32bit": TARGETS["heap_per_idle_conn_bytes_32bit"],
                                       "met": v is not None
                                       and v <= TARGETS["heap_per_idle_conn_bytes_32bit"]}
    cp = [z(n, "copied_per_byte") for n in ("bulk_in", "bulk_out", "echo_1", "cps") if n in got]
    cp = [c for c in cp if c is not None]
    out["copied_per_byte"] = {"value": max(cp) if cp else None, "target": 0.0,
                              "met": bool(cp) and max(cp) == 0}
    return out


def mpy_width(mpy):
    """32 or 64: the ELF class of the MicroPython binary."""
    try:
        with open(mpy, "rb") as f:
            h = f.read(5)
        return 32 if h[4] == 1 else 64
    except (OSError, IndexError):
        return None


ROWS = (  # README table: label, case, key, scale, digits, target
    ("bulk Linux → stack (discard, 9), MB/s", "bulk_in", "mb_per_s", 1, 1, "≥ 50"),
    ("bulk stack → Linux (source, 19), MB/s", "bulk_out", "mb_per_s", 1, 1, "≥ 50"),
    ("1-byte echo RTT p50 (echo, 7), ms", "echo_1", "p50_ms", 1, 3, "≤ 0.15"),
    ("1-byte echo RTT p99, ms", "echo_1", "p99_ms", 1, 3, ""),
    ("connections/s (connect, 1 byte each way, close)", "cps", "per_s", 1, 0, "≥ 3,000"),
    ("server CPU per connection, ms", "cps", "server_cpu_ms_per_conn", 1, 3, ""),
    ("server CPU s per MB, bulk in", "bulk_in", "server_cpu_s_per_mb", 1, 4, ""),
    ("server CPU s per MB, bulk out", "bulk_out", "server_cpu_s_per_mb", 1, 4, ""),
    ("payload bytes copied per delivered byte (all cases)", None, "copied", 1, 0, "0"),
    ("heap bytes per idle connection", "idle_heap", "heap_bytes_per_conn", 1, 0, "≤ 1,536 (32-bit)"),
)


def table(paths):
    """The README's table of TCP figures, from bench JSON files (one per width)."""
    reps = [json.load(open(p)) for p in paths]
    head = "| figure |"
    rule = "|---|"
    for r in reps:
        w = r["machine"].get("width")
        head += " zcstack %s-bit | Linux | ratio |" % w
        rule += "---:|---:|---:|"
    print(head + " target |")
    print(rule + "---|")

    def fmt(v, digits):
        if v is None:
            return "n/a"
        return ("{:,.%df}" % digits).format(v)
    for label, case, key, _, digits, target in ROWS:
        line = "| %s |" % label
        for r in reps:
            got = {c["case"]: c for c in r["cases"]}
            if case is None:        # the most any zcstack case copied
                vals = [(got[n].get("zcstack") or {}).get("copied_per_byte")
                        for n in ("bulk_in", "bulk_out", "echo_1", "cps") if n in got]
                vals = [v for v in vals if v is not None]
                z, lx = (max(vals) if vals else None), None
            else:
                c = got.get(case, {})
                z = (c.get("zcstack") or {}).get(key)
                lx = (c.get("linux") or {}).get(key)
            line += " %s | %s | %s |" % (fmt(z, digits), fmt(lx, digits),
                                         fmt(ratio(z, lx), 3) if lx else "")
        print(line + " %s |" % target)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--table"]:
        return table(argv[1:])
    a = parse_args(argv)
    if os.geteuid() != 0:
        log("needs root (network namespaces, TAP)")
        return 2
    if not os.path.exists("/dev/net/tun"):
        log("needs /dev/net/tun")
        return 2
    handled = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    old_handlers = {s: signal.getsignal(s) for s in handled}
    for s in handled:
        signal.signal(s, _on_signal)

    rnd = er.secrets.token_hex(3)
    zns = NetNS("zcb-" + rnd, run_timeout=NS_RUN_TIMEOUT_S)
    hns = NetNS("zcbh-" + rnd, run_timeout=NS_RUN_TIMEOUT_S)
    pns = NetNS("zcbp-" + rnd, run_timeout=NS_RUN_TIMEOUT_S)
    stack = server = None
    machine = er.machine_info(a.micropython)
    machine["width"] = mpy_width(a.micropython)
    machine["cpu"] = cpu_model()
    machine["loadavg_start"] = os.getloadavg()    # other work on the machine skews the figures
    settings = {}
    if a.idle_conns > 28:
        settings["TCP_MAX_PCBS"] = a.idle_conns + 8
    result = {
        "tool": "tools/bench/tcp_bench.py",
        "api": a.api,
        "profiled": a.profile,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_head": er.git_head(),
        "machine": machine,
        "params": {"bulk_mb": a.bulk_mb, "linux_bulk_factor": a.linux_bulk_factor, "mb": "10^6 bytes", "echo_count": a.echo_count,
                   "warmup": a.warmup, "conns": a.conns, "idle_conns": a.idle_conns,
                   "timeout_s": a.timeout, "time_limit_s": a.time_limit,
                   "percentiles": "nearest rank", "host_ip": HOST_IP, "peer_ip": PEER_IP,
                   "ports": {"discard": DISCARD_PORT, "source": SOURCE_PORT, "echo": ECHO_PORT},
                   "stack_settings": settings},
        "targets": TARGETS,
        "references": REFERENCES,
        "cases": [],
        "complete": False,
    }
    rc = 2
    try:
        t_start = time.monotonic()
        deadline = t_start + a.time_limit
        zns.make()
        stack = StackProc(zns, a.micropython, settings, profile=a.profile,
                          app=SOCK_APP if a.api == "socket" else None).start()
        check_route(zns, PEER_IP, TAP)
        hns.make()
        pns.make()
        make_veth(hns, pns)
        server = start_server(pns, a.time_limit + SERVER_SLACK_S)
        result["stack_ready"] = stack.ready
        targets = {
            "linux": {"host_ns": hns, "dev": VETH_HOST, "server_pid": server.pid,
                      "ports": RAW_PORTS},
            "zcstack": {"host_ns": zns, "dev": TAP, "server_pid": stack.ready["pid"],
                        "stack": stack, "profile": a.profile,
                        "ports": SOCK_PORTS if a.api == "socket" else RAW_PORTS},
        }
        tnames = ("zcstack",) if a.profile else ("linux", "zcstack")
        rc = 0
        for name in a.cases:
            case = {"case": name}
            result["cases"].append(case)
            for tname in tnames:
                log("%s %s" % (name, tname))
                try:
                    case[tname] = run_case(name, targets[tname], a, deadline)
                except TimeLimit:
                    case[tname] = {"error": "time limit"}
                    rc = 1
                    break
                except (CaseError, OSError) as e:     # socket.timeout is an OSError
                    case[tname] = {"error": "%s: %s" % (type(e).__name__, e)}
                    log("%s %s failed: %s" % (name, tname, e))
                    rc = 1
            fill_ratios(case)
            if rc and time.monotonic() > deadline:
                log("time limit of %.0f s reached; stopping early" % a.time_limit)
                break
        result["complete"] = rc == 0
        result["verdicts"] = verdicts(result)
        result["elapsed_s"] = round(time.monotonic() - t_start, 1)
        machine["loadavg_end"] = os.getloadavg()
    except KeyboardInterrupt as e:
        log("interrupted (%s); cleaning up" % (e or "Ctrl-C"))
        result["error"] = "interrupted"
        rc = 130
    except (BenchError, NetnsError, OSError, subprocess.SubprocessError) as e:
        log("failed: %s" % e)
        result["error"] = str(e)
        rc = 2
    finally:
        for s in handled:
            signal.signal(s, signal.SIG_IGN)
        try:
            if stack is not None:
                result["stack_exit_status"] = stack.stop()
                if stack.stopped is not None and "pool" in stack.stopped:
                    result["stack_stopped_at_baseline"] = zcrun.pool_at_baseline(
                        stack.stopped["pool"])
        except Exception as e:  # cleanup must go on
            log("stopping tools/run.py: %s" % e)
        finally:
            er.teardown(stack, server, (zns, hns, pns), old_handlers)
    return er.write_report(result, a.out, rc)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform_machine()


def platform_machine():
    import platform
    return platform.machine()


if __name__ == "__main__":
    sys.exit(main())
