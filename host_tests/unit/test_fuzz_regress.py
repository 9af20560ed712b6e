# Regressions found by the fuzzers (tools/fuzz over TAP, tools/fuzz_atheris.py
# in process; docs/fuzz.md), each the smallest input that showed the bug,
# on both lanes.
import frames
from frames import ETH_IP, PROTO_TCP, TCP_ACK, TCP_SYN
from support import PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import services

ECHO = 7


def _seg(sport, seq, ack, flags, data=b""):
    return frames.eth(US_MAC, PEER_MAC, ETH_IP,
                      frames.ipv4(PEER_IP, US_IP, PROTO_TCP,
                                  frames.tcp(sport, ECHO, seq, ack, flags, 65535, data, b"",
                                             PEER_IP, US_IP)))


def _open(r, sport, iss):
    """A handshake with the echo service; the stack's ISN + 1."""
    r.inject(_seg(sport, iss, 0, TCP_SYN))
    r.poll(r.t + 1)
    synack = [frames.parse_frame(f)["tcp"] for f in r.sent()][0]
    r.inject(_seg(sport, iss + 1, synack["seq"] + 1, TCP_ACK))
    r.poll(r.t + 1)
    return synack["seq"] + 1


def _echoed(r, sport, seq, nxt, n):
    """What the echo sends back (acknowledged as it comes, so Nagle lets the
    rest go), up to n bytes or 5 rounds."""
    back = b""
    for _ in range(5):
        r.poll(r.t + 50)
        for f in r.sent():
            t = frames.parse_frame(f)["tcp"]
            back += t["data"]
        r.inject(_seg(sport, seq, nxt + len(back), TCP_ACK))
        if len(back) >= n:
            break
    r.poll(r.t + 1)
    return back


def _held_tcp(r):
    from stack.pool import pool
    return pool.stats()["held"][pool.H_TCP]


def test_ooseq_of_a_silent_peer_expires():
    # tools/fuzz --count 1000000 --seed 11, batch 54: a fuzz session left a
    # connection ESTABLISHED with an out-of-order segment queued and went
    # away; the block stayed held for good (10 simulated minutes later
    # still), and TCP_OOSEQ_MAX segments on each of a few such connections
    # use up TCP's whole block quota (every connection's data is then
    # dropped). Now what a silent peer left out of order is freed after
    # TCP_OOSEQ_TIMEOUT_RTOS RTOs without a segment from it, counted; the
    # connection stays, and the peer sending it all again works.
    with Rig() as r:
        r.learn()
        services.echo(r.st.tcp, ECHO)
        nxt = _open(r, 40000, 1000)
        r.inject(_seg(40000, 1101, nxt, TCP_ACK, b"x" * 50))
        r.poll(r.t + 1)
        r.sent()
        assert _held_tcp(r) == 1
        r.mark()
        rto = r.st.tcp.active[0].rto
        limit = getattr(r.config, "TCP_OOSEQ_TIMEOUT_RTOS", 6) * rto
        r.run_until(r.t + limit - 2 * r.config.TIMER_TICK_MS)
        assert _held_tcp(r) == 1 and r.delta().get("tcp_ooseq_expired", 0) == 0
        r.run_until(r.t + 600000)
        assert _held_tcp(r) == 0, r.pool.stats()["held"]
        assert r.delta() == {"tcp_ooseq_expired": 1, "arp_expired": 1}, r.delta()
        assert r.st.tcp_summary()["states"] == {"ESTABLISHED": 1}
        r.sent()
        r.learn()
        # the whole stream again, in order: echoed
        r.inject(_seg(40000, 1001, nxt, TCP_ACK, b"a" * 100))
        r.inject(_seg(40000, 1101, nxt, TCP_ACK, b"x" * 50))
        back = _echoed(r, 40000, 1151, nxt, 150)
        assert back == b"a" * 100 + b"x" * 50, back


def test_ooseq_kept_while_the_peer_talks():
    # the timer counts from the peer's last segment: a peer that keeps
    # sending (here: pure ACKs, the gap still open) keeps what it sent ahead
    with Rig() as r:
        r.learn()
        services.echo(r.st.tcp, ECHO)
        nxt = _open(r, 40001, 5000)
        r.inject(_seg(40001, 5101, nxt, TCP_ACK, b"y" * 20))
        r.poll(r.t + 1)
        rto = r.st.tcp.active[0].rto
        limit = getattr(r.config, "TCP_OOSEQ_TIMEOUT_RTOS", 6) * rto
        end = r.t + 3 * limit
        while r.t < end:
            r.run_until(r.t + limit // 2)
            r.inject(_seg(40001, 5001, nxt, TCP_ACK))
        r.poll(r.t + 1)
        assert _held_tcp(r) == 1
        r.inject(_seg(40001, 5001, nxt, TCP_ACK, b"b" * 100))
        back = _echoed(r, 40001, 5121, nxt, 120)
        assert back == b"b" * 100 + b"y" * 20, back
