#!/usr/bin/env python3
"""Echo round-trip benchmark: zcstack on TAP beside the Linux kernel (CPython 3.11).

    tools/bench/echo_rtt.py [--count N] [--warmup N] [--timeout S] [--time-limit S]
                            [--out PATH] [--micropython PATH] [--cases LIST]

Measures ICMP echo (payload 56 and 1472 bytes) and UDP echo on port 7 (payload
64 and 1472 bytes) round-trip times, one request in flight at a time, with our
own client sockets (raw ICMP socket, connected UDP socket) and
time.perf_counter_ns. Two targets in the same run:

  zcstack  namespace `zcb-<rand>`: `ip netns exec` runs tools/run.py there; it
           creates TAP zc0 and puts 198.51.100.1/24 on the host side; the stack
           answers as 198.51.100.2.
  linux    namespaces `zcbh-<rand>` (198.51.100.1/24) and `zcbp-<rand>`
           (198.51.100.2/24) joined by a veth pair; a small Python UDP echo
           server (bounded lifetime) runs on port 7 in the peer namespace and
           the peer's kernel answers ICMP itself.

The client sockets are created with this thread inside the host-side namespace
(setns(2) through ctypes; CPython 3.11 has no os.setns) and bound to the
namespace's interface; a socket keeps its namespace after the thread switches
back. Nothing is sent outside the namespaces this tool creates, and all of them
are removed on every exit path (normal end, exception, Ctrl-C, SIGTERM/SIGHUP).
Every loop is bounded in count and time: a per-reply timeout (a reply that does
not come counts as a loss) and a total time limit.

Prints one JSON object to stdout and writes it to --out
(default build/bench/echo_rtt.json). Per case and target: p50/p90/p99/mean/
min/max in ms (percentiles by nearest rank over the received samples), sent,
received, losses; for zcstack also the counters delta over the measured
requests (SIGUSR1 JSON of tools/run.py), copied bytes per echoed payload byte
(its "copied" field) and the pool after the case (baseline or not); and the
ratios zcstack/linux for p50 and p99. Exit status 0 when every case ran to the
end (losses are data, not an error), 1 when the time limit cut it short, 2 when
the set-up failed.
"""
import argparse
import datetime
import json
import math
import os
import platform
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from netns import NetNS, NetnsError, sh  # noqa: E402  (tools/netns.py)
import zcrun  # noqa: E402  (tools/zcrun.py: the client side of run.py's protocol)
from zcrun import counter_delta, driver_delta  # noqa: E402

DEFAULT_MPY = os.path.join(ROOT, "build", "unix", "micropython")
DEFAULT_OUT = os.path.join(ROOT, "build", "bench", "echo_rtt.json")

# TEST-NET-2 (198.51.100.0/24) only: never the network of the machine's own uplink.
NET_PREFIX = "198.51.100."
HOST_IP = "198.51.100.1"
PEER_IP = "198.51.100.2"
PREFIX_LEN = 24
UDP_ECHO_PORT = 7
TAP = "zc0"
VETH_HOST = "zcbv0"
VETH_PEER = "zcbv1"

# All cases: (name, protocol, payload bytes).
CASES = (("icmp_56", "icmp", 56), ("icmp_1472", "icmp", 1472),
         ("udp_64", "udp", 64), ("udp_1472", "udp", 1472))

# From the issue: what zcstack aims at, and lwIP's figure on this machine.
TARGET_ICMP_P50_MS = 0.15
LWIP_REFERENCE_ICMP_MS = 0.08
TARGET_CASE = "icmp_56"

BASELINE_WAIT_S = 3.0
ECHO_SERVER_SLACK_S = 60
NS_RUN_TIMEOUT_S = 30

SOL_RAW = 255
ICMP_FILTER = 1
ICMP_ECHOREPLY = 0
ICMP_ECHO = 8


class BenchError(Exception):
    pass


class TimeLimit(Exception):
    pass


def log(msg):
    print("echo_rtt: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- namespaces

def check_route(ns, dst, dev):
    """The route to dst inside namespace ns leaves by dev, and the namespace
    has no default route (so nothing can go anywhere else)."""
    r = ns.run(["ip", "-4", "route", "get", dst], check=True)
    words = r.stdout.split()
    if "dev" not in words or words[words.index("dev") + 1] != dev:
        raise BenchError("in %s the route to %s is not via %s: %s"
                         % (ns.name, dst, dev, r.stdout.strip()))
    if ns.default_route():
        raise BenchError("namespace %s has a default route; refusing" % ns.name)


def wait_addr(ns, dev, ip, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = ns.run(["ip", "-o", "-4", "addr", "show", "dev", dev], check=False)
        if ip + "/" in r.stdout and "state DOWN" not in \
                ns.run(["ip", "-o", "link", "show", "dev", dev], check=False).stdout:
            return
        time.sleep(0.05)
    raise BenchError("%s in %s has no %s after %.0f s" % (dev, ns.name, ip, timeout))


# ---------------------------------------------------------------- zcstack process

class StackProc(zcrun.RunPy):
    """tools/run.py under `ip netns exec`, its stdout read by a thread."""

    error = BenchError
    stderr_tail_lines = 20

    def __init__(self, ns, mpy):
        super().__init__(ns, mpy, args=["--ip", PEER_IP, "--host-ip", HOST_IP,
                                        "--prefix", str(PREFIX_LEN)])

    def start(self):
        super().start()
        wait_addr(self.netns, TAP, HOST_IP)
        return self

    def snapshot_at_baseline(self):
        """Snapshots (bounded in time) until the pool is back at baseline."""
        return self.snapshot_until(pool_at_baseline, BASELINE_WAIT_S, 0.05)

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.request_stop()
            except BenchError as e:
                log(str(e))
        self.reap()
        return self.proc.returncode


def pool_at_baseline(snap):
    if "baseline" in snap:
        return bool(snap["baseline"])
    p = snap["pool"]
    return p["free"] + p["held"][0] == p["total"]


# ---------------------------------------------------------------- the Linux reference

ECHO_SERVER = r"""
import socket, sys, time
ip, port, life = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
s.settimeout(0.5)
buf = bytearray(65536)
end = time.monotonic() + life
print("ECHO-READY", flush=True)
while time.monotonic() < end:
    try:
        n, addr = s.recvfrom_into(buf)
    except socket.timeout:
        continue
    s.sendto(memoryview(buf)[:n], addr)
"""


def start_echo_server(ns, lifetime_s):
    proc = ns.popen([sys.executable, "-c", ECHO_SERVER, PEER_IP,
                     str(UDP_ECHO_PORT), "%.0f" % lifetime_s],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
    r, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline() if r else ""
    if not line.startswith("ECHO-READY"):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise BenchError("the UDP echo server did not start: %s" % (err or line).strip())
    return proc


# ---------------------------------------------------------------- clients

def inet_csum(b):
    if len(b) & 1:
        b = bytes(b) + b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Run:
    """Samples of one case against one target."""

    def __init__(self):
        self.samples = []
        self.sent = 0
        self.losses = 0
        self.bad = 0          # replies that matched but had wrong content/checksum
        self.stale = 0        # late replies to an earlier request, discarded


def icmp_client(sock, dst, payload, count, timeout_s, deadline, run):
    ident = secrets.randbits(16)
    body = bytearray(8 + payload)
    body[8:] = os.urandom(payload)
    buf = bytearray(65536)
    sock.settimeout(timeout_s)
    for seq in range(count):
        if time.monotonic() > deadline:
            raise TimeLimit()
        seq16 = seq & 0xFFFF
        struct.pack_into("!BBHHH", body, 0, ICMP_ECHO, 0, 0, ident, seq16)
        struct.pack_into("!H", body, 2, inet_csum(body))
        t0 = time.perf_counter_ns()
        sock.send(body)
        run.sent += 1
        t_end = t0 + int(timeout_s * 1e9)
        while True:
            try:
                n = sock.recv_into(buf)
            except socket.timeout:
                run.losses += 1
                break
            t1 = time.perf_counter_ns()
            ihl = (buf[0] & 0x0F) * 4
            if n >= ihl + 8:
                typ, code, _, rid, rseq = struct.unpack_from("!BBHHH", buf, ihl)
                if typ == ICMP_ECHOREPLY and rid == ident:
                    if rseq == seq16:
                        reply = memoryview(buf)[ihl:n]
                        if reply[8:] == body[8:] and inet_csum(reply) == 0:
                            run.samples.append(t1 - t0)
                        else:
                            run.bad += 1
                        break
                    run.stale += 1
            left = t_end - time.perf_counter_ns()
            if left <= 0:
                run.losses += 1
                break
            sock.settimeout(left / 1e9)
        sock.settimeout(timeout_s)


def udp_client(sock, payload, count, timeout_s, deadline, run):
    body = bytearray(os.urandom(payload))
    buf = bytearray(65536)
    sock.settimeout(timeout_s)
    # The first 4 bytes carry a sequence number (plus a random tag), so a late
    # reply to an earlier request is recognised and not timed.
    tag = secrets.randbits(32)
    for seq in range(count):
        if time.monotonic() > deadline:
            raise TimeLimit()
        struct.pack_into("!I", body, 0, (tag + seq) & 0xFFFFFFFF)
        t0 = time.perf_counter_ns()
        sock.send(body)
        run.sent += 1
        t_end = t0 + int(timeout_s * 1e9)
        while True:
            try:
                n = sock.recv_into(buf)
            except socket.timeout:
                run.losses += 1
                break
            except ConnectionRefusedError:   # ICMP port unreachable came back
                run.losses += 1
                break
            t1 = time.perf_counter_ns()
            if n == payload and buf[:4] == body[:4]:
                if memoryview(buf)[:n] == body:
                    run.samples.append(t1 - t0)
                else:
                    run.bad += 1
                break
            run.stale += 1
            left = t_end - time.perf_counter_ns()
            if left <= 0:
                run.losses += 1
                break
            sock.settimeout(left / 1e9)
        sock.settimeout(timeout_s)


def measure(target, proto, payload, count, warmup, timeout_s, deadline, w, r):
    """Warm-up into Run w, then `count` timed requests into Run r (partial
    results stay in them when the time limit cuts the case short)."""
    ns, dev = target["host_ns"], target["dev"]
    if proto == "icmp":
        sock = ns.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP, device=dev)
        # Only echo replies reach this socket.
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~(1 << ICMP_ECHOREPLY) & 0xFFFFFFFF))
        sock.connect((PEER_IP, 0))
        fn = lambda n, run: icmp_client(sock, PEER_IP, payload, n, timeout_s, deadline, run)  # noqa: E731
    else:
        sock = ns.socket(socket.AF_INET, socket.SOCK_DGRAM, device=dev)
        sock.bind((HOST_IP, 0))
        sock.connect((PEER_IP, UDP_ECHO_PORT))
        fn = lambda n, run: udp_client(sock, payload, n, timeout_s, deadline, run)  # noqa: E731
    try:
        fn(warmup, w)
        target["before_case"] = target["snapshot"]() if target.get("snapshot") else None
        fn(count, r)
    finally:
        sock.close()


# ---------------------------------------------------------------- statistics

def pct(sorted_ns, p):
    """Nearest-rank percentile (ns) of a sorted list."""
    k = max(1, math.ceil(p / 100.0 * len(sorted_ns)))
    return sorted_ns[k - 1]


def summarize(run, count, payload):
    s = sorted(run.samples)
    ms = lambda v: round(v / 1e6, 4)  # noqa: E731
    out = {"sent": run.sent, "received": len(s), "losses": run.losses,
           "bad_replies": run.bad, "stale_replies": run.stale,
           "complete": run.sent == count, "payload_bytes": payload}
    if s:
        out.update({"p50_ms": ms(pct(s, 50)), "p90_ms": ms(pct(s, 90)),
                    "p99_ms": ms(pct(s, 99)), "mean_ms": ms(sum(s) / len(s)),
                    "min_ms": ms(s[0]), "max_ms": ms(s[-1])})
    else:
        out.update({k: None for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms")})
    return out


def ratio(a, b):
    if a is None or not b:
        return None
    return round(a / b, 3)


# ---------------------------------------------------------------- main

def machine_info(mpy):
    return {"nproc": os.cpu_count(), "uname_r": platform.release(),
            "machine": platform.machine(), "python": platform.python_version(),
            "micropython": os.path.abspath(mpy),
            "micropython_mtime": (datetime.datetime.fromtimestamp(
                os.path.getmtime(mpy), datetime.timezone.utc).isoformat(timespec="seconds")
                if os.path.exists(mpy) else None)}


def git_head():
    try:
        r = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False, timeout=5)
        return r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="timed requests per case (1000)")
    ap.add_argument("--warmup", type=int, default=50, help="untimed requests first (50)")
    ap.add_argument("--timeout", type=float, default=1.0, help="per-reply timeout, s (1.0)")
    ap.add_argument("--time-limit", type=float, default=600.0,
                    help="bound on the whole measurement, s (600)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="JSON output file (%(default)s)")
    ap.add_argument("--micropython", default=os.environ.get("ZC_MICROPYTHON", DEFAULT_MPY),
                    help="MicroPython binary (%(default)s)")
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES),
                    help="comma-separated subset of: " + ", ".join(c[0] for c in CASES))
    a = ap.parse_args(argv)
    wanted = [w for w in a.cases.split(",") if w]
    bad = sorted(set(wanted) - set(c[0] for c in CASES))
    if bad:
        ap.error("unknown case(s): " + ", ".join(bad))
    a.cases = [c for c in CASES if c[0] in wanted]
    if not a.cases:
        ap.error("no case selected")
    if not (1 <= a.count <= 1000000) or not (0 <= a.warmup <= 100000):
        ap.error("--count must be 1..1000000, --warmup 0..100000")
    if not (0.01 <= a.timeout <= 10) or not (1 <= a.time_limit <= 86400):
        ap.error("--timeout must be 0.01..10 s, --time-limit 1..86400 s")
    return a


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        log("needs root (network namespaces, TAP, raw sockets)")
        return 2
    if not os.path.exists("/dev/net/tun"):
        log("needs /dev/net/tun")
        return 2
    assert HOST_IP.startswith(NET_PREFIX) and PEER_IP.startswith(NET_PREFIX)
    handled = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    old_handlers = {s: signal.getsignal(s) for s in handled}
    for s in handled:   # SIGINT too: a background job inherits it ignored
        signal.signal(s, _on_signal)

    rnd = secrets.token_hex(3)
    zns = NetNS("zcb-" + rnd, run_timeout=NS_RUN_TIMEOUT_S)
    hns = NetNS("zcbh-" + rnd, run_timeout=NS_RUN_TIMEOUT_S)
    pns = NetNS("zcbp-" + rnd, run_timeout=NS_RUN_TIMEOUT_S)
    stack = None
    echo = None
    result = {
        "tool": "tools/bench/echo_rtt.py",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_head": git_head(),
        "machine": machine_info(a.micropython),
        "params": {"count": a.count, "warmup": a.warmup, "timeout_s": a.timeout,
                   "time_limit_s": a.time_limit, "percentiles": "nearest rank",
                   "in_flight": 1, "host_ip": HOST_IP, "peer_ip": PEER_IP,
                   "udp_port": UDP_ECHO_PORT},
        "target_icmp_p50_ms": TARGET_ICMP_P50_MS,
        "lwip_reference_icmp_ms": LWIP_REFERENCE_ICMP_MS,
        "target_case": TARGET_CASE,
        "meets_target": False,
        "cases": [],
        "complete": False,
    }
    rc = 2
    try:
        t_start = time.monotonic()
        deadline = t_start + a.time_limit
        # zcstack: run.py creates zc0 in zns and configures its host side.
        zns.make()
        stack = StackProc(zns, a.micropython).start()
        check_route(zns, PEER_IP, TAP)
        # Linux reference: veth between hns and pns.
        hns.make()
        pns.make()
        sh(["ip", "-n", hns.name, "link", "add", VETH_HOST, "type", "veth",
            "peer", "name", VETH_PEER, "netns", pns.name])
        sh(["ip", "-n", hns.name, "addr", "add", "%s/%d" % (HOST_IP, PREFIX_LEN), "dev", VETH_HOST])
        sh(["ip", "-n", pns.name, "addr", "add", "%s/%d" % (PEER_IP, PREFIX_LEN), "dev", VETH_PEER])
        sh(["ip", "-n", hns.name, "link", "set", VETH_HOST, "up"])
        sh(["ip", "-n", pns.name, "link", "set", VETH_PEER, "up"])
        wait_addr(hns, VETH_HOST, HOST_IP)
        wait_addr(pns, VETH_PEER, PEER_IP)
        check_route(hns, PEER_IP, VETH_HOST)
        echo = start_echo_server(pns, a.time_limit + ECHO_SERVER_SLACK_S)
        result["stack_ready"] = stack.ready

        targets = {
            "linux": {"host_ns": hns, "dev": VETH_HOST},
            "zcstack": {"host_ns": zns, "dev": TAP, "snapshot": stack.snapshot},
        }
        rc = 0
        for name, proto, payload in a.cases:
            case = {"case": name, "proto": proto, "payload_bytes": payload}
            result["cases"].append(case)
            for tname in ("linux", "zcstack"):
                t = targets[tname]
                log("%s %s: %d warm-up + %d timed" % (name, tname, a.warmup, a.count))
                w, r = Run(), Run()
                try:
                    measure(t, proto, payload, a.count, a.warmup, a.timeout, deadline, w, r)
                except TimeLimit:
                    rc = 1
                res = summarize(r, a.count, payload)
                res["warmup_losses"] = w.losses
                if tname == "zcstack":
                    after = stack.snapshot_at_baseline()
                    before = t.pop("before_case", None)
                    if before is not None:
                        d, drv = counter_delta(before, after), driver_delta(before, after)
                        copied = after.get("copied", 0) - before.get("copied", 0)
                        echoed = len(r.samples) * payload
                        res["counters_delta"] = d
                        res["driver_delta"] = drv
                        res["copied_bytes"] = copied
                        res["copied_per_payload_byte"] = (round(copied / echoed, 6)
                                                          if echoed else None)
                    res["pool_after"] = after["pool"]
                    res["pool_at_baseline"] = pool_at_baseline(after)
                case[tname] = res
                if rc:
                    break
            z, lx = case.get("zcstack", {}), case.get("linux", {})
            case["ratio_p50"] = ratio(z.get("p50_ms"), lx.get("p50_ms"))
            case["ratio_p99"] = ratio(z.get("p99_ms"), lx.get("p99_ms"))
            if rc:
                log("time limit of %.0f s reached; stopping early" % a.time_limit)
                break
        result["complete"] = rc == 0
        for c in result["cases"]:
            if c["case"] == TARGET_CASE:
                p50 = c.get("zcstack", {}).get("p50_ms")
                result["zcstack_icmp_p50_ms"] = p50
                result["meets_target"] = p50 is not None and p50 <= TARGET_ICMP_P50_MS
        result["elapsed_s"] = round(time.monotonic() - t_start, 1)
    except KeyboardInterrupt as e:
        log("interrupted (%s); cleaning up" % (e or "Ctrl-C"))
        result["error"] = "interrupted"
        rc = 130
    except (BenchError, NetnsError, OSError, subprocess.SubprocessError) as e:
        log("failed: %s" % e)
        result["error"] = str(e)
        rc = 2
    finally:
        # Every exit path: stop the stack (STOPPED line), the echo server, the namespaces.
        for s in handled:
            signal.signal(s, signal.SIG_IGN)
        try:
            if stack is not None:
                src = stack.stop()
                result["stack_exit_status"] = src
                if stack.stopped is not None:
                    result["stack_stopped_pool"] = stack.stopped.get("pool")
                    result["stack_stopped_at_baseline"] = pool_at_baseline(stack.stopped) \
                        if "pool" in stack.stopped else None
        except Exception as e:  # cleanup must go on
            log("stopping tools/run.py: %s" % e)
        finally:
            teardown(stack, echo, (zns, hns, pns), old_handlers)
    return write_report(result, a.out, rc)


def teardown(stack, server, namespaces, old_handlers):
    """After a run, whatever happened: the stack and the Linux-side server
    killed if still alive, the namespaces removed, the signal handlers back."""
    if stack is not None:
        stack.kill()
    if server is not None and server.poll() is None:
        server.kill()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            pass
    for ns in namespaces:
        try:
            ns.delete()
        except Exception as e:
            log("removing %s: %s" % (ns.name, e))
    for s, h in old_handlers.items():
        signal.signal(s, h)


def write_report(result, out, rc):
    """The report as JSON on stdout and in `out`; the exit status."""
    text = json.dumps(result, indent=1)
    print(text, flush=True)
    if out:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            with open(out, "w") as f:
                f.write(text + "\n")
        except OSError as e:
            log("could not write %s: %s" % (out, e))
            rc = rc or 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
