# RX checksum offload (a MAC's RXF_CSUM_OK verdict, drivers/stm32_eth with
# IPCO): the stack does not sum again what the MAC verified (IPv4 header,
# TCP/UDP/ICMP; the driver counts those frames, rx_csum_ok), and checks
# itself whatever it was not told about: no flag, RXF_CSUM_BAD, every
# reassembled datagram (no MAC saw it whole), and a UDP datagram shorter
# than its IP payload (the MAC summed bytes that are not the datagram's). The frames below carry WRONG checksums, so
# that only a skipped check lets them through. Both lanes, through memif.
import frames
from frames import PROTO_ICMP, PROTO_UDP
from support import PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import pbuf

OK, BAD = 1, 2


def test_udp_verified_by_the_mac_not_summed_again():
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        r.udp_in(1, 5001, b"trusted", checksum="bad", flags=OK)
        r.poll()
        item = q.recv()
        assert item is not None and pbuf.to_bytes(item[0]) == b"trusted"
        pbuf.free(item[0])
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_rx": 1}
        r.mark()
        for flags in (0, BAD):
            r.udp_in(1, 5001, b"checked", checksum="bad", flags=flags)
        r.poll()
        assert q.recv() is None
        assert r.delta() == {"eth_rx": 2, "ipv4_rx": 2, "udp_bad_checksum": 2}
        r.finish()


def test_icmp_verified_by_the_mac_answered():
    with Rig() as r:
        r.learn()
        r.ip_in(frames.icmp_echo(7, 1, b"ping", bad_checksum=True), PROTO_ICMP, flags=OK)
        r.poll()
        assert len(r.sent()) == 1
        r.mark()
        r.ip_in(frames.icmp_echo(7, 2, b"ping", bad_checksum=True), PROTO_ICMP, flags=BAD)
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_bad_checksum": 1}
        r.finish()


def test_reassembled_datagram_checked_despite_flags():
    # Each fragment's frame came flagged OK: the datagram as a whole was
    # never verified by anyone, so its UDP checksum is checked (before the
    # fix the last fragment's flag let the bad datagram through).
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        dgram = frames.ipv4(PEER_IP, US_IP, PROTO_UDP,
                            frames.udp(1, 5001, frames.pattern(600), PEER_IP, US_IP, "bad"), ident=77)
        for fr in frames.fragment(dgram, 304):
            r.inject(frames.eth(US_MAC, PEER_MAC, frames.ETH_IP, fr), OK)
        r.poll()
        assert q.recv() is None
        d = r.delta()
        assert d.get("udp_bad_checksum") == 1 and "udp_rx" not in d, d
        r.finish()


def test_udp_shorter_than_its_ip_payload_checked():
    # The MAC's verdict covered the whole IP payload; the datagram ends
    # earlier (UDP length 8 + 9 < 31): the bytes that are the datagram's
    # were never verified. The bb suite found it (stm32sim): the stack took
    # a datagram with a bad checksum because the frame came flagged OK.
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        r.udp_in(1, 5001, b"truncated" + bytes(14), checksum="bad", length=8 + 9, flags=OK)
        r.poll()
        assert q.recv() is None
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_bad_checksum": 1}
        r.finish()


# ---- TX: a driver that says TX_CSUM gets TCP segments with the field at 0 ----------

def _synack(tx_csum):
    from frames import ETH_IP, PROTO_TCP, TCP_SYN
    with Rig() as r:
        r.learn()
        r.st.netif.tx_csum = tx_csum      # what Netif reads from drv.TX_CSUM
        lst = r.st.tcp.new()
        lst.bind(7777)
        lst.listen(2)
        got = []
        lst.accept_cb = lambda pcb: got.append(pcb) is None
        r.inject(frames.eth(US_MAC, PEER_MAC, ETH_IP,
                            frames.ipv4(PEER_IP, US_IP, PROTO_TCP,
                                        frames.tcp(40000, 7777, 1000, 0, TCP_SYN, 65535, b"", b"",
                                                   PEER_IP, US_IP))))
        r.poll(r.t + 1)
        out = [frames.parse_frame(f) for f in r.sent()]
        segs = [p for p in out if "tcp" in p]
        assert len(segs) == 1, out
        ip = segs[0]["ip"]
        assert ip["checksum_ok"]                      # the IPv4 header is always ours
        c = frames.parse_tcp(ip["payload"], US_IP, PEER_IP)
        lst.close()
        for pcb in got:
            pcb.abort()
        r.poll(r.t + 1)
        r.sent()
        r.finish()
        return c


def test_tcp_checksum_left_to_a_mac_that_inserts_it():
    c = _synack(True)
    assert c["checksum"] == 0 and not c["checksum_ok"]
    c = _synack(False)
    assert c["checksum"] != 0 and c["checksum_ok"]


def test_netif_reads_the_capability():
    from stack.memif import Memif
    from stack.netif import Netif

    class Csum(Memif):
        TX_CSUM = True

    class Stack:
        ctr = {}

    for drv, want in ((Memif(), False), (Csum(), True)):
        try:
            assert Netif(Stack(), drv, US_MAC).tx_csum is want
        finally:
            drv.close()
