"""Black-box: bulk TCP between Linux sockets and the stack's services over
TAP, on both widths (issue 7: "64 MiB each way ..., sha256 identical").

- echo (7): Linux sends N random bytes and reads the echo at the same time
  (both directions at once); the echo's sha256 is the sent bytes' sha256;
- discard (9): N bytes in; the stack counts exactly N delivered, then closes
  its side after our FIN;
- source (19): N bytes out of the stack, each one the service's pattern
  (the same immutable buffer sent by reference again and again); after our
  FIN the stack sends what it queued and closes.

N is 8 MiB in CI and 64 MiB under `make soak` (ZC_SOAK=1); the lossy echo
(5% loss, 5% reordering, 1% duplication each way) 1 MiB and 16 MiB. The stack copies
no payload byte (`copied` stays 0), its pool is back at baseline and no
connection is left but TIME_WAIT ones (none here: Linux closes first).
"""
import time

import pytest

from tcp_util import (echo_sha256, DISCARD_PORT, ECHO_PORT, MIB, SOAK, SOURCE_PORT, fin_then_drain,
                      PatternCheck, Sender, assert_quiet_then_empty, connect, expect_eof,
                      figure, recv_all, source_pattern)

pytestmark = pytest.mark.blackbox

both_widths = pytest.mark.parametrize("stack", ("64", "32"), indirect=True)

N = (64 if SOAK else 8) * MIB
DEADLINE_S = 600 if SOAK else 60
MSL_MS = 500
settings = pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)


def _width(stack):
    return "32" if "unix32" in stack.mpy else "64"


@both_widths
@settings
def test_tcp_echo_both_directions_sha256(stack):
    before = stack.counters()
    took = echo_sha256(stack, N, DEADLINE_S)
    figure("tcp_echo", width=_width(stack), mib_each_way=N // MIB, seconds=round(took, 3),
           mb_s_each_way=round(N / took / 1e6, 2))
    # (Linux closed first: once only TIME_WAIT is left, the stack's LAST_ACK is done)
    snap, _ = assert_quiet_then_empty(stack, MSL_MS)
    d = stack.delta(before, snap)
    assert d.get("tcp_rx_bytes") == N, d
    assert d.get("tcp_accepted") == 1 and d.get("tcp_closed") == 1, d
    assert d["copied"] == 0, "echo copied %d payload bytes" % d["copied"]


@both_widths
@settings
def test_tcp_discard_counts_every_byte(stack):
    before = stack.counters()
    s = connect(stack, DISCARD_PORT)
    try:
        tx = Sender(s, N)
        t0 = time.monotonic()
        tx.run()                    # in this thread: send all, then FIN
        assert tx.error is None, "send failed after %d bytes: %r" % (tx.sent, tx.error)
        expect_eof(s, t0 + DEADLINE_S)   # discard closes after our FIN
        took = time.monotonic() - t0
    finally:
        s.close()
    figure("tcp_discard", width=_width(stack), mib=N // MIB, seconds=round(took, 3),
           mb_s=round(N / took / 1e6, 2))
    snap, _ = assert_quiet_then_empty(stack, MSL_MS)
    d = stack.delta(before, snap)
    assert d.get("tcp_rx_bytes") == N, d
    assert d.get("tcp_accepted") == 1 and d.get("tcp_closed") == 1, d
    assert d["copied"] == 0, d


@both_widths
@settings
def test_tcp_source_pattern_then_graceful_close(stack):
    check = PatternCheck(source_pattern())
    before = stack.counters()
    s = connect(stack, SOURCE_PORT)
    try:
        t0 = time.monotonic()
        deadline = t0 + DEADLINE_S
        while check.pos < N and check.bad_at is None:
            assert time.monotonic() < deadline, "source: %d bytes by the deadline" % check.pos
            b = s.recv(min(65536, N - check.pos))
            assert b, "source closed after %d bytes" % check.pos
            check.feed(b)
        took = time.monotonic() - t0
        assert check.bad_at is None, "source byte %d differs from the pattern" % check.bad_at
        # our FIN: the service closes; what it had queued still arrives, in order
        fin_then_drain(s, check, deadline)
        assert check.bad_at is None, "source byte %d differs from the pattern" % check.bad_at
    finally:
        s.close()
    figure("tcp_source", width=_width(stack), mib=N // MIB, seconds=round(took, 3),
           mb_s=round(N / took / 1e6, 2), tail_after_fin=check.pos - N)
    snap, _ = assert_quiet_then_empty(stack, MSL_MS)
    d = stack.delta(before, snap)
    assert d.get("tcp_accepted") == 1 and d.get("tcp_closed") == 1, d
    assert d["copied"] == 0, "source copied %d payload bytes" % d["copied"]


LOSSY_N = (16 if SOAK else 1) * MIB
LOSSY = dict(TCP_MSL_MS=MSL_MS, TCP_RTO_MIN_MS=200, IMPAIR_SEED=7,
             IMPAIR_RX_LOSS_PCT=5.0, IMPAIR_TX_LOSS_PCT=5.0,
             IMPAIR_RX_REORDER_PCT=5.0, IMPAIR_TX_REORDER_PCT=5.0,
             IMPAIR_RX_DUP_PCT=1.0, IMPAIR_TX_DUP_PCT=1.0)


@both_widths
@pytest.mark.stack_config(**LOSSY)
def test_tcp_echo_lossy_sha256(stack):
    """Issue 7: "16 MiB each way with 5% loss, 5% reordering and 1%
    duplication injected, sha256 identical" (1 MiB in CI), both directions
    of the stack's wire impaired (stack/impair.py)."""
    before = stack.counters()
    s = connect(stack, ECHO_PORT, timeout=60)
    try:
        tx = Sender(s, LOSSY_N)
        t0 = time.monotonic()
        tx.start()
        digest, got = recv_all(s, LOSSY_N + 1, t0 + (1200 if SOAK else 120))
        took = time.monotonic() - t0
        tx.join(60)
        assert not tx.is_alive(), "sender still running"
        assert tx.error is None, "send failed after %d bytes: %r" % (tx.sent, tx.error)
    finally:
        s.close()
    assert got == LOSSY_N, "echo returned %d of %d bytes" % (got, LOSSY_N)
    assert digest == tx.digest, "echo differs from what was sent (sha256)"
    snap, _ = assert_quiet_then_empty(stack, MSL_MS, slack_s=5.0)
    d = stack.delta(before, snap)
    figure("tcp_echo_lossy", width=_width(stack), mib_each_way=LOSSY_N // MIB,
           seconds=round(took, 3), mb_s_each_way=round(LOSSY_N / took / 1e6, 3),
           retransmits=d.get("tcp_retransmit", 0), rto=d.get("tcp_rto", 0),
           fast_retransmit=d.get("tcp_fast_retransmit", 0))
    assert d.get("tcp_rx_bytes") == LOSSY_N, d
    assert d.get("tcp_retransmit", 0) > 0, d      # the loss was there, and repaired
