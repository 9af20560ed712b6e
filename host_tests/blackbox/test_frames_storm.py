"""Frame suite, floods and storms: a fragment flood past the reassembly
quota with ping answered during it; an RX storm that empties the pool
(driver rx_no_buffer) and the recovery after it.
"""
import json
import re
import subprocess
import threading
import time

import pytest

from bb_frames import (ECHO_ANSWERED, MF, PROTO_ICMP, STACK_IP, check_echo_reply, checker,  # noqa: F401
                       counter_delta, driver_delta, ipv4)

pytestmark = pytest.mark.blackbox

PINGS = 100


def flood_frames(c, ids, rounds, first_id=0x7000):
    """Middle fragments (8 bytes each, MF, never an offset-0 one, so no
    datagram completes and no ICMP is due) of `ids` datagrams, round robin,
    each fragment at a new offset."""
    out = []
    for r in range(1, rounds + 1):
        for k in range(ids):
            out.append(c.f.ip_frame(ipv4(c.f.hip, STACK_IP, PROTO_ICMP, b"\xf1" * 8,
                                         ident=first_id + k, flags_frag=MF | r)))
    return out


class Flood(threading.Thread):
    """Send frames at `rate` per second (bounded in count and time) until
    stopped."""

    def __init__(self, wire, frames, rate, max_s):
        super().__init__(daemon=True)
        self.wire, self.frames, self.rate, self.max_s = wire, frames, rate, max_s
        self.sent = 0
        self.stop = threading.Event()
        self.t_start = self.t_end = None

    def run(self):
        t0 = self.t_start = time.monotonic()
        i = 0
        n = len(self.frames)
        while i < n and not self.stop.is_set():
            el = time.monotonic() - t0
            if el > self.max_s:
                break
            due = min(n, int(el * self.rate) + 1)
            while i < due:
                self.wire.send(self.frames[i])
                i += 1
            self.sent = i
            time.sleep(0.001)
        self.sent = i
        self.t_end = time.monotonic()


def tap_tx_dropped(stack):
    """Frames the kernel dropped on their way into the TAP (its queue full)."""
    r = stack.run(["ip", "-s", "-j", "link", "show", "dev", "zc0"])
    return json.loads(r.stdout)[0]["stats64"]["tx"]["dropped"]


def run_ping(stack, count, interval="0.01"):
    return stack.netns.popen(["ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", "1",
                              "-w", "20", STACK_IP],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ping_result(proc):
    out, _ = proc.communicate(timeout=30)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, "no ping summary: %s" % out
    return int(m.group(1)), int(m.group(2)), out


def reasm_held(snap):
    return snap["pool"]["held"][2]      # H_REASM


def quiet(c, timeout):
    """The snapshot once the stack has taken everything off the TAP (no new
    frame for 0.3 s) and reassembly holds nothing (bounded)."""
    deadline = time.monotonic() + timeout
    last = c.snapshot()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        snap = c.snapshot()
        if snap["driver"]["rx_frames"] == last["driver"]["rx_frames"] and reasm_held(snap) == 0:
            return snap
        last = snap
    return last


def test_fragment_flood_ping_answered(checker):
    """8 datagrams' worth of fragments at a steady rate, well past
    REASM_MAX_DATAGRAMS (4) and QUOTA_REASM_BLOCKS (24), for as long as
    100 pings at 10 ms take: every ping answered, every flood frame
    accounted for under a reassembly counter, no RX block ever missing."""
    c = checker
    st = c.st
    frames = flood_frames(c, ids=8, rounds=1000)
    dropped0 = tap_tx_dropped(st)
    before = c.snapshot()
    flood = Flood(c.wire, frames, rate=2000, max_s=15)
    flood.start()
    while flood.sent < 300 and flood.is_alive():
        time.sleep(0.005)
    mid = c.snapshot()             # the quota is full before the first ping
    t_ping = time.monotonic()
    proc = run_ping(st, PINGS)
    held_max = reasm_held(mid)
    t_end = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < t_end:   # watch the quota hold
        held_max = max(held_max, reasm_held(c.snapshot()))
        time.sleep(0.05)
    sent, got, out = ping_result(proc)
    t_ping_end = time.monotonic()
    flood_running = flood.is_alive()
    flood.stop.set()
    flood.join(5)
    # let the reassembly timer take the held datagrams back
    deadline = time.monotonic() + 4
    while True:
        after = c.snapshot()
        if reasm_held(after) == 0 and counter_delta(before, after).get("eth_rx", 0) >= flood.sent + PINGS \
                or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    kdrop = tap_tx_dropped(st) - dropped0
    d = counter_delta(before, after)
    dd = driver_delta(before, after)
    dm = counter_delta(before, mid)

    assert flood_running, ("the flood (%d frames) ended before the pings did: raise `rounds`"
                           % flood.sent)
    assert flood.t_start < t_ping and t_ping_end <= flood.t_end
    assert kdrop == 0, ("the kernel dropped %d frames at the TAP (stack too slow for %d/s?): "
                        "this run proves nothing; %s" % (kdrop, flood.rate, d))
    assert (sent, got) == (PINGS, PINGS), "pings answered during the flood: %d of %d\n%s" % (got, sent, out)
    assert dm.get("reasm_evicted", 0) > 0, \
        "the flood had not filled the datagram records before the first ping: %s" % dm
    n = flood.sent
    taken = d.get("reasm_fragments", 0)
    nobuf = d.get("reasm_no_buffer", 0)
    evicted = d.get("reasm_evicted", 0)
    assert taken + nobuf == n, "flood frames %d, accounted %s" % (n, d)
    want = dict(ECHO_ANSWERED(PINGS), eth_rx=n + PINGS, reasm_fragments=taken, reasm_evicted=evicted)
    if nobuf:
        want["reasm_no_buffer"] = nobuf
    if d.get("reasm_timeout", 0):
        want["reasm_timeout"] = d["reasm_timeout"]
    seen = {k: v for k, v in d.items() if k != "rx_budget_exhausted"}
    assert seen == want, "counter delta %s, expected %s" % (seen, want)
    assert d.get("reasm_timeout", 0) + evicted >= 4, d
    assert 0 < held_max <= 24, "reassembly held %d blocks (quota 24)" % held_max
    assert dd.get("rx_no_buffer", 0) == 0, "RX ran out of blocks during the flood: %s" % dd
    assert reasm_held(after) == 0, after["pool"]


def test_rx_storm_unpaced_pool_holds(checker):
    """Fragments as fast as a raw socket sends them (the kernel may drop
    at the TAP; the stack must not run out of RX blocks), then ping."""
    c = checker
    st = c.st
    frames = flood_frames(c, ids=6, rounds=2500, first_id=0x7100)
    before = c.snapshot()
    t0 = time.monotonic()
    for fr in frames:
        c.wire.send(fr)
        if time.monotonic() - t0 > 10:
            break
    after = quiet(c, timeout=6)
    d = counter_delta(before, after)
    dd = driver_delta(before, after)
    assert dd.get("rx_no_buffer", 0) == 0, "RX ran out of blocks in the storm: %s %s" % (dd, d)
    assert d.get("eth_rx", 0) == dd.get("rx_frames", 0), (d, dd)
    assert d.get("reasm_fragments", 0) + d.get("reasm_no_buffer", 0) == d["eth_rx"], d
    got = c.step("ping after the storm", c.f.ping(), ECHO_ANSWERED(), replies=1)
    if got:
        check_echo_reply(c, "ping after the storm", got[0], c.f.ping()[14:])
    c.raise_failures()


@pytest.mark.stack_config(QUOTA_REASM_BLOCKS=128)
def test_rx_reserve_holds_with_the_quota_lifted(checker):
    """The reassembly quota lifted to the whole pool: the RX reserve alone
    keeps held fragments from taking the last blocks, so the driver never
    runs dry and a ping in the middle of the flood is answered."""
    c = checker
    snap = c.snapshot()
    free = snap["pool"]["free"]
    reserve = snap["pool"]["reserve"]
    assert reserve > 0
    n = free + 40
    frames = flood_frames(c, ids=1, rounds=n, first_id=0x7400)
    kept = free - reserve
    c.step("%d middle fragments of one datagram (%d free, reserve %d)" % (n, free, reserve), frames,
           dict(eth_rx=n, reasm_fragments=kept, reasm_no_buffer=n - kept),
           tolerate=("rx_budget_exhausted",))
    got = c.step("ping with reassembly holding all it may", c.f.ping(), ECHO_ANSWERED(), replies=1)
    if got:
        check_echo_reply(c, "ping during the flood", got[0], c.f.ping()[14:])
    c.step("the reassembly timer frees the blocks (no ICMP: no first fragment)", [],
           dict(reasm_timeout=1), until="reasm_timeout", wait_s=4)
    c.raise_failures()


@pytest.mark.stack_config(QUOTA_REASM_BLOCKS=128, POOL_RESERVE_RX_BLOCKS=0)
def test_rx_storm_empties_pool(checker):
    """With the reassembly quota lifted to the whole pool and no RX reserve,
    held fragments take every free block: the driver then drops frames
    (rx_no_buffer, descriptor recycled, never a stall), a ping in that state
    is dropped in the driver, and after the reassembly timer everything is
    answered again. (With the default quotas and reserve no frame mix can
    do this: see test_rx_storm_unpaced_pool_holds and
    test_rx_reserve_holds_with_the_quota_lifted.)"""
    c = checker
    snap = c.snapshot()
    free = snap["pool"]["free"]
    assert snap["pool"]["held"][0] + free == snap["pool"]["total"]
    n = free + 40
    frames = flood_frames(c, ids=1, rounds=n, first_id=0x7200)
    c.step("%d middle fragments of one datagram (%d free blocks)" % (n, free), frames,
           dict(eth_rx=free, reasm_fragments=free), driver_expect=dict(rx_no_buffer=40),
           tolerate=("rx_budget_exhausted",))
    c.step("ping while the pool is empty: dropped by the driver", c.f.ping(), {},
           driver_expect=dict(rx_no_buffer=1))
    c.step("the reassembly timer frees the blocks (no ICMP: no first fragment)", [],
           dict(reasm_timeout=1), until="reasm_timeout", wait_s=4)
    got = c.step("ping after recovery", c.f.ping(), ECHO_ANSWERED(), replies=1)
    if got:
        check_echo_reply(c, "ping after recovery", got[0], c.f.ping()[14:])
    c.raise_failures()
