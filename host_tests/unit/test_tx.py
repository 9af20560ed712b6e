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
