# The TX path (stack/netif.py): frames held until the driver reaps them and
# charged to whoever keeps their blocks, chains longer than the driver's
# gather table, completions reaching the owner of the bytes. Through a whole
# Stack on a memif with a test-driven clock; runs on both lanes.
import frames
from frames import ETH_IP, PROTO_ICMP, PROTO_UDP
from support import OTHER_IP, PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import pbuf
from stack.pool import pool

ECHO = 7


def _inject(r, ipbytes, src_mac=PEER_MAC):
    r.inject(frames.eth(US_MAC, src_mac, ETH_IP, ipbytes))


def _udp_echo_frags(r, data, nfrag, ident=0x4242):
    """A UDP datagram to the echo port cut into nfrag fragments: 8 payload
    bytes in each but the last, which carries the rest."""
    u = frames.udp(5555, ECHO, data, PEER_IP, US_IP)
    dg = frames.ipv4(PEER_IP, US_IP, PROTO_UDP, u, ident=ident)
    fr = frames.fragment(dg, *([8] * (nfrag - 1)))
    assert len(fr) == nfrag
    for f in fr:
        _inject(r, f)


def _echoed(r):
    out = []
    for f in r.sent_parsed():
        if "udp" in f:
            out.append(f["udp"]["data"])
    return out


# ---- holds are charged to the keeper --------------------------------------------

def test_reply_in_the_tx_ring_is_charged_to_tx():
    with Rig() as r:
        r.learn()
        r.ping_in(data=b"x" * 100)
        r.st.netif.poll_rx(1)                  # handled, not yet reaped
        # the request's block now carries the reply and sits in the TX ring:
        # the ring keeps it, so TX is charged, not the input path
        assert pool.held(pool.H_RX) == 0
        assert pool.held(pool.H_TX) == 1
        assert r.drv.pending_tx() == 1
        r.st.netif.reap()
        assert pool.held(pool.H_TX) == 0 and r.quiesced()
        assert len(r.sent()) == 1
        r.finish()


def test_fragmented_reply_waiting_for_arp_is_charged_to_the_arp_queue():
    with Rig() as r:
        # a ping from a host we have no ARP entry for: the fragmented reply
        # waits for resolution as windows onto the request's blocks
        data = frames.pattern(2800, 1)
        echo = frames.icmp_echo(0x99, 1, data)
        for f in frames.fragment(frames.ipv4(OTHER_IP, US_IP, PROTO_ICMP, echo, ident=0x3131), 1480):
            _inject(r, f)
        r.poll(r.t + 1)
        assert r.delta()["reasm_ok"] == 1
        assert pool.held(pool.H_RX) == 0, pool.stats()["held"]
        assert pool.held(pool.H_ARPQ) == 2        # both request blocks, through the views
        sent = r.sent_parsed()
        assert len(sent) == 1 and "arp" in sent[0]
        r.run_until(r.t + 5000, step=500)         # nobody answers: given up, freed
        assert pool.held(pool.H_ARPQ) == 0 and r.quiesced()
        r.finish()


# ---- chains longer than the gather table -----------------------------------------------

def test_reply_of_sixteen_pieces_is_sent_as_is():
    # An echo of a datagram reassembled from 16 fragments goes out as a
    # chain of 16 windows (the headers pushed into the first block): one
    # frame, all 16 pieces by reference, not a byte copied.
    with Rig() as r:
        r.learn()
        r.st.udp.bind_echo(ECHO)
        assert len(r.st.netif.gather) // 3 >= 16
        data = frames.pattern(200, 5)
        c0 = pbuf.copied()
        _udp_echo_frags(r, data, 16)
        r.poll(r.t + 1)
        assert _echoed(r) == [data]
        d = r.delta()
        assert d["reasm_ok"] == 1 and d["udp_tx"] == 1 and "tx_linearised" not in d, d
        assert pbuf.copied() == c0
        r.finish()


def test_reply_longer_than_the_gather_table_has_its_tail_copied():
    with Rig() as r:
        r.learn()
        r.st.udp.bind_echo(ECHO)
        cap = len(r.st.netif.gather) // 3
        nfrag = cap + 8
        data = frames.pattern(8 * nfrag + 40, 6)
        c0 = pbuf.copied()
        _udp_echo_frags(r, data, nfrag)
        r.poll(r.t + 1)
        assert _echoed(r) == [data]
        d = r.delta()
        assert d["reasm_ok"] == 1 and d["udp_tx"] == 1 and d["tx_linearised"] == 1, d
        # the first piece holds the headers (the UDP header in the first
        # fragment's 8 bytes); cap - 2 windows of 8 data bytes go as they are,
        # the rest was copied, and counted
        assert pbuf.copied() - c0 == len(data) - 8 * (cap - 2)
        assert r.quiesced()
        r.finish()


# ---- back-pressure and completions through UDP -----------------------------------------

EAGAIN = 11


def test_full_ring_answers_eagain_and_loses_nothing():
    with Rig() as r:
        r.learn()
        real_reap = r.drv.tx_reap
        r.drv.tx_reap = lambda out: 0          # a MAC that finishes nothing for now
        payloads = [b"datagram-%03d" % i for i in range(40)]
        taken = 0
        try:
            while taken < len(payloads):
                p = pbuf.rom(payloads[taken])
                err = r.st.udp.sendto(p, 5000, PEER_IP, 9)
                if err == EAGAIN:
                    break
                assert err == 0
                taken += 1
            assert taken == r.st.netif.tx_cap == 32
            # nothing was done with the refused datagram: still ours, intact
            assert pbuf.refcount(p) == 1 and pbuf.to_bytes(p) == payloads[taken]
            d = r.delta()
            assert d["udp_tx_eagain"] == 1 and "tx_ring_full" not in d, d
        finally:
            r.drv.tx_reap = real_reap
        r.poll()                               # the MAC catches up
        assert r.st.udp.sendto(p, 5000, PEER_IP, 9) == 0
        taken += 1
        while taken < len(payloads):
            assert r.st.udp.sendto(pbuf.rom(payloads[taken]), 5000, PEER_IP, 9) == 0
            taken += 1
            r.poll()
        r.poll()
        got = [f["udp"]["data"] for f in r.sent_parsed() if "udp" in f]
        assert got == payloads                  # every datagram, in order, once
        assert r.delta()["udp_tx"] == len(payloads)
        r.finish()


def test_done_runs_when_the_driver_is_through_with_the_buffer():
    with Rig() as r:
        r.learn()
        data = frames.pattern(2900, 9)           # two fragments, both windows onto it
        seen = []
        assert r.st.udp.sendto(pbuf.rom(data, done=seen.append), 5000, PEER_IP, 9) == 0
        assert seen == []                      # in the TX ring: the bytes are still needed
        assert r.drv.pending_tx() == 2
        r.st.netif.reap()
        assert len(seen) == 1 and seen[0] is data
        assert len(r.sent()) == 2
        r.finish()


def test_promised_buffer_resized_before_the_send_is_not_sent():
    with Rig() as r:
        r.learn()
        buf = bytearray(b"zero-copy promise")
        seen = []
        assert r.st.udp.sendto(pbuf.ref_buf(buf, done=seen.append), 5000, PEER_IP, 9) == 0
        moved0 = r.drv.stats()["tx_ref_moved"]
        buf.extend(b" broken" * 50)            # the promise broken: resized in the ring
        r.st.netif.reap()
        assert r.drv.stats()["tx_ref_moved"] == moved0 + 1
        assert r.sent() == []                  # never read from where it used to be
        assert seen == [buf]                   # the owner still learns it is free
        r.finish()
