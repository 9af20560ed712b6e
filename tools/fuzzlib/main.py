"""tools/fuzz: a seeded fuzz campaign against the stack over a TAP.

    tools/fuzz --count 100000 --seed 1 [--bits 32] [--netif tap]
    tools/fuzz --time 600 --seed 7
    tools/fuzz --iface zc0 --target 198.51.100.2 --count 10000   # a stack already running
    tools/fuzz --replay build/fuzz/fail-1-12.pcap                 # a failure's frames again

Batches of --batch frames (generated cases, stateful TCP sessions among
them); every --sync frames a ping from the probe address paces the sender
to the stack. After every batch the oracles run:

  - the process is alive and printed no Python traceback (crash);
  - every frame the stack sent came from its MAC and address, with right
    lengths and checksums (bad_frame; checked as they are captured);
  - the stack answers a ping and echoes over a Linux TCP connection (hang);
  - once quiet, the pool is back at baseline within --quiesce seconds
    (leak; SIGUSR1 snapshots), and no counter that means a bug moved
    (counter: pool bad_free/bad_ref, tx_bad_cookie, rx_no_pbuf, driver
    tx_errors/tx_ref_moved).

A failure writes every frame sent since the last good oracle to
<out>/fail-<seed>-<batch>.pcap (replay it with --replay), plus the
details as JSON, and ends the campaign with exit status 1. The last line
is always `FUZZ SUMMARY {json}`.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

from . import pkt
from .gen import Gen, Net
from .target import ROOT, External, Managed, TargetError
from .tcpfuzz import Session
from .wire import Wire, arp_announce, is_echo_reply, ping_frame

# counters that mean a bug, whatever the traffic: (where, name)
BUG_COUNTERS = (("pool", "bad_free"), ("pool", "bad_ref"), ("counters", "tx_bad_cookie"),
                ("counters", "rx_no_pbuf"), ("driver", "tx_errors"), ("driver", "tx_ref_moved"))
TCP_PORTS = (7, 7, 9, 19)
PROBE_ID = 0x7a66


class Failure(Exception):
    def __init__(self, kind, detail):
        super().__init__("%s: %s" % (kind, detail))
        self.kind = kind
        self.detail = detail


def pool_at_baseline(pool):
    return (pool["free"] + pool["held"][0] == pool["total"]
            and pool["hdr_free"] == pool["hdr_total"] and not pool.get("bad_free"))


def bug_counts(snap):
    out = {}
    for where, name in BUG_COUNTERS:
        v = (snap.get(where) or {}).get(name, 0)
        if isinstance(v, int):
            out[where + "." + name] = v
    return out


class Campaign:
    def __init__(self, opts, target, log=print):
        self.o = opts
        self.t = target
        self.log = log
        self.net = Net(target.stack_ip, target.stack_mac, target.host_ip, target.host_mac or ZERO)
        self.gen = Gen(opts.seed, self.net, opts.kinds.split(",") if opts.kinds else None)
        self.wire = Wire(target.iface, self.net, target.enter if target.managed else None)
        self.frames = 0             # fuzz frames (cases and TCP sessions)
        self.cases = {}
        self.tcp_sessions = 0
        self.tcp_opened = 0
        self.tcp_left_open = 0
        self.tcp_pcbs = 0
        self.echo_retries = 0
        self.liveness = opts.liveness if opts.liveness is not None else (
            10.0 if target.managed else 90.0)
        self.pings = 0
        self.ping_replies = 0
        self.sync_seq = 0
        self.batches = 0
        self.oracle_s = 0.0
        self.first = None           # the first snapshot
        self.last = None
        self.bugs0 = None
        self.result = {"crashes": 0, "hangs": 0, "leaks": 0, "bad_frames": 0, "counters": 0}
        self.failure = None

    # ------------------------------------------------------------ oracles
    def prime(self):
        """The stack learns the host, the probe and the fuzz peers from ARP
        requests (fuzzed ARP may have changed what it knew)."""
        n = self.net
        frames = [arp_announce(n, n.probe_ip, n.probe_mac)]
        if self.t.host_mac:
            frames.append(arp_announce(n, n.host_ip, n.host_mac))
        frames += [arp_announce(n, ip, m) for ip, m in n.peers]
        self.wire.send_many(frames)

    def ping(self, timeout):
        self.sync_seq = (self.sync_seq + 1) & 0xFFFF
        seq = self.sync_seq
        mark = self.wire.mark()
        self.pings += 1
        self.wire.send(ping_frame(self.net, PROBE_ID, seq))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mark, frames = self.wire.since(mark)
            for f in frames:
                if is_echo_reply(f, self.net, PROBE_ID, seq):
                    self.ping_replies += 1
                    return True
            time.sleep(0.0005)
        return False

    def tcp_echo(self, timeout=3.0):
        data = os.urandom(64)
        s = self.t.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect((self.t.stack_ip, 7))
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                b = s.recv(4096)
                if not b:
                    break
                got += b
            return got == data, "echoed %d of %d bytes%s" % (len(got), len(data),
                                                             "" if got == data[:len(got)] else " (differ)")
        except OSError as e:
            return False, "TCP echo: %s" % e
        finally:
            s.close()

    def check_process(self):
        if not self.t.alive():
            raise Failure("crash", "the stack exited (status %s); stderr tail: %s"
                          % (self.t.status(), self.t.stderr()[-2000:]))
        err = self.t.stderr()
        if "Traceback" in err:
            raise Failure("crash", "a Python exception on the stack's stderr: %s" % err[-3000:])

    def check_wire(self):
        bad = self.wire.take_bad()
        if bad:
            why, f = bad[0]
            raise Failure("bad_frame", "%d frame(s) from the stack fail the wire check; first: %s (%s)"
                          % (len(bad), why, f[:80].hex()))

    def oracle(self):
        t0 = time.monotonic()
        self.check_process()
        self.check_wire()
        self.prime()
        ok = any(self.ping(1.0) for _ in range(3))
        if not ok:
            self.check_process()
            raise Failure("hang", "no answer to 3 pings from %s" % pkt.ip_str(self.net.probe_ip))
        # A SYN flood among the fuzz cases fills the echo listener's backlog
        # (the stack has no SYN cookies) until its half-open connections time
        # out: keep trying for --liveness seconds before calling it a hang.
        ok, why = False, ""
        deadline = time.monotonic() + self.liveness
        tries = 0
        while True:
            tries += 1
            ok, why = self.tcp_echo()
            if ok or time.monotonic() >= deadline:
                break
            self.prime()
            time.sleep(0.2)
        if tries > 1:
            self.echo_retries += tries - 1
        if not ok:
            self.check_process()
            raise Failure("hang", "the TCP echo service does not answer for %.0f s (%d tries): %s"
                          % (self.liveness, tries, why))
        if self.t.snapshot is not None:
            snap = self.t.snapshot_until(lambda s: pool_at_baseline(s["pool"]), self.o.quiesce, 0.1)
            if not pool_at_baseline(snap["pool"]):
                raise Failure("leak", "pool not at baseline %.1f s after the batch: %s (tcp %s)"
                              % (self.o.quiesce, json.dumps(snap["pool"]), json.dumps(snap.get("tcp"))))
            bugs = bug_counts(snap)
            if self.bugs0 is None:
                self.bugs0 = bug_counts(self.first)
            moved = {k: v - self.bugs0.get(k, 0) for k, v in bugs.items() if v != self.bugs0.get(k, 0)}
            if moved:
                raise Failure("counter", "counters that mean a bug moved: %s" % moved)
            self.last = snap
            self.tcp_pcbs = snap.get("tcp", {}).get("pcbs", 0)
        self.check_process()
        self.check_wire()
        self.oracle_s += time.monotonic() - t0

    # ------------------------------------------------------------ sending
    def batch(self, n):
        """About n fuzz frames: cases, TCP sessions, a pacing ping every --sync."""
        o = self.o
        g = self.gen
        sent = 0
        next_sync = o.sync
        misses = 0
        while sent < n:
            if o.tcp > 0 and g.r.random() < o.tcp:
                self.tcp_sessions += 1
                s = Session(self.wire, self.net, g, g.r.choice(TCP_PORTS))
                if s.run(g.r.randrange(10, 60)):
                    self.tcp_opened += 1
                    self.tcp_left_open += not s.closed
                k = s.segs
                self.cases["tcp_session"] = self.cases.get("tcp_session", 0) + k
            else:
                kind, frames = g.case()
                self.wire.send_many(frames)
                k = len(frames)
                self.cases[kind] = self.cases.get(kind, 0) + k
            sent += k
            self.frames += k
            if sent >= next_sync:
                next_sync = sent + o.sync
                if self.ping(o.sync_timeout):
                    misses = 0
                else:
                    misses += 1
                    if misses >= 3:
                        break           # something is wrong: let the oracles say what
        return sent

    # ------------------------------------------------------------ the campaign
    def run(self):
        o = self.o
        self.prime()
        time.sleep(0.05)
        if self.t.snapshot is not None:
            self.first = self.t.snapshot()
        self.oracle()
        self.wire.take_record()
        start = time.monotonic()
        deadline = start + o.time if o.time else None
        last_print = 0.0
        try:
            while (o.count is None or self.frames < o.count) and \
                    (deadline is None or time.monotonic() < deadline):
                n = o.batch if o.count is None else min(o.batch, o.count - self.frames)
                self.batch(n)
                self.batches += 1
                if o.fault and self.batches == o.fault_batch and self.t.managed:
                    self.t.inject_fault(o.fault)
                self.oracle()
                self.wire.take_record()     # all good up to here
                now = time.monotonic()
                if now - last_print >= o.progress or (o.count and self.frames >= o.count):
                    last_print = now
                    el = now - start
                    self.log("fuzz: batch %d: %d frames in %.0f s (%.0f frames/s), tcp sessions %d/%d "
                             "opened (connections now %d), pings %d/%d, oracles ok"
                             % (self.batches, self.frames, el, self.frames / el if el else 0,
                                self.tcp_opened, self.tcp_sessions, self.tcp_pcbs, self.ping_replies,
                                self.pings))
        except Failure as f:
            self.failure = f
            self.result[{"crash": "crashes", "hang": "hangs", "leak": "leaks",
                         "bad_frame": "bad_frames", "counter": "counters"}[f.kind]] += 1
        self.elapsed = time.monotonic() - start
        return self.failure is None

    def summary(self):
        el = max(self.elapsed, 1e-9)
        d = dict(self.result)
        d.update(seed=self.o.seed, frames=self.frames, batches=self.batches, elapsed_s=round(el, 1),
                 frames_per_s=round(self.frames / el), send_frames_per_s=round(
                     self.frames / max(el - self.oracle_s, 1e-9)),
                 tcp_sessions=self.tcp_sessions, tcp_opened=self.tcp_opened,
                 tcp_left_open=self.tcp_left_open, tcp_echo_retries=self.echo_retries,
                 pings=self.pings, ping_replies=self.ping_replies, cases=self.cases,
                 captured=self.wire.captured, arp_answered=self.wire.arp_answered,
                 failure=str(self.failure) if self.failure else None)
        if self.first is not None and self.last is not None:
            moved = {}
            for k, v in (self.last.get("counters") or {}).items():
                dv = v - (self.first.get("counters") or {}).get(k, 0)
                if dv:
                    moved[k] = dv
            dr = {}
            for k, v in (self.last.get("driver") or {}).items():
                if isinstance(v, int) and v - (self.first.get("driver") or {}).get(k, 0):
                    dr[k] = v - (self.first.get("driver") or {}).get(k, 0)
            d["stack_counters"] = moved
            d["driver"] = dr
        return d


ZERO = b"\x00" * 6


def write_pcap(path, record):
    """A classic pcap (microsecond stamps, Ethernet): what scapy, tcpdump
    and --replay read."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, fr in record:
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    from scapy.utils import RawPcapReader
    out = []
    for data, meta in RawPcapReader(path):
        out.append((meta.sec + meta.usec / 1e6, bytes(data)))
    return out


def make_target(o, log):
    if o.iface:
        if not o.target:
            raise TargetError("--iface needs --target (the stack's address)")
        return External(o.iface, o.target, o.target_mac, log)
    return Managed(o.bits, o.netif, o.micropython, o.set, log)


def replay(o, log):
    """Send a pcap's frames to a fresh stack in order (gaps kept, at most
    --replay-gap s), then run the oracles once: exit 1 when they fail."""
    record = read_pcap(o.replay)
    t = make_target(o, log).start()
    c = None
    try:
        c = Campaign(o, t, log)
        c.prime()
        time.sleep(0.05)
        if t.snapshot is not None:
            c.first = t.snapshot()
        log("fuzz: replaying %d frames from %s into %s" % (len(record), o.replay, t.describe()))
        prev = None
        for ts, f in record:
            if prev is not None and ts > prev:
                time.sleep(min(ts - prev, o.replay_gap))
            prev = ts
            c.wire.send(f)
        c.frames = len(record)
        c.elapsed = 0.0
        try:
            c.oracle()
            log("fuzz: replay: the oracles hold (not reproduced)")
            ok = True
        except Failure as f:
            c.failure = f
            log("fuzz: replay reproduced: %s" % f)
            ok = False
        print("FUZZ REPLAY " + json.dumps({"frames": len(record), "reproduced": not ok,
                                           "failure": str(c.failure) if c.failure else None}), flush=True)
        return 0 if ok else 1
    finally:
        if c is not None:
            c.wire.close()
        t.stop()
        t.close()


def parse(argv):
    ap = argparse.ArgumentParser(prog="tools/fuzz", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=None, help="fuzz frames to send (default 10000 "
                    "unless --time is given)")
    ap.add_argument("--time", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--batch", type=int, default=5000, help="frames between oracle runs")
    ap.add_argument("--sync", type=int, default=200, help="frames between pacing pings")
    ap.add_argument("--sync-timeout", type=float, default=0.5)
    ap.add_argument("--tcp", type=float, default=0.02, help="chance that a case is a stateful TCP "
                    "session (10-60 segments)")
    ap.add_argument("--kinds", default=None, help="comma-separated generators (default all: %s)"
                    % ",".join(Gen.KINDS))
    ap.add_argument("--quiesce", type=float, default=5.0, help="seconds the pool gets to return to "
                    "baseline after a batch")
    ap.add_argument("--liveness", type=float, default=None, help="seconds the TCP echo gets to "
                    "answer again before it is a hang (default 10; 90 with --iface, whose stack "
                    "keeps its own, longer SYN timeouts)")
    ap.add_argument("--bits", default=os.environ.get("BITS", "64"), choices=("64", "32"))
    ap.add_argument("--netif", default="tap", help="passed to tools/run.py --netif")
    ap.add_argument("--micropython", default=None, help="the MicroPython binary (default by --bits)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=V",
                    help="more tools/run.py --set tunables (after the fuzzer's short timeouts)")
    ap.add_argument("--iface", default=None, help="fuzz a stack already running on this TAP "
                    "(its host side, here); refused when it carries a default route")
    ap.add_argument("--target", default=None, help="with --iface: the stack's IPv4 address")
    ap.add_argument("--target-mac", default=None, help="with --iface: the stack's MAC (else from ARP)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "fuzz"),
                    help="where failure pcaps and summaries go")
    ap.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines")
    ap.add_argument("--replay", default=None, metavar="PCAP", help="replay a failure's frames")
    ap.add_argument("--replay-gap", type=float, default=0.01, help="longest pause kept between "
                    "replayed frames (s)")
    ap.add_argument("--no-verify", action="store_true", help="after a failure, do not replay its "
                    "pcap into a fresh stack")
    ap.add_argument("--fault", choices=("stop", "kill"), default=None,
                    help="self-test of the oracles: SIGSTOP or SIGKILL the stack after batch "
                    "--fault-batch (it must be reported as a hang or a crash)")
    ap.add_argument("--fault-batch", type=int, default=1)
    o = ap.parse_args(argv)
    if o.count is None and o.time is None and not o.replay:
        o.count = 10000
    if o.kinds:
        bad = [k for k in o.kinds.split(",") if k not in Gen.KINDS]
        if bad:
            ap.error("unknown generator(s) %s (have %s)" % (bad, ",".join(Gen.KINDS)))
    return o


def main(argv=None):
    o = parse(sys.argv[1:] if argv is None else argv)

    def log(msg):
        print(msg, flush=True)

    if o.replay:
        try:
            return replay(o, log)
        except TargetError as e:
            log("fuzz: " + str(e))
            return 2
    try:
        t = make_target(o, log).start()
    except TargetError as e:
        log("fuzz: " + str(e))
        return 2
    c = None
    rc = 0
    try:
        c = Campaign(o, t, log)
        log("fuzz: seed %d, %s, against %s" % (o.seed, ("%d frames" % o.count) if o.count else
                                               ("%.0f s" % o.time), t.describe()))
        ok = c.run()
        record = c.wire.take_record()
        summ = c.summary()
        if not ok:
            rc = 1
            os.makedirs(o.out, exist_ok=True)
            base = os.path.join(o.out, "fail-%d-%d" % (o.seed, c.batches + 1))
            write_pcap(base + ".pcap", record)
            with open(base + ".json", "w") as f:
                json.dump({"failure": str(c.failure), "kind": c.failure.kind, "argv": sys.argv,
                           "frames_in_pcap": len(record), "summary": summ,
                           "stderr": t.stderr()[-8000:]}, f, indent=1)
            summ["pcap"] = os.path.relpath(base + ".pcap")
            log("fuzz: FAILED (%s); %d frames since the last good oracle in %s"
                % (c.failure, len(record), summ["pcap"]))
    finally:
        if c is not None:
            c.wire.close()
        st, stopped = t.stop(patient=c is None or c.failure is None or c.failure.kind != "hang")
        t.close()
    if c is None:
        return 2
    if t.managed:
        summ["exit_status"] = st
        if st not in (0, None) and rc == 0:
            rc = 1
            summ["crashes"] += 1
            summ["failure"] = "exit status %s after SIGTERM" % st
        if stopped and "pool" in stopped and not pool_at_baseline(stopped["pool"]) and rc == 0:
            rc = 1
            summ["leaks"] += 1
            summ["failure"] = "pool not at baseline in STOPPED: %s" % json.dumps(stopped["pool"])
    if rc and not o.no_verify and summ.get("pcap") and t.managed:
        o2 = argparse.Namespace(**vars(o))
        o2.replay = summ["pcap"]
        log("fuzz: verifying the reproducer in a fresh stack")
        try:
            summ["reproduced"] = replay(o2, log) == 1
        except Exception as e:      # the report goes on; the failure stands
            summ["reproduced"] = "replay failed: %s" % e
    print("FUZZ SUMMARY " + json.dumps(summ, sort_keys=True), flush=True)
    return rc
