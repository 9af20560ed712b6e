"""Black-box: the stack's initial sequence numbers (RFC 6528), read from the
SYN-ACKs it sends the crafted peer (tcp_peer: 198.51.100.77) on discard (9).

RFC 6528: ISN = M + F(4-tuple, secret key), M a 4 microsecond clock. The
stack's clock is ticks_ms (CLOCK_MONOTONIC in ms, kept to 30 bits), which is
the host's time.monotonic() too, so the residue R = ISN - 250 * ms (mod 2^32)
is F itself, give or take 250 per millisecond between the capture of a
SYN-ACK and the stack's clock reading:

- one 4-tuple: R stays the same over time (the ISN advances with the clock);
- 20 tuples: 20 different ISNs, their residues not one constant;
- restarts of run.py (a new key each): the same tuple's residue differs by
  far more than the clock jitter. Two residues of independent uniform keys
  fall within RESTART_TOL of each other with probability 2*RESTART_TOL/2^32
  (about 2e-6 per pair): the check cannot flake in practice.
"""
import time

import pytest

import netns as netns_mod
from tcp_peer import ACK, SYN, Peer, mss_opt, sdiff
from tcp_util import DISCARD_PORT

pytestmark = pytest.mark.blackbox

TICKS_MASK = (1 << 30) - 1
JITTER_MS = 100                 # capture time vs the stack's clock reading, on a loaded machine
RESTART_TOL = 250 * 20
SPORT = 40123


def residue(isn, t):
    ms = int(t * 1000) & TICKS_MASK
    return (isn - 250 * ms) & 0xFFFFFFFF


def sample_isn(peer, sport):
    """The ISN of the stack's SYN-ACK to a SYN from sport, and when it was
    captured; the half-open connection is reset at once (exact RST)."""
    c = peer.conn(DISCARD_PORT, sport=sport)
    c.send(flags=SYN, ack=0, options=mss_opt())
    sa = c.expect(lambda s: s.flags & (SYN | ACK) == SYN | ACK, 3)
    assert sa is not None, "no SYN-ACK"
    c.reset()
    return sa.seq, sa.t


def wait_empty(stack):
    snap = stack.snapshot_until(lambda s: s["tcp"]["pcbs"] == 0, 3, 0.02)
    assert snap["tcp"]["pcbs"] == 0, snap["tcp"]


@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
def test_isn_advances_with_the_clock_per_tuple(stack):
    peer = Peer(stack)
    try:
        samples = []
        for _ in range(5):
            samples.append(sample_isn(peer, SPORT))
            wait_empty(stack)       # the same tuple again: a new connection each time
            time.sleep(0.2)
    finally:
        peer.close()
    isn0, t0 = samples[0]
    for isn, t in samples[1:]:
        want = 250 * (t - t0) * 1000
        got = (isn - isn0) & 0xFFFFFFFF
        assert abs(got - want) <= 250 * JITTER_MS, (
            "ISN moved by %d over %.3f s (4 us clock: %d)" % (got, t - t0, want))
    assert len({isn for isn, _ in samples}) == len(samples)
    wait_empty(stack)


@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
def test_isn_unpredictable_across_tuples(stack):
    peer = Peer(stack)
    try:
        samples = [sample_isn(peer, SPORT + 1 + i) for i in range(20)]
    finally:
        peer.close()
    wait_empty(stack)
    isns = [isn for isn, _ in samples]
    assert len(set(isns)) == 20, "equal ISNs among 20 tuples: %s" % isns
    res = [residue(isn, t) for isn, t in samples]
    spread = max(abs(sdiff(r, res[0])) for r in res)
    assert spread > 250 * JITTER_MS, "ISNs of 20 tuples follow the clock alone: %s" % res
    steps = {sdiff(b, a) for a, b in zip(isns, isns[1:])}
    assert len(steps) > 1, "constant ISN step %s" % steps


def test_isn_unpredictable_across_restarts(stack):
    """The same tuple's ISN residue in three runs of run.py (the fixture's
    and two more, each in its own namespace: a fresh key each time)."""
    runs = []
    peer = Peer(stack)
    try:
        runs.append([sample_isn(peer, SPORT), sample_isn(peer, SPORT + 1)])
    finally:
        peer.close()
    for _ in range(2):
        ns = netns_mod.NetNS.create()
        other = type(stack)(ns, stack.settings, stack.mpy)
        try:
            other.start()
            p = Peer(other)
            try:
                runs.append([sample_isn(p, SPORT), sample_isn(p, SPORT + 1)])
            finally:
                p.close()
            wait_empty(other)
            snap = other.snapshot()
            assert snap["baseline"], snap["pool"]
            assert other.stop() == 0
        finally:
            other.kill()
            ns.delete()
    for k in (0, 1):                    # each of the two tuples
        res = [residue(*r[k]) for r in runs]
        for i in range(len(res)):
            for j in range(i + 1, len(res)):
                d = abs(sdiff(res[i], res[j]))
                assert d > RESTART_TOL, (
                    "runs %d and %d: ISN residues %d apart (clock alone would give 0 +- %d)"
                    % (i, j, d, 250 * JITTER_MS))
    wait_empty(stack)
