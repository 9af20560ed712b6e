"""Black-box: crafted TCP segments against the stack over TAP (tcp_peer.Peer:
from 198.51.100.77, an address the host kernel does not own, so Linux sends
no resets of its own), with Linux's own sockets beside them where that fits.

Issue 7: RFC 5961 blind RST/SYN/data injection, SYN flood while an
established connection moves data, malformed options, out-of-window and
overlapping retransmitted data, zero window and persist, TIME_WAIT and a SYN
into TIME_WAIT; after each the stack is alive, its pool at baseline
(conftest's teardown) and no connection is left but TIME_WAIT ones.
"""
import os
import socket
import threading
import time

import pytest

from tcp_peer import ACK, FIN, RST, SYN, Peer, mss_opt, sadd, tcp_segment
from tcp_util import (ECHO_PORT, DISCARD_PORT, SOURCE_PORT, PatternCheck, Sender, fin_then_drain,
                      assert_quiet_then_empty, connect, figure, recv_all, source_pattern,
                      tcp_states)

pytestmark = pytest.mark.blackbox

both_widths = pytest.mark.parametrize("stack", ("64", "32"), indirect=True)

QOTD_PORT = 17
MSL_MS = 500


@pytest.fixture
def peer(stack):
    p = Peer(stack)
    try:
        yield p
    finally:
        p.close()


def delta(stack, before, keys):
    """The named counters' deltas since `before` (0 for those that did not move)."""
    d = stack.delta_since(before)
    return {k: d.get(k, 0) for k in keys}


def echo_roundtrip(c, data, timeout=3.0):
    start = len(c.rcvd)
    c.send(data)
    ok = c.pump(lambda: len(c.rcvd) >= start + len(data), timeout)
    assert ok, "no echo of %r (got %r)" % (data, bytes(c.rcvd[start:]))
    return bytes(c.rcvd[start:])


def is_pure_ack(s):
    return s.flags & (ACK | SYN | FIN | RST) == ACK and not s.data


# ---------------------------------------------------------------- RFC 5961

@both_widths
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_rfc5961_blind_injection(stack, peer):
    c = peer.conn(ECHO_PORT)
    c.open()
    assert echo_roundtrip(c, b"hello") == b"hello"
    c.pump(lambda: False, 0.1)              # the echo's ACK is out; nothing in flight
    keys = ("tcp_challenge_ack", "tcp_out_of_window", "tcp_ack_unsent", "tcp_rst_rx",
            "tcp_rx_bytes", "tcp_accepted", "tcp_rst_tx")
    before = stack.counters()
    problems = []

    def challenge(label):
        s = c.expect(lambda s: True, 2.0)
        if s is None:
            problems.append("%s: no ACK back" % label)
        elif not is_pure_ack(s) or s.ack != c.snd_nxt or s.seq != c.rcv_nxt:
            problems.append("%s: got %r, wanted an ACK seq=%d ack=%d" % (label, s, c.rcv_nxt, c.snd_nxt))

    def nothing(label):
        got = c.quiet(0.3)
        if got:
            problems.append("%s: the stack answered %r" % (label, got))

    # RST inside the window but not at RCV.NXT: a challenge ACK, no reset (3.2)
    c.send(flags=RST, seq=sadd(c.snd_nxt, 1000), ack=0)
    challenge("RST in window")
    # RST outside the window: dropped without a word
    c.send(flags=RST, seq=sadd(c.snd_nxt, 10000000), ack=0)
    nothing("RST out of window")
    # SYN in the window of a synchronized connection: a challenge ACK (4.2)
    c.send(flags=SYN, seq=sadd(c.snd_nxt, 10), ack=0, advance=False, options=mss_opt())
    challenge("SYN in window")
    # SYN at RCV.NXT exactly: the same
    c.send(flags=SYN | ACK, advance=False, options=mss_opt())
    challenge("SYN at RCV.NXT")
    # data acknowledging what is older than SND.UNA - MAX.SND.WND: a
    # challenge ACK, the data dropped (5.2)
    c.send(b"EVIL-OLD-ACK", ack=sadd(c.rcv_nxt, -200000), advance=False)
    challenge("data with an old ACK")
    # data acknowledging what was never sent: an ACK, the data dropped
    c.send(b"EVIL-FUTURE-ACK", ack=sadd(c.rcv_nxt, 200000), advance=False)
    challenge("data with an ACK of unsent data")
    # data outside the receive window (blind injection): an ACK, dropped
    c.send(b"EVIL-OUT-OF-WINDOW", seq=sadd(c.snd_nxt, 5000000), advance=False)
    challenge("data out of window")
    d = delta(stack, before, keys)
    want = dict(tcp_challenge_ack=4, tcp_out_of_window=2, tcp_ack_unsent=1, tcp_rst_rx=1,
                tcp_rx_bytes=0, tcp_accepted=0, tcp_rst_tx=0)
    if d != want:
        problems.append("counters %s, wanted %s" % (d, want))
    # the connection survived all of it, and none of the injected bytes got in
    assert echo_roundtrip(c, b"world") == b"world"
    assert bytes(c.rcvd) == b"helloworld"
    assert not problems, "\n".join(problems)
    # RST at RCV.NXT exactly: the connection is gone, silently
    before = stack.counters()
    c.reset()
    assert c.quiet(0.3) == []
    snap = stack.snapshot_until(lambda s: s["tcp"]["pcbs"] == 0, 2, 0.05)
    assert tcp_states(snap) == {}, tcp_states(snap)
    assert delta(stack, before, ("tcp_rst_rx",)) == {"tcp_rst_rx": 1}
    assert_quiet_then_empty(stack, MSL_MS)


# ---------------------------------------------------------------- SYN flood

FLOOD_BACKLOG = 8           # services._listen: listen(8)


@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS, TCP_SYN_RETRIES=1, TCP_RTO_INITIAL_MS=200,
                          TCP_RTO_MIN_MS=200)
def test_syn_flood_bounded_while_established_moves_data(stack, peer):
    """SYNs from many ports of one peer at the echo listener for as long as
    Linux echoes 4 MiB through the same port: the SYN queue never holds more than
    the backlog, the rest is counted (tcp_backlog_full), the transfer is
    intact; the half-open connections die after their SYN-ACK retries."""
    min_syn = 1500
    max_syn = 20000

    def syn(i):
        return peer.frame(tcp_segment(peer.ip, stack.stack_ip, 10000 + i, ECHO_PORT,
                                      0x1000000 * (i % 200) + i, 0, SYN, options=mss_opt()))

    before = stack.counters()
    mark = peer.wire.mark()
    s = connect(stack, ECHO_PORT)
    size = 4 << 20
    tx = Sender(s, size)
    result = {}

    def rx():
        try:
            result["r"] = recv_all(s, size + 1, time.monotonic() + 60)
        except BaseException as e:
            result["e"] = e

    reader = threading.Thread(target=rx, daemon=True)
    tx.start()
    reader.start()
    max_half_open = 0
    sent = 0
    during = 0                  # SYNs sent while the transfer was still going
    try:
        # the flood goes on until the transfer is over (and at least min_syn)
        deadline = time.monotonic() + 30
        while (sent < min_syn or reader.is_alive()) and sent < max_syn \
                and time.monotonic() < deadline:
            busy = reader.is_alive()
            for i in range(sent, sent + 100):
                peer.wire.send(syn(i))
            sent += 100
            if busy:
                during += 100
            snap = stack.counters()
            max_half_open = max(max_half_open, tcp_states(snap).get("SYN_RCVD", 0))
            time.sleep(0.005)
        reader.join(60)
        tx.join(10)
    finally:
        s.close()
    assert "e" not in result, repr(result.get("e"))
    assert tx.error is None, repr(tx.error)
    digest, got = result["r"]
    assert got == size and digest == tx.digest, "the echo under the flood differs"
    assert during >= 200, "the transfer was over after %d SYNs" % during
    assert max_half_open <= FLOOD_BACKLOG, "SYN_RCVD connections: %d" % max_half_open
    # every SYN either got a connection in SYN_RCVD (and its SYN-ACK) or was
    # counted as refused by the full backlog
    time.sleep(0.3)
    _, segs = peer.segs_since(mark)
    answered = {x.dport for x in segs if x.flags & (SYN | ACK) == SYN | ACK}
    d = stack.delta_since(before)
    assert d.get("tcp_backlog_full", 0) + len(answered) == sent, (d, len(answered), sent)
    assert d.get("tcp_backlog_full", 0) >= sent - 10 * FLOOD_BACKLOG, d
    assert d.get("tcp_accepted") == 1, d
    figure("tcp_syn_flood", syns=sent, during_transfer=during, backlog_full=d["tcp_backlog_full"],
           max_syn_rcvd=max_half_open)
    # the half-open ones time out (one SYN-ACK retry, then forgotten)
    assert_quiet_then_empty(stack, MSL_MS, slack_s=3.0)


# ---------------------------------------------------------------- options

BAD_OPTIONS = [
    ("MSS of length 0", bytes([2, 0, 1, 1])),
    ("MSS of length 1", bytes([2, 1, 1, 1])),
    ("MSS length past the header", bytes([2, 40, 5, 180])),
    ("kind without a length byte", bytes([1, 1, 1, 2])),
    ("MSS of length 3", bytes([2, 3, 5, 1])),
    ("unknown kind of length 0", bytes([1, 1, 254, 0])),
    ("MSS of value 0 (536 used)", bytes([2, 4, 0, 0])),
]
GOOD_OPTIONS = [
    ("NOPs, timestamps, EOL and garbage after it", bytes([1, 1, 8, 10]) + os.urandom(8)
     + bytes([0, 2, 0, 0])),
    ("no options", b""),
]


@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_malformed_options(stack, peer):
    """SYNs whose options have bad lengths: each still gets a SYN-ACK
    (options read no further, counted), the peer's MSS falling back to 536,
    which the stack then honours; bad data offsets are counted drops."""
    problems = []
    before = stack.counters()
    for label, opts in BAD_OPTIONS + GOOD_OPTIONS:
        c = peer.conn(DISCARD_PORT)
        c.send(flags=SYN, ack=0, options=opts)
        sa = c.expect(lambda s: s.flags & (SYN | ACK) == SYN | ACK, 2)
        if sa is None:
            problems.append("%s: no SYN-ACK" % label)
            continue
        if sa.ack != c.snd_nxt or sa.mss() != 1460 or not sa.csum_ok:
            problems.append("%s: SYN-ACK %r mss %s" % (label, sa, sa.mss()))
        c.reset()                           # RST in SYN_RCVD: forgotten (the backlog is 8)
    d = delta(stack, before, ("tcp_bad_options", "tcp_rst_tx", "tcp_backlog_full"))
    if d != {"tcp_bad_options": len(BAD_OPTIONS), "tcp_rst_tx": 0, "tcp_backlog_full": 0}:
        problems.append("counters %s (bad option lists: %d)" % (d, len(BAD_OPTIONS)))
    snap = stack.snapshot_until(lambda s: s["tcp"]["pcbs"] == 0, 2, 0.05)
    if snap["tcp"]["pcbs"]:
        problems.append("connections left after the resets: %s" % tcp_states(snap))
    # a connection whose SYN's MSS option was broken gets segments of 536
    c = peer.conn(ECHO_PORT)
    c.open(options=bytes([2, 0, 1, 1]))
    data = os.urandom(1400)
    c.send(data)
    if not c.pump(lambda: len(c.rcvd) >= len(data), 3):
        problems.append("MSS 536: echo incomplete (%d bytes)" % len(c.rcvd))
    sizes = [len(s.data) for s in c.log if s.data]
    if bytes(c.rcvd) != data or max(sizes or [0]) > 536:
        problems.append("MSS 536: segment sizes %s" % sizes)
    # options with bad lengths on an established connection: no harm
    c.send(b"opts", options=bytes([8, 0, 1, 1]))
    c.send(b"more", options=bytes([1, 1, 1, 5]))
    if not c.pump(lambda: len(c.rcvd) >= len(data) + 8, 3) or bytes(c.rcvd[-8:]) != b"optsmore":
        problems.append("data with bad options: echo %r" % bytes(c.rcvd[len(data):]))
    # data offset beyond the segment, and below 5 words: counted drops, no answer
    c.quiet(0.3)            # a window update for the echo's blocks may still be on its way
    before = stack.counters()
    c.send(b"x" * 8, doff=15, advance=False)
    c.send(b"y" * 8, doff=3, advance=False)
    c.send(b"", doff=6, advance=False)
    got = c.quiet(0.3)
    d = delta(stack, before, ("tcp_bad_offset", "tcp_rx_bytes"))
    if d != {"tcp_bad_offset": 3, "tcp_rx_bytes": 0} or got:
        problems.append("bad offsets: counters %s, answered %r" % (d, got))
    assert echo_roundtrip(c, b"still here") == b"still here"
    c.reset()
    assert not problems, "\n".join(problems)
    assert_quiet_then_empty(stack, MSL_MS)


# ---------------------------------------------------------------- windows

@both_widths
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_out_of_window_and_overlapping_retransmissions(stack, peer):
    """Segments outside the window are answered with an ACK and dropped;
    out-of-order ones are held and overlapping retransmissions (over held
    and over delivered bytes, across the window's right edge) trimmed, so
    the echo is exactly the stream sent, once."""
    c = peer.conn(ECHO_PORT)
    sa = c.open()
    wnd = sa.win
    base = c.snd_nxt
    stream = os.urandom(4000 + wnd + 500)
    problems = []

    def seg(a, b, label, expect_ack_of=None):
        c.send(stream[a:b], seq=sadd(base, a), advance=False)
        if expect_ack_of is not None:
            s = c.expect(lambda s: s.flags & ACK and not s.data, 2)
            if s is None or s.ack != sadd(base, expect_ack_of):
                problems.append("%s: %r, wanted an ACK of %d" % (label, s, expect_ack_of))

    before = stack.counters()
    # beyond the right edge, and entirely old: ACK, dropped
    c.send(b"z" * 100, seq=sadd(base, wnd + 100), advance=False)
    s = c.expect(lambda s: s.flags & ACK, 2)
    if s is None or s.ack != base:
        problems.append("beyond the window: %r" % s)
    c.send(b"o" * 200, seq=sadd(base, -300), advance=False)
    s = c.expect(lambda s: s.flags & ACK, 2)
    if s is None or s.ack != base:
        problems.append("old data: %r" % s)
    # out of order: held, a duplicate ACK each
    seg(1000, 2000, "ooseq 1000-2000", 0)
    seg(3000, 4000, "ooseq 3000-4000", 0)
    seg(1500, 2500, "overlapping a held one", 0)
    # retransmission covering the gap and part of what is held; from here
    # on our SND.NXT is the end of what the stack holds in order (our ACKs
    # must carry an acceptable sequence number)
    seg(0, 1460, "0-1460 over held 1000-2000")
    c.snd_nxt = sadd(base, 2000)
    # over delivered bytes and the held 3000-4000
    seg(1900, 3360, "1900-3360")
    c.snd_nxt = sadd(base, 4000)
    if not c.pump(lambda: len(c.rcvd) >= 4000, 3):
        problems.append("echo after the gaps: %d bytes" % len(c.rcvd))
    c.pump(lambda: False, 0.1)
    # across the right edge: the part inside the window is held, the rest dropped
    s = c.log[-1]
    edge = 4000 + s.win
    assert edge + 500 <= len(stream), (edge, len(stream))
    seg(edge - 500, edge + 500, "across the right edge", 4000)
    # fill the gap in order, then send what lay beyond the edge again
    a = 4000
    while a < edge - 500:
        b = min(a + 1460, edge - 500)
        c.send(stream[a:b], seq=sadd(base, a), advance=False)
        c.snd_nxt = sadd(base, b if b < edge - 500 else edge)     # the last one joins the held part
        a = b
        c.pump(lambda: False, 0.002)
    c.snd_nxt = sadd(base, edge)
    if not c.pump(lambda: len(c.rcvd) >= edge, 5):
        problems.append("echo up to the edge: %d of %d bytes" % (len(c.rcvd), edge))
    seg(edge - 500, edge + 500, "the rest beyond the old edge")
    c.snd_nxt = sadd(base, edge + 500)
    if not c.pump(lambda: len(c.rcvd) >= edge + 500, 5):
        problems.append("echo to the end: %d of %d bytes" % (len(c.rcvd), edge + 500))
    c.pump(lambda: False, 0.1)
    if bytes(c.rcvd) != stream[:edge + 500]:
        first = next((i for i in range(len(c.rcvd)) if c.rcvd[i] != stream[i]), len(c.rcvd))
        problems.append("echo differs from the stream at byte %d (%d bytes back, %d sent)"
                        % (first, len(c.rcvd), edge + 500))
    d = delta(stack, before, ("tcp_out_of_window", "tcp_ooseq", "tcp_ooseq_overlap",
                              "tcp_rx_bytes", "tcp_drop_no_buffer", "tcp_rto"))
    want = dict(tcp_out_of_window=2, tcp_ooseq=3, tcp_ooseq_overlap=1, tcp_rx_bytes=edge + 500,
                tcp_drop_no_buffer=0, tcp_rto=0)
    if d != want:
        problems.append("counters %s, wanted %s" % (d, want))
    c.reset()
    assert not problems, "\n".join(problems)
    assert_quiet_then_empty(stack, MSL_MS)


@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS, TCP_RTO_INITIAL_MS=100, TCP_RTO_MIN_MS=100,
                          TCP_RTO_MAX_MS=400, TCP_MAX_RETRIES=2)
def test_zero_window_persist_crafted(stack, peer):
    """A peer that opens with a zero window and answers every probe keeps
    the window shut for 3 s (longer than TCP_MAX_RETRIES RTOs would last):
    the stack probes with one byte, backing off, and keeps the connection
    (RFC 1122 4.2.2.17); it never sends more than that byte into the zero
    window. Once the window opens the source's bytes flow, the probe's byte
    first."""
    c = peer.conn(SOURCE_PORT)
    c.open(win=0)
    before = stack.counters()
    probes = []
    bad = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        for s in c.new_segs():
            if s.flags & RST:
                bad.append(s)
            elif s.data:
                if len(s.data) > 1 or s.seq != c.rcv_nxt:
                    bad.append(s)
                probes.append(s)
                c.send(flags=ACK, win=0)        # acknowledged, not accepted
        time.sleep(0.005)
    d = delta(stack, before, ("tcp_window_probe", "tcp_timeout", "tcp_rst_tx"))
    assert not bad, "into a zero window the stack sent %r" % bad[:4]
    assert len(probes) >= 3, "%d probes in 3 s" % len(probes)
    gaps = [b.t - a.t for a, b in zip(probes, probes[1:])]
    assert all(g2 >= 0.8 * g1 for g1, g2 in zip(gaps, gaps[1:])), "no backoff: %s" % gaps
    assert d["tcp_timeout"] == 0 and d["tcp_rst_tx"] == 0, d
    assert d["tcp_window_probe"] >= len(probes), d
    assert tcp_states(stack.counters()) == {"ESTABLISHED": 1}
    # the window opens: data flows from the first byte of the pattern
    c.win = 65535
    c.ack_now()
    check = PatternCheck(source_pattern())
    assert c.pump(lambda: len(c.rcvd) >= 200000, 10), "%d bytes after the window opened" % len(c.rcvd)
    check.feed(bytes(c.rcvd))
    assert check.bad_at is None, "byte %d differs from the source's pattern" % check.bad_at
    # our FIN: the source closes after what it queued
    c.send(flags=FIN | ACK)
    assert c.pump(lambda: c.fin, 10), "no FIN from source"
    c.pump(lambda: False, 0.1)
    check = PatternCheck(source_pattern())
    check.feed(bytes(c.rcvd))
    assert check.bad_at is None, "byte %d differs from the source's pattern" % check.bad_at
    assert_quiet_then_empty(stack, MSL_MS)


@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS, TCP_RTO_MIN_MS=200)
def test_zero_window_linux_reader_pauses(stack):
    """Linux with a small receive buffer that stops reading for 2 s: the
    stack fills the window, probes the zero window, and when Linux reads
    again every byte of the source arrives in order."""
    before = stack.counters()
    s = connect(stack, SOURCE_PORT, rcvbuf=2048)
    check = PatternCheck(source_pattern())
    try:
        time.sleep(2.0)
        mid = stack.delta_since(before)
        deadline = time.monotonic() + 20
        while check.pos < 1 << 20:
            assert time.monotonic() < deadline, "%d bytes by the deadline" % check.pos
            b = s.recv(65536)
            assert b, "EOF after %d bytes" % check.pos
            check.feed(b)
        assert check.bad_at is None, "byte %d differs from the pattern" % check.bad_at
        fin_then_drain(s, check, deadline)
    finally:
        s.close()
    assert check.bad_at is None, "byte %d differs from the pattern" % check.bad_at
    assert mid.get("tcp_window_probe", 0) >= 2, mid
    snap, _ = assert_quiet_then_empty(stack, MSL_MS)
    d = stack.delta(before, snap)
    assert d.get("tcp_timeout", 0) == 0 and d.get("tcp_closed") == 1, d


# ---------------------------------------------------------------- TIME_WAIT

@both_widths
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_time_wait_and_syn_into_it(stack, peer):
    """qotd closes first: after the peer's FIN the stack waits in TIME_WAIT,
    re-acknowledges a retransmitted FIN (and waits 2 MSL again), answers an
    old SYN with an ACK, reopens for a SYN above the old sequence space
    (RFC 1122 4.2.2.13), and forgets the connection 2 MSL after its last FIN."""
    from stack.services import QUOTE
    c = peer.conn(QOTD_PORT)
    c.open()
    assert c.pump(lambda: c.fin, 3), "no quote and FIN: %r" % bytes(c.rcvd)
    assert bytes(c.rcvd) == QUOTE
    before = stack.counters()
    c.send(flags=FIN | ACK)
    s = c.expect(lambda s: True, 2)
    assert s is not None and is_pure_ack(s) and s.ack == c.snd_nxt, s
    snap = stack.counters()
    assert tcp_states(snap) == {"TIME_WAIT": 1}, (c.log, stack.delta(before, snap))
    # the peer's FIN again (our ACK was lost, it thinks): ACKed again
    time.sleep(0.3)
    c.send(flags=FIN | ACK, seq=sadd(c.snd_nxt, -1), advance=False)
    t_fin = time.monotonic()
    s = c.expect(lambda s: True, 2)
    assert s is not None and is_pure_ack(s) and s.ack == c.snd_nxt, s
    # an old SYN (the first incarnation's ISN): an ACK, nothing reopened
    c.send(flags=SYN, seq=c.iss, ack=0, advance=False, options=mss_opt())
    s = c.expect(lambda s: True, 2)
    assert s is not None and is_pure_ack(s), s
    # still there at 2 MSL after the first FIN (the second restarted it) ...
    time.sleep(max(0.0, 2 * MSL_MS / 1000.0 - 0.2 - (time.monotonic() - t_fin)))
    assert tcp_states(stack.counters()) == {"TIME_WAIT": 1}
    # ... gone by 2 MSL after the second (+ a timer tick and the snapshot)
    snap = stack.snapshot_until(lambda x: x["tcp"]["pcbs"] == 0, 2, 0.02)
    took = time.monotonic() - t_fin
    assert snap["tcp"]["pcbs"] == 0 and 2 * MSL_MS / 1000.0 - 0.05 <= took <= 2 * MSL_MS / 1000.0 + 0.5, took
    d = delta(stack, before, ("tcp_timewait_expired", "tcp_timewait_reopened", "tcp_rst_tx"))
    assert d == {"tcp_timewait_expired": 1, "tcp_timewait_reopened": 0, "tcp_rst_tx": 0}, d

    # again, and this time a new SYN reopens the TIME_WAIT connection
    c = peer.conn(QOTD_PORT)
    c.open()
    assert c.pump(lambda: c.fin, 3)
    c.send(flags=FIN | ACK)
    s = c.expect(lambda s: True, 2)
    assert s is not None and s.ack == c.snd_nxt, s
    assert tcp_states(stack.counters()) == {"TIME_WAIT": 1}
    before = stack.counters()
    c2 = peer.conn(QOTD_PORT, sport=c.sport, iss=sadd(c.snd_nxt, 100000))
    c2.cursor = c.cursor
    c2.open()
    assert c2.pump(lambda: c2.fin, 3) and bytes(c2.rcvd) == QUOTE
    d = delta(stack, before, ("tcp_timewait_reopened", "tcp_accepted", "tcp_timewait_expired"))
    assert d == {"tcp_timewait_reopened": 1, "tcp_accepted": 1, "tcp_timewait_expired": 0}, d
    c2.send(flags=FIN | ACK)
    s = c2.expect(lambda s: True, 2)
    assert s is not None and s.ack == c2.snd_nxt, s
    assert_quiet_then_empty(stack, MSL_MS)


@pytest.mark.stack_config(TCP_MSL_MS=1000)
def test_time_wait_linux_reconnects_from_same_port(stack):
    """Linux reconnects to qotd from the port whose connection the stack
    still holds in TIME_WAIT: Linux's new ISN lies above the old sequence
    space, so the stack reopens (RFC 1122 4.2.2.13) instead of stalling the
    client for 2 MSL."""
    from stack.services import QUOTE
    port = 41000 + os.getpid() % 1000
    before = stack.counters()
    for i in range(3):
        s = stack.netns.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.settimeout(5)
            s.bind(("198.51.100.1", port))
            t0 = time.monotonic()
            s.connect((stack.stack_ip, QOTD_PORT))
            took = time.monotonic() - t0
            digest, n = recv_all(s, 1000, time.monotonic() + 5)
            got = n
        finally:
            s.close()
        assert got == len(QUOTE), "connection %d: %d bytes" % (i, got)
        assert took < 0.5, "connection %d took %.2f s to open" % (i, took)
        snap = stack.snapshot_until(lambda x: tcp_states(x) == {"TIME_WAIT": 1}, 2, 0.02)
        assert tcp_states(snap) == {"TIME_WAIT": 1}, tcp_states(snap)
    d = stack.delta_since(before)
    assert d.get("tcp_timewait_reopened") == 2 and d.get("tcp_accepted") == 3, d
    assert_quiet_then_empty(stack, 1000)
