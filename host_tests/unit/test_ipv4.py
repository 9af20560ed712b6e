# IPv4 input validation and output fragmentation (stack/ipv4.py) through a
# whole Stack on a memif: one named counter per malformed datagram, martian
# sources and destinations, a host never forwards, TTL is not a host's
# business, protocol unreachable for unicast only, and a 4000-byte UDP echo
# that comes in and goes out in fragments. Runs on both lanes; every test
# ends with the stack shut down and the pool back at NBLOCKS free.
import frames
from frames import ETH_IP, PROTO_ICMP, PROTO_UDP
from support import (BCAST, OTHER_IP, PEER_IP, PEER_MAC, SUBNET_BCAST, US_IP, US_MAC, Rig)

from stack import pbuf

ANSWERED = {"eth_rx": 1, "ipv4_rx": 1, "icmp_echo_rx": 1, "icmp_echo_tx": 1, "ipv4_tx": 1}


def _one_reply(r, data=b"ping", ident=1, seq=1):
    fs = r.sent_parsed()
    assert len(fs) == 1, fs
    f = fs[0]
    assert f["eth"]["dst"] == PEER_MAC and f["eth"]["src"] == US_MAC
    ip = f["ip"]
    assert ip["src"] == US_IP and ip["dst"] == PEER_IP and ip["checksum_ok"]
    assert ip["extra"] == 0
    ic = f["icmp"]
    assert ic["type"] == 0 and ic["checksum_ok"]
    assert (ic["id"], ic["seq"], ic["data"]) == (ident, seq, data)
    return f


def _dropped(r, counter, extra=None):
    r.poll()
    assert r.sent() == []
    want = {"eth_rx": 1, counter: 1}
    if extra:
        want.update(extra)
    assert r.delta() == want, counter
    r.mark()


def _raw_in(r, ipbytes, dst_mac=US_MAC, pad_to=0):
    r.inject(frames.eth(dst_mac, PEER_MAC, ETH_IP, ipbytes, pad_to))


def _echo_bytes(data=b"ping"):
    return frames.icmp_echo(1, 1, data)


# ---- header validation ----------------------------------------------------------

def test_truncated():
    with Rig() as r:
        r.learn()
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, b"")[:19])
        _dropped(r, "ipv4_truncated")
        _raw_in(r, b"")
        _dropped(r, "ipv4_truncated")
        r.finish()


def test_bad_version():
    with Rig() as r:
        r.learn()
        for v in (0, 6, 15):
            _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, _echo_bytes(), version=v))
            _dropped(r, "ipv4_bad_version")
        r.finish()


def test_bad_ihl():
    with Rig() as r:
        r.learn()
        for ihl in (0, 4):
            _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, _echo_bytes(), ihl=ihl))
            _dropped(r, "ipv4_bad_ihl")
        # IHL 15 (60 bytes) in a 32-byte datagram: beyond the packet
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, _echo_bytes(), ihl=15))
        _dropped(r, "ipv4_bad_ihl")
        r.finish()


def test_bad_total_length():
    with Rig() as r:
        r.learn()
        body = _echo_bytes()
        for tl in (20 + len(body) + 1, 1500, 65535, 19, 0):
            _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, body, total_length=tl))
            _dropped(r, "ipv4_bad_length")
        r.finish()


def test_ethernet_padding_trimmed_and_answered():
    with Rig() as r:
        r.learn()
        r.ping_in(data=b"", pad_to=60)      # 28-byte datagram in a 60-byte frame
        r.poll()
        f = _one_reply(r, data=b"")
        assert f["ip"]["tl"] == 28
        assert r.delta() == ANSWERED
        r.ping_in(data=b"abc", pad_to=60)
        r.poll()
        f = _one_reply(r, data=b"abc")
        assert f["ip"]["tl"] == 31
        r.finish()


def test_bad_header_checksum():
    with Rig() as r:
        r.learn()
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, _echo_bytes(), bad_checksum=True))
        _dropped(r, "ipv4_bad_checksum")
        r.finish()


def test_hardware_checksum_verdict_trusted():
    # RXF_CSUM_OK: the MAC verified the header, the stack does not again
    with Rig() as r:
        r.learn()
        r.ping_in(flags=1, bad_checksum=True)
        r.poll()
        _one_reply(r)
        r.finish()


# ---- options -------------------------------------------------------------------

def test_valid_options_answered():
    rr = bytes([7, 11, 4]) + bytes(8) + b"\x00"      # record route, 2 empty slots, EOL
    for opts in (b"\x01\x01\x01\x00", b"\x00\x00\x00\x00", b"\x01\x01\x01\x01", rr,
                 b"\x01" + bytes([7, 7, 4]) + bytes(4)):
        with Rig() as r:
            r.learn()
            r.ping_in(options=opts)
            r.poll()
            f = _one_reply(r)
            assert f["ip"]["hl"] == 20      # the reply carries no options
            assert r.delta() == ANSWERED, opts
            r.finish()


def test_bad_options():
    for opts in (bytes([7, 0, 0, 0]),            # zero length
                 bytes([7, 1, 0, 0]),            # one-byte length
                 bytes([7, 40, 4, 0]),           # overlong
                 bytes([1, 1, 7, 3]),            # reaches one past the header
                 bytes([1, 1, 1, 7]),            # length byte missing
                 bytes([7, 3, 4, 7, 0, 0, 0, 0])):   # second option zero length
        with Rig() as r:
            r.learn()
            r.ping_in(options=opts)
            _dropped(r, "ipv4_bad_options")
            r.finish()


# ---- addresses -------------------------------------------------------------------

def test_martian_sources():
    with Rig() as r:
        r.learn()
        for src in ("0.1.2.3", "127.0.0.1", "127.255.255.254", "224.0.0.1", "239.1.2.3",
                    "240.0.0.1", "255.255.255.255", SUBNET_BCAST, US_IP):
            r.ping_in(src=src)
            _dropped(r, "ipv4_martian_src")
            r.udp_in(1000, 7, b"x", src=src)
            _dropped(r, "ipv4_martian_src")
        r.finish()


def test_martian_destinations():
    with Rig() as r:
        r.learn()
        for dst in ("0.0.0.1", "0.1.2.3", "127.0.0.1", "240.0.0.1", "254.1.2.3"):
            r.ping_in(dst=dst)
            _dropped(r, "ipv4_martian_dst")
        r.finish()


def test_unicast_to_another_host_not_forwarded():
    with Rig(gw="198.51.100.1") as r:
        r.learn()
        for dst in (OTHER_IP, "203.0.113.5", "8.8.8.8"):
            r.ping_in(dst=dst)
            _dropped(r, "ipv4_not_for_us")
            r.udp_in(1000, 7, b"x", dst=dst)
            _dropped(r, "ipv4_not_for_us")
        r.finish()


def test_unicast_ip_in_link_broadcast_not_answered():
    # RFC 1122 3.3.6: unicast IP in a link-layer broadcast is discarded
    with Rig() as r:
        r.learn()
        r.ping_in(dst_mac=BCAST)
        _dropped(r, "ipv4_not_for_us")
        r.finish()


def test_frame_for_another_mac_dropped():
    with Rig() as r:
        r.learn()
        r.ping_in(dst_mac=b"\x02\x00\x00\x00\x00\x77")
        _dropped(r, "eth_other_dst")
        r.finish()


# ---- TTL -----------------------------------------------------------------------

def test_ttl_zero_and_one_still_answered():
    # RFC 1122 3.2.1.7: a host must not discard a datagram because TTL < 2
    with Rig() as r:
        r.learn()
        for ttl in (0, 1):
            r.ping_in(ttl=ttl, seq=ttl)
            r.poll()
            f = _one_reply(r, seq=ttl)
            assert f["ip"]["ttl"] == r.config.IP_DEFAULT_TTL
            assert r.delta() == ANSWERED
            r.mark()
        r.finish()


# ---- protocols -------------------------------------------------------------------

def test_unknown_protocol_unreachable_for_unicast_only():
    with Rig() as r:
        r.learn()
        dg = frames.ipv4(PEER_IP, US_IP, 99, b"some payload", ident=0x4242)
        _raw_in(r, dg)
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1
        f = fs[0]
        assert f["ip"]["dst"] == PEER_IP and f["ip"]["src"] == US_IP and f["ip"]["checksum_ok"]
        ic = f["icmp"]
        assert (ic["type"], ic["code"]) == (3, 2) and ic["checksum_ok"]
        assert ic["rest"] == b"\x00\x00\x00\x00"
        assert ic["data"] == dg         # the whole (short) datagram quoted
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "ipv4_unknown_proto": 1,
                             "icmp_unreach_tx": 1, "ipv4_tx": 1}
        r.mark()
        # broadcast, limited broadcast and multicast: counted, no error sent
        for dst, mac in ((SUBNET_BCAST, BCAST), ("255.255.255.255", BCAST),
                         ("224.0.0.1", b"\x01\x00\x5e\x00\x00\x01")):
            _raw_in(r, frames.ipv4(PEER_IP, dst, 99, b"some payload"), dst_mac=mac)
            r.poll()
            assert r.sent() == []
            assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "ipv4_unknown_proto": 1,
                                 "icmp_err_suppressed": 1}, dst
            r.mark()
        r.finish()


def test_fragmented_udp_echo_4000_bytes():
    with Rig() as r:
        r.learn()
        r.st.udp.bind_echo(7)
        data = frames.pattern(4000)
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_UDP, frames.udp(40000, 7, data, PEER_IP, US_IP),
                         ident=0x1234)
        for fr in frames.fragment(dg, 1480, 1480):
            _raw_in(r, fr)
        copied = pbuf.copied()
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 3
        ips = [f["ip"] for f in fs]
        assert [ip["offset"] for ip in ips] == [0, 1480, 2960]
        assert [ip["mf"] for ip in ips] == [True, True, False]
        assert [ip["tl"] for ip in ips] == [1500, 1500, 20 + 4008 - 2960]
        for ip in ips:
            assert not ip["df"] and ip["checksum_ok"] and ip["hl"] == 20
            assert ip["src"] == US_IP and ip["dst"] == PEER_IP and ip["proto"] == PROTO_UDP
            assert ip["id"] == ips[0]["id"] and ip["extra"] == 0
        for f in fs:
            assert f["eth"]["dst"] == PEER_MAC and len(f["eth"]["payload"]) <= 1500
        u = frames.parse_udp(frames.reassemble(ips), US_IP, PEER_IP)
        assert (u["sport"], u["dport"], u["len"]) == (7, 40000, 4008)
        assert u["checksum_ok"]
        assert u["data"] == data
        assert pbuf.copied() == copied      # reassembled and sent back in place
        d = r.delta()
        assert d["reasm_ok"] == 1 and d["reasm_fragments"] == 3
        assert d["ipv4_frag_tx"] == 3 and d["udp_tx"] == 1 and d["udp_rx"] == 1
        assert r.quiesced()
        r.finish()


def test_fragments_beyond_a_stuck_tx_ring_counted_as_dropped():
    # 34 fragments into a 32-entry TX ring whose MAC finishes nothing during
    # the send (reaping frees no slot): the 33rd gets ENOBUFS even after the
    # retry, and the output stops there (a datagram with a hole is no use: the
    # 34th is never tried); only the fragments the driver took count as sent
    with Rig() as r:
        r.learn()
        before = r.drv.stats()["tx_frames"]
        payload = pbuf.rom(frames.pattern(34 * 1480 - 8 - 100))
        real_reap = r.drv.tx_reap
        r.drv.tx_reap = lambda out: 0
        try:
            err = r.st.udp.sendto(payload, 5000, PEER_IP, 9)
        finally:
            r.drv.tx_reap = real_reap
        r.poll()
        sent = r.sent_parsed()
        ring = r.drv.stats()["tx_frames"] - before
        assert len(sent) == ring == 32
        d = r.delta()
        assert d["tx_ring_full"] == 1
        assert d["ipv4_frag_tx"] == len(sent)
        assert r.quiesced()
        assert err == 105 and "udp_tx" not in d and "ipv4_tx" not in d     # ENOBUFS
        r.finish()


def test_fragments_beyond_the_tx_ring_sent_after_reaping():
    # the same 34 fragments with a MAC that drains: a full ring is reaped and
    # the refused fragment retried, so the whole datagram goes out
    with Rig() as r:
        r.learn()
        payload = pbuf.rom(frames.pattern(34 * 1480 - 8 - 100))
        err = r.st.udp.sendto(payload, 5000, PEER_IP, 9)
        r.poll()
        sent = r.sent_parsed()
        assert len(sent) == 34
        d = r.delta()
        assert "tx_ring_full" not in d
        assert d["ipv4_frag_tx"] == 34 and d["udp_tx"] == 1 and d["ipv4_tx"] == 1
        assert err == 0
        r.finish()


def test_frame_from_our_own_mac_dropped():
    with Rig() as r:
        r.learn()
        r.ping_in(src_mac=US_MAC)
        _dropped(r, "eth_own_src")
        r.finish()
