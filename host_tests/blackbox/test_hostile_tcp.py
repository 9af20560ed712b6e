"""Hostile traffic, TCP (docs/fuzz.md maps each vulnerability class to its
test), beyond what test_tcp_attacks.py already covers:

- urgent-pointer edge cases (URGENT/11 CVE-2019-12255/12260/12261, an
  integer underflow for pointer 0 and state confusion for URG on a SYN;
  INFRA:HALT CVE-2021-31400, a panic for a pointer past the segment;
  AMNESIA:33 CVE-2020-17437): urgent data is ordinary in-line data
  (RFC 6093), whatever the pointer says; nothing is dropped or reset;
- out-of-order hoarding: connections that fill their out-of-order queues
  and fall silent (found by tools/fuzz) must not hold TCP's block quota
  for good: the blocks go after TCP_OOSEQ_TIMEOUT_RTOS RTOs and a Linux
  connection that was starved of blocks meanwhile completes.
"""
import os
import time

import pytest

from tcp_peer import ACK, FIN, PSH, SYN, URG, Peer, mss_opt, sadd
from tcp_util import DISCARD_PORT, ECHO_PORT, assert_quiet_then_empty, connect, tcp_states

pytestmark = pytest.mark.blackbox

MSL_MS = 500
H_TCP = 5                       # stack/pool.py: the pool holder TCP's received data is charged to
QUOTA_TCP = 64                  # config.QUOTA_TCP_BLOCKS
OOSEQ_MAX = 16                  # config.TCP_OOSEQ_MAX


@pytest.fixture
def peer(stack):
    p = Peer(stack)
    try:
        yield p
    finally:
        p.close()


def delta(stack, before, keys):
    d = stack.delta_since(before)
    return {k: d.get(k, 0) for k in keys}


@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_urgent_pointer_edges(stack, peer):
    before = stack.counters()
    c = peer.conn(ECHO_PORT)
    c.open()
    cases = [
        ("URG, pointer 0 (CVE-2019-12255 underflow)", b"A" * 10, URG | PSH | ACK, 0),
        ("URG, pointer 1", b"B" * 10, URG | PSH | ACK, 1),
        ("URG, pointer at the segment's end", b"C" * 10, URG | PSH | ACK, 10),
        ("URG, pointer 0xFFFF past the segment (CVE-2021-31400)", b"D" * 10, URG | PSH | ACK, 0xFFFF),
        ("URG on a pure ACK, pointer ahead", b"", URG | ACK, 5),
        ("URG, pointer 0x8000", b"E" * 5, URG | PSH | ACK, 0x8000),
        ("pointer without the URG flag", b"F" * 7, PSH | ACK, 3),
    ]
    want = b""
    for label, data, flags, urg in cases:
        c.send(data, flags=flags, urg=urg)
        want += data
        assert c.pump(lambda: len(c.rcvd) >= len(want), 3), "%s: echo %r, wanted %r" % (
            label, bytes(c.rcvd), want)
    c.pump(lambda: False, 0.1)
    assert bytes(c.rcvd) == want
    # URG on the FIN: the data, then the close, as without it
    c.send(b"G" * 3, flags=URG | FIN | ACK, urg=100)
    assert c.pump(lambda: c.fin, 3), "no FIN after a FIN with URG: %r" % c.log[-3:]
    assert bytes(c.rcvd) == want + b"G" * 3
    # URG on a SYN (CVE-2019-12260: state confusion): an ordinary open
    c2 = peer.conn(ECHO_PORT)
    c2.send(flags=SYN | URG, ack=0, urg=0xFFFF, options=mss_opt())
    sa = c2.expect(lambda s: s.flags & (SYN | ACK) == SYN | ACK, 2)
    assert sa is not None and sa.ack == c2.snd_nxt and sa.urg == 0, sa
    c2.irs = sa.seq
    c2.rcv_nxt = sadd(sa.seq, 1)
    c2.ack_now()
    c2.send(b"after urgent syn", flags=URG | PSH | ACK, urg=0)
    assert c2.pump(lambda: bytes(c2.rcvd) == b"after urgent syn", 3), bytes(c2.rcvd)
    d = delta(stack, before, ("tcp_rx_bytes", "tcp_rst_tx", "tcp_rst_rx", "tcp_bad_offset",
                              "tcp_bad_checksum", "tcp_drop_no_buffer", "tcp_accepted"))
    assert d == dict(tcp_rx_bytes=len(want) + 3 + 16, tcp_rst_tx=0, tcp_rst_rx=0, tcp_bad_offset=0,
                     tcp_bad_checksum=0, tcp_drop_no_buffer=0, tcp_accepted=2), d
    # nothing the stack sent carried the URG flag: it never sends urgent data
    assert not [s for s in c.log + c2.log if s.flags & URG or s.urg], "URG from the stack"
    c.send(flags=ACK)
    c2.reset()
    assert_quiet_then_empty(stack, MSL_MS)


@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS, TCP_RTO_INITIAL_MS=200, TCP_RTO_MIN_MS=200)
def test_ooseq_hoarding_expires(stack, peer):
    hoarders = QUOTA_TCP // OOSEQ_MAX
    conns = []
    before = stack.counters()
    for i in range(hoarders):
        c = peer.conn(DISCARD_PORT, sport=30000 + i)
        c.open()
        # a gap at the front, then OOSEQ_MAX segments ahead of it
        for k in range(OOSEQ_MAX):
            c.send(b"h" * 64, seq=sadd(c.snd_nxt, 100 + 100 * k), advance=False)
        conns.append(c)
    snap = stack.snapshot_until(lambda s: s["pool"]["held"][H_TCP] >= QUOTA_TCP, 2, 0.05)
    assert snap["pool"]["held"][H_TCP] == QUOTA_TCP, snap["pool"]
    t_full = time.monotonic()
    # Linux's echo meanwhile: its data has no block to be charged to until
    # the hoarded ones expire; then its retransmission goes through
    s = connect(stack, ECHO_PORT, timeout=15)
    try:
        data = os.urandom(3000)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(65536)
            assert b, "EOF after %d bytes" % len(got)
            got += b
        took = time.monotonic() - t_full
    finally:
        s.close()
    assert got == data
    d = delta(stack, before, ("tcp_ooseq", "tcp_ooseq_expired", "tcp_drop_no_buffer"))
    assert d["tcp_ooseq"] == QUOTA_TCP and d["tcp_ooseq_expired"] == QUOTA_TCP, d
    assert d["tcp_drop_no_buffer"] >= 1, d          # it was starved, for a while
    # 6 RTOs of 200 ms after the last hoarded segment, plus Linux's backoff
    assert took < 10, took
    assert tcp_states(stack.counters()).get("ESTABLISHED", 0) >= hoarders
    for c in conns:
        c.reset()
    assert_quiet_then_empty(stack, MSL_MS)


# ---------------------------------------------------------------- ports

PORTS_N = 24
PORTS_SERVER = 7011


@pytest.fixture
def port_server(netns):
    """A Linux server (bound before the stack starts) that records each
    connection's source port, echoes until EOF and closes."""
    import socket
    import threading
    ls = netns.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", PORTS_SERVER))
    ls.listen(64)
    ls.settimeout(0.2)
    srv = {"ports": [], "halt": threading.Event()}

    def serve():
        deadline = time.monotonic() + 120
        while not srv["halt"].is_set() and time.monotonic() < deadline:
            try:
                c, addr = ls.accept()
            except socket.timeout:
                continue
            srv["ports"].append(addr[1])
            with c:
                c.settimeout(5)
                try:
                    while True:
                        b = c.recv(65536)
                        if not b:
                            break
                        c.sendall(b)
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv["halt"].set()
        t.join(2)
        ls.close()


@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
@pytest.mark.stack_args("--connect", "198.51.100.1:%d" % PORTS_SERVER, "--count", str(PORTS_N),
                        "--bytes", "16")
def test_ephemeral_ports_unpredictable(port_server, stack):
    """Source ports of the stack's active opens (NUMBER:JACK's and the DNS
    classes' "predictable ports", RFC 6056): from the dynamic range, spread
    over it, not a counter."""
    import json
    line = stack.next_line(lambda s: s.startswith("CLIENT"), 60, "CLIENT")
    res = json.loads(line[len("CLIENT"):])
    assert res["ok"] == PORTS_N, res
    ports = port_server["ports"]
    assert len(ports) == PORTS_N, ports
    assert all(49152 <= p <= 65535 for p in ports), ports
    assert len(set(ports)) >= PORTS_N - 2, ports          # 24 draws from 16384: collisions are rare
    steps = [(b - a) % 16384 for a, b in zip(ports, ports[1:])]
    # a counter (or a counter plus a constant) shows as one repeated step
    assert max(steps.count(s) for s in set(steps)) <= 2, steps
    assert max(ports) - min(ports) > 4096, ports           # spread over the range, not a window
    assert_quiet_then_empty(stack, MSL_MS)
