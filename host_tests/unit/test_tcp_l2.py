# TCP keeps its next hop's ARP entry so a segment skips the route and ARP
# lookups (stack/tcp.py _l2_learn); the entry's MAC is checked on every
# segment, so a peer that changes its MAC, or an entry ARP forgets, is
# followed at once. Both lanes.
import frames
from frames import ETH_IP, PROTO_TCP, TCP_ACK, TCP_SYN
from support import OTHER_MAC, PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import pbuf

PORT = 7777


def _seg(seq, ack, flags, data=b""):
    return frames.eth(US_MAC, PEER_MAC, ETH_IP,
                      frames.ipv4(PEER_IP, US_IP, PROTO_TCP,
                                  frames.tcp(40000, PORT, seq, ack, flags, 65535, data, b"", PEER_IP, US_IP)))


def _tcp_out(r):
    """(destination MAC, parsed TCP) of what the stack sent; ARP requests as ('arp', tpa)."""
    out = []
    for f in r.sent():
        p = frames.parse_frame(f)
        if "tcp" in p:
            out.append((f[0:6], p["tcp"]))
        elif "arp" in p:
            out.append(("arp", p["arp"]["tpa"]))
    return out


def _connected(r):
    got = []
    lst = r.st.tcp.new()
    lst.bind(PORT)
    lst.listen(2)
    lst.accept_cb = lambda pcb: got.append(pcb) is None
    r.inject(_seg(1000, 0, TCP_SYN))
    r.poll(r.t + 1)
    (mac, synack), = _tcp_out(r)
    isn = synack["seq"]
    r.inject(_seg(1001, isn + 1, TCP_ACK))
    r.poll(r.t + 1)
    assert len(got) == 1
    return got[0], isn + 1


def test_segments_follow_a_new_mac_and_a_forgotten_entry():
    with Rig() as r:
        r.learn()
        pcb, nxt = _connected(r)
        assert pcb.write(pbuf.rom(b"one")) == 0
        r.poll(r.t + 1)
        (mac, t), = _tcp_out(r)
        assert mac == PEER_MAC and t["data"] == b"one"
        r.inject(_seg(1001, nxt + 3, TCP_ACK))
        # the peer shows up with another MAC (its ARP request): followed at once
        r.learn(mac=OTHER_MAC)
        assert pcb.write(pbuf.rom(b"two")) == 0
        r.poll(r.t + 1)
        (mac, t), = _tcp_out(r)
        assert mac == OTHER_MAC and t["data"] == b"two"
        r.inject(_seg(1001, nxt + 6, TCP_ACK))
        # ARP forgets the peer: the next segment waits for a new resolution
        assert r.st.arp.remove(PEER_IP)
        assert pcb.write(pbuf.rom(b"three")) == 0
        r.poll(r.t + 1)
        out = _tcp_out(r)
        assert out == [("arp", PEER_IP)], out
        pcb.abort()
        r.poll(r.t + 1)
        r.sent()
        r.finish()
