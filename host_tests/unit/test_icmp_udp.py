# ICMP (stack/icmp.py) and UDP (stack/udp.py) through a whole Stack on a
# memif, clock driven by the test: echo replies byte for byte, no echo to
# broadcast or multicast, the RFC 1122 rules on errors (never about errors,
# rate limited, quoting only bytes that arrived), UDP checksum and length
# rules, ports with a callback or a queue, port unreachable, and a UDP echo
# service that answers from the received block (no payload byte copied).
# Runs on both lanes; every test ends with the stack shut down and the pool
# back at NBLOCKS free.
import frames
from frames import ETH_IP, PROTO_ICMP, PROTO_UDP
from support import BCAST, NEAR_WRAP, PEER_IP, PEER_MAC, SUBNET_BCAST, US_IP, US_MAC, Rig

from stack import pbuf
from stack.pool import pool

CLOSED = 33434


def _raw_in(r, ipbytes, dst_mac=US_MAC, pad_to=0):
    r.inject(frames.eth(dst_mac, PEER_MAC, ETH_IP, ipbytes, pad_to))


def _errors(fs, typ=3, code=3):
    return [f for f in fs if "icmp" in f and f["icmp"]["type"] == typ and f["icmp"]["code"] == code]


# ---- echo --------------------------------------------------------------------------

def test_echo_reply_exact():
    for data in (b"", b"a", frames.pattern(55), frames.pattern(56), frames.pattern(1472)):
        with Rig() as r:
            r.learn()
            _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp_echo(0x1234, 0xFEDC, data),
                                   ttl=3, ident=0x5555))
            r.poll()
            sent = r.sent()
            assert len(sent) == 1
            f = frames.parse_frame(sent[0])
            assert f["eth"]["dst"] == PEER_MAC and f["eth"]["src"] == US_MAC
            assert f["eth"]["type"] == ETH_IP
            ip = f["ip"]
            assert ip["version"] == 4 and ip["hl"] == 20 and ip["checksum_ok"]
            assert ip["src"] == US_IP and ip["dst"] == PEER_IP
            assert ip["ttl"] == r.config.IP_DEFAULT_TTL and ip["proto"] == PROTO_ICMP
            assert ip["tl"] == 28 + len(data) and ip["extra"] == 0
            assert not ip["mf"] and ip["offset"] == 0
            # the ICMP message, byte for byte, as a fresh reply would be built
            assert ip["payload"] == frames.icmp_echo(0x1234, 0xFEDC, data, type=0)
            assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_echo_rx": 1,
                                 "icmp_echo_tx": 1, "ipv4_tx": 1}
            r.finish()


def test_echo_reply_checksum_edge():
    # a request whose checksum field is 0x0000 / 0xFFFF after the type change
    with Rig() as r:
        r.learn()
        for ident in range(0, 0x10000, 0x0FF1):
            req = frames.icmp_echo(ident, 0, b"")
            r.ping_in(ident=ident, seq=0, data=b"")
            r.poll()
            fs = r.sent_parsed()
            assert len(fs) == 1 and fs[0]["icmp"]["checksum_ok"], (ident, req)
            assert fs[0]["ip"]["payload"] == frames.icmp_echo(ident, 0, b"", type=0)
        r.finish()


def test_echo_to_broadcast_and_multicast_not_answered():
    with Rig() as r:
        r.learn()
        for dst, mac in ((SUBNET_BCAST, BCAST), ("255.255.255.255", BCAST),
                         ("224.0.0.1", b"\x01\x00\x5e\x00\x00\x01")):
            r.ping_in(dst=dst, dst_mac=mac)
            r.poll()
            assert r.sent() == []
            assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_echo_rx": 1,
                                 "icmp_echo_bcast": 1}, dst
            r.mark()
        r.finish()


def test_bad_icmp_checksum():
    with Rig() as r:
        r.learn()
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp_echo(1, 1, b"x", bad_checksum=True)))
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_bad_checksum": 1}
        r.finish()


def test_truncated_icmp():
    with Rig() as r:
        r.learn()
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, b"\x08\x00\xf7\xff\x00\x00\x00"))
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_truncated": 1}
        r.finish()


def test_icmp_errors_and_others_received_not_answered():
    with Rig() as r:
        r.learn()
        quote = frames.ipv4(US_IP, PEER_IP, PROTO_UDP, frames.udp(5, 6, b"", US_IP, PEER_IP))
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp(3, 3, bytes(4), quote)))
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp_echo(1, 1, b"", type=0)))
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp(13, 0, bytes(4), bytes(12))))
        r.poll()
        assert r.sent() == []
        d = r.delta()
        assert d["icmp_error_rx"] == 1 and d["icmp_other"] == 2
        assert d["udp_err_no_port"] == 1       # nobody bound port 5: nobody told
        r.finish()


def _error_about(r, typ, code, sport, dport, quote_len=None, src=US_IP, qdst=PEER_IP, proto=PROTO_UDP):
    """An ICMP error from the peer quoting a datagram src -> qdst (sport -> dport)."""
    quote = frames.ipv4(src, qdst, proto, frames.udp(sport, dport, b"payload", src, qdst))
    if quote_len is not None:
        quote = quote[:quote_len]
    _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp(typ, code, bytes(4), quote)))


def test_icmp_error_reaches_the_udp_port_that_sent_the_datagram():
    # RFC 1122 3.2.2.1 and 4.1.3.3: an ICMP error goes to the transport, and
    # UDP passes it to the application that sent the quoted datagram
    with Rig() as r:
        r.learn()
        slot = r.st.udp.bind(5000)                  # no callback: the last-error slot
        seen = []
        cb_pcb = r.st.udp.bind(5001, err_cb=lambda t, c, dst, dport: seen.append((t, c, bytes(dst), dport)))
        _error_about(r, 3, 3, 5000, 7)              # port unreachable about 5000 -> 7
        r.poll()
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_error_rx": 1, "udp_err_rx": 1}
        assert slot.take_error() == (3, 3, bytes((198, 51, 100, 1)), 7)
        assert slot.take_error() is None            # read once, like SO_ERROR
        r.mark()
        _error_about(r, 11, 0, 5001, 9)             # time exceeded in transit
        _error_about(r, 3, 1, 5002, 7)              # host unreachable for a port nobody bound
        r.poll()
        assert seen == [(11, 0, bytes((198, 51, 100, 1)), 9)]
        assert slot.take_error() is None and cb_pcb.take_error() is None
        assert r.delta() == {"eth_rx": 2, "ipv4_rx": 2, "icmp_error_rx": 2, "udp_err_rx": 1,
                             "udp_err_no_port": 1}
        assert r.sent() == []                       # never an error about an error
        r.finish()


def test_icmp_error_with_a_bad_quote_is_a_counted_drop():
    with Rig() as r:
        r.learn()
        pcb = r.st.udp.bind(5000)
        # quotes cut short: inside the IP header, and 7 of the 8 transport bytes
        for n in (0, 1, 19, 20 + 7):
            _error_about(r, 3, 3, 5000, 7, quote_len=n)
        # a quoted header whose IHL says 24 bytes but only 20 + 8 arrived... and a bad version
        q = bytearray(frames.ipv4(US_IP, PEER_IP, PROTO_UDP, frames.udp(5000, 7, b"", US_IP, PEER_IP)))
        q[0] = 0x46
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp(3, 3, bytes(4), bytes(q))))
        q[0] = 0x65
        _raw_in(r, frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp(3, 3, bytes(4), bytes(q))))
        r.poll()
        d = r.delta()
        assert d["icmp_error_rx"] == 6 and d["icmp_error_bad_quote"] == 6, d
        r.mark()
        # about a datagram that was not ours; redirect and source quench; about ICMP
        _error_about(r, 3, 3, 5000, 7, src=PEER_IP, qdst=US_IP)
        _error_about(r, 5, 1, 5000, 7)
        _error_about(r, 4, 0, 5000, 7)
        _error_about(r, 3, 3, 5000, 7, proto=PROTO_ICMP)
        r.poll()
        assert r.delta() == {"eth_rx": 4, "ipv4_rx": 4, "icmp_error_rx": 4, "icmp_error_not_ours": 1,
                             "icmp_error_ignored": 2, "icmp_error_unhandled": 1}
        assert pcb.take_error() is None and r.sent() == []
        r.finish()


# ---- errors ------------------------------------------------------------------------

def test_no_error_about_an_icmp_error():
    # the only error the stack can owe about an ICMP message is reassembly time
    # exceeded: for a fragmented ICMP error it is never sent...
    with Rig() as r:
        r.learn()
        quote = frames.pattern(600)
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp(3, 1, bytes(4), quote), ident=3)
        _raw_in(r, frames.fragment(dg, 304)[0])      # only the first fragment
        r.poll()
        r.run_until(r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert r.sent() == []
        d = r.delta()
        assert d["reasm_timeout"] == 1 and d["icmp_err_suppressed"] == 1
        r.finish()
    # ...while for a fragmented echo request it is
    with Rig() as r:
        r.learn()
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_ICMP, frames.icmp_echo(1, 1, frames.pattern(600)), ident=3)
        _raw_in(r, frames.fragment(dg, 304)[0])
        r.poll()
        r.run_until(r.config.REASM_TIMEOUT_MS + 200, step=1000)
        assert len(_errors(r.sent_parsed(), 11, 1)) == 1
        assert "icmp_err_suppressed" not in r.delta()
        r.finish()


def test_error_rate_limited_and_recovering():
    _error_rate_limited_and_recovering(0)


def test_error_rate_limited_and_recovering_across_the_clock_wrap():
    _error_rate_limited_and_recovering(NEAR_WRAP)


def _error_rate_limited_and_recovering(start):
    with Rig(now=start) as r:
        r.learn()
        burst = r.config.ICMP_ERR_BURST
        rate = r.config.ICMP_ERR_RATE_PER_S
        for i in range(burst + 5):
            r.udp_in(1000 + i, CLOSED, b"x")
        r.poll()
        assert len(_errors(r.sent_parsed())) == burst
        d = r.delta()
        assert d["udp_no_port"] == burst + 5
        assert d["icmp_unreach_tx"] == burst and d["icmp_rate_limited"] == 5
        r.mark()
        # half a second later: half a second's worth of tokens
        r.poll(500)
        for i in range(rate):
            r.udp_in(2000 + i, CLOSED, b"x")
        r.poll()
        assert len(_errors(r.sent_parsed())) == rate // 2
        assert r.delta()["icmp_rate_limited"] == rate - rate // 2
        r.mark()
        # a long quiet time refills only up to the burst
        r.poll(60000)
        for i in range(burst + 2):
            r.udp_in(3000 + i, CLOSED, b"x")
        r.poll()
        assert len(_errors(r.sent_parsed())) == burst
        assert r.delta()["icmp_rate_limited"] == 2
        r.finish()


def test_error_quote_is_what_arrived():
    with Rig() as r:
        r.learn()
        # short: the quote is the whole datagram, not the Ethernet padding
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_UDP, frames.udp(1000, CLOSED, b"ab", PEER_IP, US_IP))
        _raw_in(r, dg, pad_to=60)
        r.poll()
        fs = _errors(r.sent_parsed())
        assert len(fs) == 1
        ic = fs[0]["icmp"]
        assert ic["checksum_ok"] and ic["rest"] == bytes(4)
        assert ic["data"] == dg and len(dg) == 30
        assert fs[0]["ip"]["tl"] == 20 + 8 + 30
        # long: capped at ICMP_ERR_QUOTE_MAX_BYTES
        cap = r.config.ICMP_ERR_QUOTE_MAX_BYTES
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_UDP,
                         frames.udp(1000, CLOSED, frames.pattern(1400), PEER_IP, US_IP))
        _raw_in(r, dg)
        r.poll()
        fs = _errors(r.sent_parsed())
        assert len(fs) == 1
        ic = fs[0]["icmp"]
        assert ic["checksum_ok"] and ic["data"] == dg[:cap]
        assert fs[0]["ip"]["tl"] == 20 + 8 + cap
        assert 20 + 8 + cap <= 576
        r.finish()


def test_error_quote_with_options_and_limits():
    with Rig(ICMP_ERR_QUOTE_MAX_BYTES=40) as r:
        r.learn()
        dg = frames.ipv4(PEER_IP, US_IP, PROTO_UDP, frames.udp(1000, CLOSED, frames.pattern(100), PEER_IP, US_IP),
                         options=b"\x01\x01\x01\x00")
        _raw_in(r, dg)
        r.poll()
        fs = _errors(r.sent_parsed())
        assert len(fs) == 1 and fs[0]["icmp"]["data"] == dg[:40]
        r.finish()


# ---- UDP ---------------------------------------------------------------------------

def test_udp_callback_and_queue_ports():
    with Rig() as r:
        r.learn()
        got = []

        def cb(p, src, sport, cast):
            got.append((pbuf.to_bytes(p), bytes(src), sport, cast))
            pbuf.free(p)

        r.st.udp.bind(5000, cb)
        q = r.st.udp.bind(5001)
        r.udp_in(1111, 5000, b"to the callback")
        r.udp_in(2222, 5001, b"to the queue")
        r.udp_in(3333, 5001, b"")
        r.poll()
        peer = bytes((198, 51, 100, 1))
        assert got == [(b"to the callback", peer, 1111, 0)]
        p, src, sport = q.recv()
        assert (pbuf.to_bytes(p), src, sport) == (b"to the queue", peer, 2222)
        assert pool.holder(p.blk) == pool.H_UDP
        pbuf.free(p)
        p, src, sport = q.recv()
        assert p.tot == 0 and sport == 3333
        pbuf.free(p)
        assert q.recv() is None
        assert r.delta()["udp_rx"] == 3
        assert r.sent() == []
        r.finish()


def test_udp_checksum_zero_accepted_bad_dropped():
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        r.udp_in(1, 5001, b"no checksum", checksum=False)
        r.poll()
        item = q.recv()
        assert item is not None and pbuf.to_bytes(item[0]) == b"no checksum"
        pbuf.free(item[0])
        r.mark()
        r.udp_in(1, 5001, b"bad checksum", checksum="bad")
        r.udp_in(1, 5001, b"bad", checksum="bad")
        r.poll()
        assert q.recv() is None
        assert r.delta() == {"eth_rx": 2, "ipv4_rx": 2, "udp_bad_checksum": 2}
        r.finish()


def test_udp_length_beyond_ip_payload_or_below_header_refused():
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        for ln in (8 + 10 + 1, 8 + 10 + 100, 7, 0, 0xFFFF):
            r.udp_in(1, 5001, frames.pattern(10), length=ln)
            r.poll()
            assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_bad_length": 1}, ln
            r.mark()
        # with checksum off too (no checksum to catch it)
        r.udp_in(1, 5001, frames.pattern(10), length=8 + 10 + 2, checksum=False)
        r.poll()
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_bad_length": 1}
        assert q.recv() is None and r.sent() == []
        r.finish()


def test_udp_length_shorter_than_ip_payload_ignores_the_trailer():
    # As Linux: the UDP length says where the datagram ends; IP payload bytes
    # after it are not delivered (and not in the checksum)
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        for data, trailer, csum in ((b"short", b"TRAILER", True), (b"", b"x", True),
                                    (frames.pattern(100), bytes(3), False)):
            u = frames.udp(1, 5001, data, PEER_IP, US_IP, checksum=csum) + trailer
            r.ip_in(u, PROTO_UDP)
            r.poll()
            assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_rx": 1}, data
            r.mark()
            p, src, sport = q.recv()
            assert pbuf.to_bytes(p) == data and src == bytes((198, 51, 100, 1)) and sport == 1
            pbuf.free(p)
        # the checksum covers the UDP length only: a wrong one still fails
        u = frames.udp(1, 5001, b"short", PEER_IP, US_IP, checksum="bad") + b"TRAILER"
        r.ip_in(u, PROTO_UDP)
        r.poll()
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_bad_checksum": 1}
        assert r.sent() == []
        r.finish()


def test_udp_truncated():
    with Rig() as r:
        r.learn()
        r.ip_in(b"\x00\x01\x13\x89\x00\x08\x00", PROTO_UDP)
        r.poll()
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_truncated": 1}
        r.finish()


def test_closed_port_unreachable_for_unicast_only():
    with Rig() as r:
        r.learn()
        r.udp_in(1000, CLOSED, b"hello")
        r.poll()
        fs = _errors(r.sent_parsed())
        assert len(fs) == 1 and fs[0]["ip"]["dst"] == PEER_IP
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "udp_no_port": 1, "icmp_unreach_tx": 1,
                             "ipv4_tx": 1}
        r.mark()
        for dst, mac in ((SUBNET_BCAST, BCAST), ("255.255.255.255", BCAST),
                         ("224.0.0.1", b"\x01\x00\x5e\x00\x00\x01")):
            r.udp_in(1000, CLOSED, b"hello", dst=dst, dst_mac=mac)
            r.poll()
            assert r.sent() == []
            d = r.delta()
            assert d["udp_no_port"] == 1 and "icmp_unreach_tx" not in d, dst
            r.mark()
        r.finish()


def test_udp_queue_full():
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        n = r.config.UDP_QUEUE_DATAGRAMS
        for i in range(n + 3):
            r.udp_in(1, 5001, bytes([i]))
        r.poll()
        d = r.delta()
        assert d["udp_queue_full"] == 3
        assert d["udp_rx"] == n         # delivered: the dropped three are not
        assert pool.held(pool.H_UDP) == n
        for i in range(n):
            p, src, sport = q.recv()
            assert pbuf.to_bytes(p) == bytes([i])
            pbuf.free(p)
        assert q.recv() is None
        assert r.quiesced()
        r.finish()


def test_udp_queue_quota_over_all_ports():
    with Rig() as r:
        r.learn()
        quota = r.config.QUOTA_UDP_BLOCKS
        per = r.config.UDP_QUEUE_DATAGRAMS
        ports = [r.st.udp.bind(6000 + k) for k in range(quota // per + 1)]
        for k in range(len(ports)):
            for i in range(per):
                r.udp_in(1, 6000 + k, b"q")
            r.poll()
        assert pool.held(pool.H_UDP) == quota
        assert r.delta()["udp_queue_full"] == len(ports) * per - quota
        r.finish()       # shutdown closes the ports and frees their queues


def test_udp_echo_zero_copy_all_sizes():
    with Rig() as r:
        r.learn()
        r.st.udp.bind_echo(7)
        copied = pbuf.copied()
        for n in range(1, 1473):
            data = frames.pattern(n, n)
            r.udp_in(40000 + (n & 0xFF), 7, data)
            r.poll()
            fs = r.drv.take_sent()
            assert len(fs) == 1, n
            f = fs[0]
            assert len(f) == 14 + 28 + n, n
            ip = frames.parse_ip(f[14:])
            assert ip["checksum_ok"] and ip["src"] == US_IP and ip["dst"] == PEER_IP, n
            assert not ip["mf"] and ip["offset"] == 0
            u = frames.parse_udp(ip["payload"], US_IP, PEER_IP)
            assert u["checksum_ok"] and u["sport"] == 7 and u["dport"] == 40000 + (n & 0xFF), n
            assert u["data"] == data, n
        assert pbuf.copied() == copied, "the echo copied %d payload bytes" % (pbuf.copied() - copied)
        d = r.delta()
        assert d["udp_rx"] == 1472 and d["udp_tx"] == 1472
        assert r.quiesced()
        r.finish()


def test_udp_broadcast_and_multicast_delivered_to_bound_port():
    with Rig() as r:
        r.learn()
        q = r.st.udp.bind(5001)
        r.udp_in(1, 5001, b"bcast", dst=SUBNET_BCAST, dst_mac=BCAST)
        r.udp_in(1, 5001, b"all", dst="255.255.255.255", dst_mac=BCAST)
        r.udp_in(1, 5001, b"mcast", dst="224.0.0.1", dst_mac=b"\x01\x00\x5e\x00\x00\x01")
        r.poll()
        got = []
        while True:
            item = q.recv()
            if item is None:
                break
            got.append(pbuf.to_bytes(item[0]))
            pbuf.free(item[0])
        assert got == [b"bcast", b"all", b"mcast"]
        assert r.sent() == []
        r.finish()


def test_echo_service_answers_unicast_only():
    # RFC 862 echo from the stack's own service: a unicast datagram comes
    # back intact; one sent to the subnet or limited broadcast is taken in
    # (udp_rx) but never answered
    with Rig() as r:
        r.learn()
        r.st.udp.bind_echo(7)
        r.udp_in(40001, 7, b"hello")
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1 and fs[0]["udp"]["data"] == b"hello" and fs[0]["udp"]["dport"] == 40001
        r.mark()
        for dst in ("198.51.100.255", "255.255.255.255"):
            r.udp_in(40002, 7, b"to all", dst=dst, dst_mac=b"\xff" * 6)
        r.poll()
        assert r.sent() == []
        d = r.delta()
        assert d["udp_rx"] == 2 and "udp_tx" not in d
        r.finish()
