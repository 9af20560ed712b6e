# IPv4 reassembly (stack/reasm.py) through a whole Stack on a memif, clock
# driven by the test: any arrival order, duplicates, identical and different
# overlaps (a different one discards the whole datagram), size and length
# rules, bounds on datagrams and blocks (ping keeps answering in a flood),
# and the timer with its ICMP time exceeded. Runs on both lanes; every test
# ends with the stack shut down and the pool back at NBLOCKS free.
import frames
from frames import ETH_IP, PROTO_ICMP, PROTO_UDP
from support import NEAR_WRAP, PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import pbuf
from stack.pool import pool

PORT = 4000


def _inject(r, ipbytes):
    r.inject(frames.eth(US_MAC, PEER_MAC, ETH_IP, ipbytes))


def _udp_dgram(n=600, ident=77, seed=0):
    """A UDP datagram to PORT (n data bytes) and its UDP bytes (the IP payload)."""
    data = frames.pattern(n, seed)
    u = frames.udp(1000, PORT, data, PEER_IP, US_IP)
    return frames.ipv4(PEER_IP, US_IP, PROTO_UDP, u, ident=ident), u, data


def _frag(u, start, end, ident=77, more=True, proto=PROTO_UDP, src=PEER_IP):
    """Fragment carrying IP payload bytes u[start:end]."""
    return frames.raw_fragment(src, US_IP, proto, ident, start, u[start:end], more)


def _received(pcb):
    out = []
    while True:
        item = pcb.recv()
        if item is None:
            return out
        p, src, sport = item
        out.append(pbuf.to_bytes(p))
        pbuf.free(p)


def _bound(r):
    r.learn()
    return r.st.udp.bind(PORT)


# ---- orders ------------------------------------------------------------------------

def _deliver_in_order(order):
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(600)
        fr = frames.fragment(dg, 128, 128, 128, 128)      # 5 fragments, last 96 bytes
        assert len(fr) == 5
        for k in order:
            assert _received(pcb) == []
            _inject(r, fr[k])
            r.poll()
        assert _received(pcb) == [data]
        d = r.delta()
        assert d["reasm_fragments"] == 5 and d["reasm_ok"] == 1 and d["udp_rx"] == 1
        assert d["ipv4_rx"] == 1
        assert pool.held(pool.H_REASM) == 0 and r.quiesced()
        assert r.sent() == []
        r.finish()


def test_in_order():
    _deliver_in_order([0, 1, 2, 3, 4])


def test_reverse_order():
    _deliver_in_order([4, 3, 2, 1, 0])


def test_shuffled():
    for order in ([2, 0, 4, 1, 3], [3, 4, 0, 2, 1], [1, 3, 0, 4, 2], [4, 0, 3, 1, 2]):
        _deliver_in_order(order)


def test_all_in_one_poll_with_icmp_echo():
    # an echo request in fragments: the reply (one datagram) carries all the data
    with Rig() as r:
        r.learn()
        data = frames.pattern(1000)
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp_echo(9, 3, data), ident=5)
        for fr in frames.fragment(dg, 400, 400):
            _inject(r, fr)
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1
        ic = fs[0]["icmp"]
        assert ic["type"] == 0 and ic["checksum_ok"] and ic["data"] == data
        r.finish()


# ---- duplicates and overlaps ----------------------------------------------------------

def test_exact_duplicates_harmless():
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(600)
        fr = frames.fragment(dg, 128, 128, 128, 128)
        for k in (1, 1, 0, 0, 3, 4, 4, 2):
            _inject(r, fr[k])
        r.poll()
        assert _received(pcb) == [data]
        d = r.delta()
        assert d["reasm_duplicate"] == 3 and d["reasm_ok"] == 1 and d["reasm_fragments"] == 5
        _inject(r, fr[2])       # after completion: a fresh datagram, timed out later
        r.poll()
        assert _received(pcb) == []
        r.run_until(r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert r.delta()["reasm_timeout"] == 1
        assert r.quiesced()
        r.finish()


def test_identical_partial_overlap_accepted():
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(100)     # 108 bytes of UDP
        for a, b, more in ((0, 16, True), (8, 32, True), (24, 64, True), (40, 56, True),
                           (56, 108, False)):
            _inject(r, _frag(u, a, b, more=more))
            r.poll()
        assert _received(pcb) == [data]
        d = r.delta()
        assert d["reasm_ok"] == 1 and "reasm_overlap" not in d
        assert r.quiesced()
        r.finish()


def test_overlap_covering_held_fragments():
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(100)
        for a, b, more in ((16, 24, True), (32, 40, True), (8, 48, True), (48, 108, False),
                           (0, 24, True)):
            _inject(r, _frag(u, a, b, more=more))
            r.poll()
        assert _received(pcb) == [data]
        assert r.quiesced()
        r.finish()


def test_overlap_with_different_data_discards_datagram():
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(100)
        _inject(r, _frag(u, 0, 16))
        evil = bytearray(u[8:32])
        evil[3] ^= 0xFF                   # byte 11: inside the held [0, 16)
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 77, 8, bytes(evil), True))
        r.poll()
        d = r.delta()
        assert d["reasm_overlap"] == 1
        assert pool.held(pool.H_REASM) == 0        # the whole datagram is gone
        r.mark()
        # the rest arrives: it starts a new datagram that never completes
        _inject(r, _frag(u, 8, 32))
        _inject(r, _frag(u, 32, 108, more=False))
        r.poll()
        assert _received(pcb) == []
        assert "reasm_ok" not in r.delta()
        r.run_until(r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert _received(pcb) == []
        d = r.delta()
        assert d["reasm_timeout"] == 1 and "reasm_ok" not in d
        assert r.sent() == []           # the first fragment was not held: no ICMP
        assert r.quiesced()
        r.finish()


def test_overlap_different_data_before_held_fragment():
    # the new fragment lies in front of a held one and disagrees with it
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(100)
        _inject(r, _frag(u, 32, 108, more=False))
        evil = bytearray(u[16:40])
        evil[-1] ^= 1
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 77, 16, bytes(evil), True))
        _inject(r, _frag(u, 0, 16))
        r.poll()
        assert r.delta()["reasm_overlap"] == 1
        assert _received(pcb) == []
        r.finish()


# ---- sizes and lengths ---------------------------------------------------------------

def test_too_big():
    with Rig() as r:
        _bound(r)
        for off, n, more in ((65528, 8, True), (65512, 8, False), (65496, 24, True),
                             (65520, 1, False)):
            _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 9, off, bytes(n), more))
            r.poll()
            assert r.delta() == {"eth_rx": 1, "reasm_too_big": 1}, (off, n)
            r.mark()
        # exactly 65535 with the header: held
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 9, 65504, bytes(11), False))
        r.poll()
        assert r.delta() == {"eth_rx": 1, "reasm_fragments": 1}
        assert pool.held(pool.H_REASM) == 1
        r.finish()


def test_bad_length_non_last_fragment():
    with Rig() as r:
        _bound(r)
        for n in (12, 1, 0, 7, 9):
            _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 9, 8, bytes(n), True))
            r.poll()
            assert r.delta() == {"eth_rx": 1, "reasm_bad_length": 1}, n
            r.mark()
        assert pool.held(pool.H_REASM) == 0
        r.finish()


def test_conflicting_last_fragments():
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(100)
        _inject(r, _frag(u, 0, 16))                 # a hole at [16, 32)
        _inject(r, _frag(u, 32, 108, more=False))
        r.poll()
        assert pool.held(pool.H_REASM) == 2
        r.mark()
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 77, 32, u[32:100], False))
        r.poll()
        d = r.delta()
        assert d["reasm_bad_length"] == 1
        assert pool.held(pool.H_REASM) == 0        # the whole datagram dropped
        _inject(r, _frag(u, 16, 32))
        r.poll()
        assert _received(pcb) == []
        r.finish()


def test_data_past_a_known_end():
    with Rig() as r:
        pcb = _bound(r)
        dg, u, data = _udp_dgram(100)
        _inject(r, _frag(u, 32, 64, more=False))        # says: 64 bytes in all
        _inject(r, _frag(u, 0, 72))                     # reaches past it
        r.poll()
        assert r.delta()["reasm_bad_length"] == 1
        assert pool.held(pool.H_REASM) == 0 and _received(pcb) == []
        r.finish()


# ---- bounds ---------------------------------------------------------------------------

def test_new_datagram_evicts_the_oldest():
    with Rig() as r:
        _bound(r)
        nmax = r.config.REASM_MAX_DATAGRAMS
        for ident in range(1, nmax + 3):
            dg, u, data = _udp_dgram(100, ident=ident)
            _inject(r, _frag(u, 0, 16, ident=ident))
            r.poll(r.t + 1)
        d = r.delta()
        # every first fragment taken; the two oldest datagrams made room
        assert d["reasm_fragments"] == nmax + 2 and d["reasm_evicted"] == 2
        assert pool.held(pool.H_REASM) == nmax and r.st.ip.reasm.active() == nmax
        # the newest completes; the evicted ones' blocks went back to the pool
        dg, u, data = _udp_dgram(100, ident=nmax + 2)
        _inject(r, _frag(u, 16, 108, ident=nmax + 2, more=False))
        r.poll()
        d = r.delta()
        assert d["reasm_ok"] == 1 and d["udp_rx"] == 1
        r.finish()


def test_spoofed_first_fragments_do_not_shut_out_a_good_datagram():
    # A flood fills every datagram record and the whole block quota with
    # datagrams that never complete; a good fragmented ping arriving after it
    # is reassembled (evicting the oldest) and answered, in fragments.
    with Rig() as r:
        r.learn()
        nmax = r.config.REASM_MAX_DATAGRAMS
        per = r.config.QUOTA_REASM_BLOCKS // nmax
        for ident in range(1, nmax + 1):
            for k in range(per):
                _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_ICMP, 0x5000 + ident, 8 * k,
                                               frames.pattern(8, ident), True))
        r.poll(r.t + 1)
        assert pool.held(pool.H_REASM) == nmax * per == r.config.QUOTA_REASM_BLOCKS
        r.mark()
        data = frames.pattern(3000, 3)
        echo = frames.icmp_echo(0x77, 9, data)
        for f in frames.fragment(frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, echo, ident=0x6001),
                                 1480, 1480):
            _inject(r, f)
        r.poll(r.t + 1)
        d = r.delta()
        assert d["reasm_ok"] == 1 and d["icmp_echo_tx"] == 1, d
        assert d["reasm_evicted"] >= 1 and "reasm_no_buffer" not in d, d
        replies = [f for f in r.sent_parsed() if "ip" in f]
        assert len(replies) == 3
        got = frames.reassemble([f["ip"] for f in replies])
        assert got is not None
        r.finish()


def test_new_datagram_takes_blocks_from_one_holding_the_whole_quota():
    # One datagram holds the whole block quota: the first fragment of a new
    # one evicts it (the quota is for datagrams that can still complete, and
    # the oldest is the likeliest to be junk); refused fragments never leave
    # empty records behind.
    with Rig() as r:
        _bound(r)
        quota = r.config.QUOTA_REASM_BLOCKS
        for k in range(quota):
            _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 1, 8 + 8 * k,
                                           frames.pattern(8, k), True))
            r.poll(r.t + 1)
        # more fragments of the same datagram: no room, and nothing to evict for it
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 1, 8 + 8 * quota,
                                       frames.pattern(8, 0), True))
        r.poll(r.t + 1)
        d = r.delta()
        assert d["reasm_fragments"] == quota and d["reasm_no_buffer"] == 1
        assert "reasm_evicted" not in d
        r.mark()
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 2, 8, frames.pattern(8, 2), True))
        r.poll(r.t + 1)
        d = r.delta()
        assert d == {"eth_rx": 1, "reasm_fragments": 1, "reasm_evicted": 1}, d
        assert pool.held(pool.H_REASM) == 1 and r.st.ip.reasm.active() == 1
        r.run_until(r.t + r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert r.delta()["reasm_timeout"] == 1
        r.finish()


def test_fragment_refused_for_blocks_leaves_no_record():
    with Rig(QUOTA_REASM_BLOCKS=2) as r:
        _bound(r)
        for k in range(2):
            _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 1, 8 + 8 * k,
                                           frames.pattern(8, k), True))
        r.poll(r.t + 1)
        r.pool.set_reserve(r.pool.NBLOCKS)      # no block may leave the RX path now
        _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, 2, 8, frames.pattern(8, 2), True))
        r.poll(r.t + 1)
        d = r.delta()
        # the new datagram evicted the old one but still found no block (the
        # RX reserve is not for reassembly): counted, and no record kept
        assert d["reasm_no_buffer"] == 1 and d["reasm_evicted"] == 1, d
        assert r.st.ip.reasm.active() == 0 and pool.held(pool.H_REASM) == 0
        r.finish()


def test_flood_beyond_block_quota_while_ping_answers():
    with Rig() as r:
        _bound(r)
        quota = r.config.QUOTA_REASM_BLOCKS
        nd = r.config.REASM_MAX_DATAGRAMS
        per = quota // nd + 4                   # more fragments than the quota holds
        pings = 0
        replies = 0
        for k in range(per):
            for ident in range(1, nd + 1):      # never a first or a last fragment
                _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_UDP, ident, 8 + 8 * k,
                                               frames.pattern(8, k), True))
            pings += 1
            r.ping_in(seq=pings)
            r.poll(r.t + 1)
            for f in r.sent_parsed():
                if "icmp" in f and f["icmp"]["type"] == 0 and f["icmp"]["seq"] == pings:
                    replies += 1
        assert replies == pings
        d = r.delta()
        assert d["reasm_fragments"] == quota
        assert d["reasm_no_buffer"] == per * nd - quota
        assert d["icmp_echo_tx"] == pings
        assert pool.held(pool.H_REASM) == quota
        # the flood times out and gives every block back; no first fragment: no ICMP
        r.run_until(r.t + r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert r.delta()["reasm_timeout"] == nd
        assert r.sent() == []
        assert pool.held(pool.H_REASM) == 0 and r.quiesced()
        r.finish()


# ---- the timer ----------------------------------------------------------------------------

def test_timeout_with_first_fragment_sends_time_exceeded():
    _timeout_with_first_fragment(0)


def test_timeout_across_the_clock_wrap():
    # the stack's clock starts 1 s before it wraps at 2^30: the deadline lies
    # past the wrap, and must neither fire at once nor never
    _timeout_with_first_fragment(NEAR_WRAP)


def _timeout_with_first_fragment(now):
    with Rig(now=now) as r:
        _bound(r)
        dg, u, data = _udp_dgram(100)
        first = _frag(u, 0, 16)
        _inject(r, first)
        _inject(r, _frag(u, 32, 108, more=False))
        r.poll(10)
        timeout = r.config.REASM_TIMEOUT_MS
        r.run_until(10 + timeout - 1, step=500)
        assert r.sent() == [] and pool.held(pool.H_REASM) == 2
        r.run_until(10 + timeout + r.config.TIMER_TICK_MS)
        fs = r.sent_parsed()
        assert len(fs) == 1
        f = fs[0]
        assert f["ip"]["dst"] == PEER_IP and f["ip"]["src"] == US_IP
        ic = f["icmp"]
        assert (ic["type"], ic["code"]) == (11, 1) and ic["checksum_ok"]
        assert ic["rest"] == b"\x00\x00\x00\x00"
        assert ic["data"] == first          # header + the 16 bytes that arrived
        d = r.delta()
        assert d["reasm_timeout"] == 1
        assert pool.held(pool.H_REASM) == 0 and r.quiesced()
        r.finish()


def test_timeout_without_first_fragment_sends_nothing():
    with Rig() as r:
        _bound(r)
        dg, u, data = _udp_dgram(100)
        _inject(r, _frag(u, 16, 32))
        _inject(r, _frag(u, 32, 108, more=False))
        r.poll()
        r.run_until(r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert r.sent() == []
        d = r.delta()
        assert d["reasm_timeout"] == 1 and "icmp_err_suppressed" not in d
        assert r.quiesced()
        r.finish()


def test_shutdown_frees_partial_datagrams():
    with Rig() as r:
        _bound(r)
        for ident in (1, 2, 3):
            dg, u, data = _udp_dgram(100, ident=ident)
            _inject(r, _frag(u, 0, 16, ident=ident))
            _inject(r, _frag(u, 32, 108, ident=ident, more=False))
        r.poll()
        assert pool.held(pool.H_REASM) == 6
        r.finish()


def test_too_big_counting_the_first_fragments_header():
    # every fragment fits 65535 with its own 20-byte header, but the first one
    # carries 40 bytes of options: reassembled, the datagram would be 65575
    # bytes (its total length field cannot hold that): too big, not answered
    with Rig(QUOTA_REASM_BLOCKS=64) as r:
        r.learn()
        msg = frames.icmp_echo(1, 1, frames.pattern(65515 - 8))
        assert len(msg) == 65515
        _inject(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, msg[:1480], ident=8, flags=frames.MF,
                               options=b"\x01" * 40))
        off = 1480
        while off < len(msg):
            n = min(1480, len(msg) - off)
            _inject(r, frames.raw_fragment(PEER_IP, US_IP, PROTO_ICMP, 8, off, msg[off:off + n],
                                           off + n < len(msg)))
            off += n
            r.poll()
        assert r.sent() == []
        d = r.delta()
        assert d["reasm_too_big"] == 1 and "reasm_ok" not in d and "icmp_echo_rx" not in d
        assert pool.held(pool.H_REASM) == 0 and r.quiesced()
        r.finish()


def test_timeout_of_broadcast_datagram_sends_nothing():
    # a first fragment to the subnet broadcast: no time exceeded (RFC 1122 3.2.2)
    with Rig() as r:
        r.learn()
        dg = frames.ipv4(PEER_IP, "198.51.100.255", PROTO_UDP,
                         frames.udp(1000, PORT, frames.pattern(100), PEER_IP, "198.51.100.255"))
        r.inject(frames.eth(b"\xff" * 6, PEER_MAC, ETH_IP, frames.fragment(dg, 16)[0]))
        r.poll()
        r.run_until(r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert r.sent() == []
        d = r.delta()
        assert d["reasm_timeout"] == 1 and d["icmp_err_suppressed"] == 1
        r.finish()
