# ARP (stack/arp.py) through a whole Stack on a memif, clock driven by the
# test: replies, what makes a cache entry and what does not, the pending
# queue, request pacing, giving up, bounds, ageing, gratuitous ARP, and one
# named counter for every malformed packet. Runs on both lanes; every test
# ends with the stack shut down and the pool back at NBLOCKS free.
import frames
from frames import ETH_ARP, ZERO_MAC
from support import BCAST, NEAR_WRAP, OTHER_IP, PEER_IP, PEER_MAC, US_IP, US_MAC, Rig

from stack import pbuf
from stack.pool import pool

HEADROOM = 14 + 20 + 8


def _arp_in(r, op, sha=PEER_MAC, spa=PEER_IP, tha=ZERO_MAC, tpa=US_IP, dst=BCAST, src_mac=None,
            pad_to=0, **kw):
    r.inject(frames.eth(dst, sha if src_mac is None else src_mac, ETH_ARP,
                        frames.arp(op, sha, spa, tha, tpa, **kw), pad_to))


def _send_udp(r, dst, data=b"x", dport=9):
    """The application sends a datagram (payload in a pool block, headroom
    for the headers)."""
    p = pbuf.alloc(pool.H_APP, len(data), HEADROOM)
    assert p is not None
    p.buf[p.off:p.off + len(data)] = data
    return r.st.udp.sendto(p, 5000, dst, dport) == 0


def _requests(fs, tpa=None):
    out = []
    for f in fs:
        if "arp" in f and f["arp"]["op"] == 1 and (tpa is None or f["arp"]["tpa"] == tpa):
            out.append(f)
    return out


def _check_request(f, tpa):
    assert f["eth"]["dst"] == BCAST and f["eth"]["src"] == US_MAC
    assert f["eth"]["type"] == ETH_ARP
    a = f["arp"]
    assert (a["htype"], a["ptype"], a["hlen"], a["plen"], a["op"]) == (1, 0x0800, 6, 4, 1)
    assert a["sha"] == US_MAC and a["spa"] == US_IP
    assert a["tha"] == ZERO_MAC and a["tpa"] == tpa
    assert a["len"] == 28


# ---- answering -----------------------------------------------------------------

def test_request_for_us_answered_exactly():
    with Rig() as r:
        _arp_in(r, 1, pad_to=60)        # as it comes off a real wire: padded
        r.poll()
        sent = r.sent()
        assert len(sent) == 1
        assert len(sent[0]) == 14 + 28   # the padding is not echoed
        f = frames.parse_frame(sent[0])
        assert f["eth"]["dst"] == PEER_MAC and f["eth"]["src"] == US_MAC
        assert f["eth"]["type"] == ETH_ARP
        a = f["arp"]
        assert (a["htype"], a["ptype"], a["hlen"], a["plen"], a["op"]) == (1, 0x0800, 6, 4, 2)
        assert a["sha"] == US_MAC and a["spa"] == US_IP
        assert a["tha"] == PEER_MAC and a["tpa"] == PEER_IP
        assert r.delta() == {"eth_rx": 1, "arp_request_rx": 1, "arp_reply_tx": 1}
        # the asker is cached (RFC 826: it will talk to us)
        assert r.st.arp.lookup(PEER_IP) == PEER_MAC
        r.finish()


def test_unicast_request_for_us_answered():
    with Rig() as r:
        _arp_in(r, 1, dst=US_MAC)       # a refresh probe, unicast
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1 and fs[0]["arp"]["op"] == 2 and fs[0]["eth"]["dst"] == PEER_MAC
        r.finish()


def test_request_for_another_target_ignored():
    with Rig() as r:
        _arp_in(r, 1, tpa=OTHER_IP)
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "arp_not_for_us": 1}
        assert r.st.arp.lookup(PEER_IP) is None
        assert len(r.st.arp.cache) == 0
        r.finish()


def test_known_sender_refreshed_by_any_request():
    with Rig() as r:
        r.learn()
        new_mac = b"\x02\x00\x00\x00\x00\x11"
        _arp_in(r, 1, sha=new_mac, tpa=OTHER_IP)    # RFC 826 merge, even if not for us
        r.poll()
        assert r.sent() == []
        assert r.st.arp.lookup(PEER_IP) == new_mac
        r.finish()


def test_unsolicited_reply_makes_no_entry_and_later_send_still_asks():
    with Rig() as r:
        _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "arp_unsolicited": 1}
        assert len(r.st.arp.cache) == 0
        r.mark()
        _send_udp(r, PEER_IP)           # parked, not sent yet
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1
        _check_request(fs[0], PEER_IP)
        # parked for resolution: nothing reached the driver yet, so neither
        # udp_tx nor ipv4_tx moved
        assert r.delta() == {"arp_request_tx": 1}
        r.finish()


# ---- resolution and the pending queue ---------------------------------------------

def test_resolution_flushes_queue_in_order():
    with Rig() as r:
        for d in (b"first", b"second", b"third"):
            _send_udp(r, PEER_IP, d)
        r.poll()
        reqs = r.sent_parsed()
        assert len(reqs) == 1           # one request for three packets
        _check_request(reqs[0], PEER_IP)
        assert pool.held(pool.H_ARPQ) == 3
        r.mark()
        _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
        r.poll()
        fs = r.sent_parsed()
        assert [f["udp"]["data"] for f in fs] == [b"first", b"second", b"third"]
        for f in fs:
            assert f["eth"]["dst"] == PEER_MAC and f["ip"]["dst"] == PEER_IP
            assert f["udp"]["checksum_ok"]
        d = r.delta()
        assert d["arp_reply_rx"] == 1
        assert "arp_unsolicited" not in d
        assert pool.held(pool.H_ARPQ) == 0
        assert r.quiesced()
        assert r.st.arp.lookup(PEER_IP) == PEER_MAC
        # resolved: the next datagram goes straight out
        _send_udp(r, PEER_IP, b"fourth")
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1 and fs[0]["udp"]["data"] == b"fourth"
        r.finish()


def test_at_most_one_request_per_interval():
    _at_most_one_request_per_interval(0)


def test_at_most_one_request_per_interval_across_the_clock_wrap():
    _at_most_one_request_per_interval(NEAR_WRAP)


def _at_most_one_request_per_interval(start):
    with Rig(now=start) as r:
        iv = r.config.ARP_REQUEST_INTERVAL_MS
        _send_udp(r, PEER_IP, b"a")
        r.poll()
        assert len(_requests(r.sent_parsed())) == 1
        # more traffic and timer ticks within the interval: no new request
        for t in range(100, iv, 100):
            if t == 300:
                _send_udp(r, PEER_IP, b"b")
            r.poll(t)
        r.poll(iv - 1)
        assert _requests(r.sent_parsed()) == []
        r.poll(iv)                      # a tick when the interval has passed
        fs = _requests(r.sent_parsed())
        assert len(fs) == 1
        _check_request(fs[0], PEER_IP)
        r.poll(iv + iv // 2)
        assert _requests(r.sent_parsed()) == []
        assert r.delta()["arp_request_tx"] == 2
        r.finish()


def test_gives_up_after_max_requests_and_frees_queue():
    _gives_up_after_max_requests_and_frees_queue(0)


def test_gives_up_after_max_requests_and_frees_queue_across_the_clock_wrap():
    _gives_up_after_max_requests_and_frees_queue(NEAR_WRAP)


def _gives_up_after_max_requests_and_frees_queue(start):
    with Rig(now=start) as r:
        iv = r.config.ARP_REQUEST_INTERVAL_MS
        nmax = r.config.ARP_MAX_REQUESTS
        _send_udp(r, PEER_IP, b"a")
        _send_udp(r, PEER_IP, b"b")
        assert pool.held(pool.H_ARPQ) == 2
        r.run_until(nmax * iv - 1)
        assert len(_requests(r.sent_parsed(), PEER_IP)) == nmax
        assert r.st.arp.entry(PEER_IP) is not None
        r.run_until(nmax * iv + 2 * r.config.TIMER_TICK_MS)
        assert _requests(r.sent_parsed()) == []        # no further request
        d = r.delta()
        assert d["arp_request_tx"] == nmax
        assert d["arp_gave_up"] == 2
        assert r.st.arp.entry(PEER_IP) is None
        assert pool.held(pool.H_ARPQ) == 0
        assert r.quiesced()             # given up: the blocks are back
        # a late reply is unsolicited now
        r.mark()
        _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "arp_unsolicited": 1}
        r.finish()


def test_gives_up_with_shorter_settings():
    _gives_up_with_shorter_settings(0)


def test_gives_up_with_shorter_settings_across_the_clock_wrap():
    _gives_up_with_shorter_settings(NEAR_WRAP)


def _gives_up_with_shorter_settings(start):
    with Rig(now=start, ARP_MAX_REQUESTS=1, ARP_REQUEST_INTERVAL_MS=200) as r:
        _send_udp(r, PEER_IP)
        r.run_until(1000)
        assert len(_requests(r.sent_parsed())) == 1
        assert r.delta()["arp_gave_up"] == 1
        assert r.quiesced()
        r.finish()


def test_queue_bound_per_destination():
    with Rig() as r:
        per = r.config.ARP_QUEUE_PER_DEST
        for i in range(per + 2):
            _send_udp(r, PEER_IP, bytes([65 + i]))
        r.poll()
        d = r.delta()
        assert d["arp_queue_full"] == 2
        assert pool.held(pool.H_ARPQ) == per
        r.sent()
        _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
        r.poll()
        fs = r.sent_parsed()
        assert [f["udp"]["data"] for f in fs] == [bytes([65 + i]) for i in range(per)]
        assert r.quiesced()
        r.finish()


def test_queue_bound_over_all_destinations():
    with Rig() as r:
        quota = r.config.QUOTA_ARPQ_BLOCKS
        per = r.config.ARP_QUEUE_PER_DEST
        ndest = quota // per + 1
        for k in range(ndest):
            for i in range(per):
                _send_udp(r, "198.51.100.%d" % (10 + k), b"d")
        r.poll()
        assert pool.held(pool.H_ARPQ) == quota
        assert r.delta()["arp_queue_full"] == ndest * per - quota
        assert len(_requests(r.sent_parsed())) == ndest    # each still asked for
        r.finish()


def test_cache_bound_evicts_oldest_resolved():
    with Rig(ARP_CACHE_ENTRIES=4) as r:
        for k in range(5):
            mac = bytes([2, 0, 0, 0, 1, k])
            _arp_in(r, 1, sha=mac, spa="198.51.100.%d" % (10 + k))
            r.poll(r.t + 10)
        assert len(r.st.arp.cache) == 4
        assert r.st.arp.lookup("198.51.100.10") is None      # the oldest went
        for k in range(1, 5):
            assert r.st.arp.lookup("198.51.100.%d" % (10 + k)) == bytes([2, 0, 0, 0, 1, k])
        r.finish()


def test_cache_full_of_pending_entries():
    with Rig(ARP_CACHE_ENTRIES=4) as r:
        for k in range(4):
            _send_udp(r, "198.51.100.%d" % (10 + k))
        r.poll()
        assert len(_requests(r.sent_parsed())) == 4
        r.mark()
        assert _send_udp(r, "198.51.100.20") is False   # dropped
        r.poll()
        assert r.sent() == []
        assert r.delta() == {"arp_cache_full": 1}     # not counted as sent anywhere
        assert len(r.st.arp.cache) == 4
        r.finish()


def test_entry_ages_out():
    _entry_ages_out(0)


def test_entry_ages_out_across_the_clock_wrap():
    _entry_ages_out(NEAR_WRAP)


def _entry_ages_out(start):
    with Rig(now=start, ARP_ENTRY_TTL_MS=5000) as r:
        r.learn()
        r.poll(4900)
        assert r.st.arp.lookup(PEER_IP) == PEER_MAC
        _send_udp(r, PEER_IP, b"x")
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1 and "udp" in fs[0]
        r.poll(5000)
        assert r.st.arp.lookup(PEER_IP) is None
        assert r.delta() == {"arp_expired": 1, "udp_tx": 1, "ipv4_tx": 1}
        _send_udp(r, PEER_IP, b"y")     # asks again
        r.poll()
        fs = _requests(r.sent_parsed())
        assert len(fs) == 1
        _check_request(fs[0], PEER_IP)
        r.finish()


def test_default_ttl_ages_out():
    with Rig() as r:
        r.learn()
        ttl = r.config.ARP_ENTRY_TTL_MS
        r.poll(ttl - 100)
        assert r.st.arp.lookup(PEER_IP) == PEER_MAC
        r.poll(ttl + 100)
        assert r.st.arp.lookup(PEER_IP) is None
        assert r.delta() == {"arp_expired": 1}
        r.finish()


# ---- gratuitous ARP ------------------------------------------------------------

def test_gratuitous_arp_on_up():
    with Rig() as r:
        r.st.up()
        fs = r.sent_parsed()
        assert len(fs) == 1
        f = fs[0]
        assert f["eth"]["dst"] == BCAST and f["eth"]["src"] == US_MAC
        a = f["arp"]
        assert a["op"] == 1 and a["sha"] == US_MAC and a["spa"] == US_IP
        assert a["tha"] == ZERO_MAC and a["tpa"] == US_IP
        assert r.delta() == {"arp_gratuitous_tx": 1}
        r.finish()


# ---- malformed and hostile packets ----------------------------------------------

def _dropped(r, counter):
    r.poll()
    assert r.sent() == []
    assert r.delta() == {"eth_rx": 1, counter: 1}, counter
    assert len(r.st.arp.cache) == 0
    r.mark()


def test_truncated():
    with Rig() as r:
        r.inject(frames.eth(BCAST, PEER_MAC, ETH_ARP, frames.arp(1, PEER_MAC, PEER_IP, ZERO_MAC, US_IP)[:27]))
        _dropped(r, "arp_truncated")
        r.inject(frames.eth(BCAST, PEER_MAC, ETH_ARP, b""))
        _dropped(r, "arp_truncated")
        r.finish()


def test_bad_format():
    with Rig() as r:
        for kw in ({"htype": 6}, {"ptype": 0x86DD}, {"hlen": 8}, {"plen": 16}):
            _arp_in(r, 1, **kw)
            _dropped(r, "arp_bad_format")
        r.finish()


def test_bad_op():
    with Rig() as r:
        for op in (0, 3, 4, 0x0101):
            _arp_in(r, op)
            _dropped(r, "arp_bad_op")
        r.finish()


def test_bad_sender():
    with Rig() as r:
        _arp_in(r, 1, sha=b"\x01\x00\x5e\x00\x00\x01", src_mac=PEER_MAC)   # group MAC as sender
        _dropped(r, "arp_bad_sender")
        _arp_in(r, 1, sha=BCAST, src_mac=PEER_MAC)
        _dropped(r, "arp_bad_sender")
        for spa in (US_IP, "127.0.0.1", "255.255.255.255", "198.51.100.255", "224.0.0.1",
                    "240.0.0.1", "0.1.2.3"):
            _arp_in(r, 1, spa=spa)
            _dropped(r, "arp_bad_sender")
            _arp_in(r, 2, spa=spa, tha=US_MAC, dst=US_MAC)
            _dropped(r, "arp_bad_sender")
        r.finish()


def test_probe_from_zero_address_answered_without_entry():
    # RFC 5227 probe: sender 0.0.0.0 asking for our address; we defend it
    with Rig() as r:
        _arp_in(r, 1, spa="0.0.0.0")
        r.poll()
        fs = r.sent_parsed()
        assert len(fs) == 1 and fs[0]["arp"]["op"] == 2
        assert fs[0]["arp"]["tha"] == PEER_MAC and fs[0]["eth"]["dst"] == PEER_MAC
        assert len(r.st.arp.cache) == 0
        r.finish()


def test_released_packets_leave_the_arp_quota_while_in_the_tx_ring():
    # once resolved, parked datagrams sit in the TX ring until the MAC is
    # done; they must not keep the ARP queue's quota taken meanwhile
    with Rig() as r:
        for d in (b"one", b"two", b"three"):
            _send_udp(r, PEER_IP, d)
        r.poll()
        r.sent_parsed()
        assert pool.held(pool.H_ARPQ) == 3
        real_reap = r.drv.tx_reap
        r.drv.tx_reap = lambda out: 0           # the MAC has not sent them yet
        try:
            _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
            r.st.netif.poll_rx(8)
            assert r.drv.pending_tx() == 3
            assert pool.held(pool.H_ARPQ) == 0
        finally:
            r.drv.tx_reap = real_reap
        r.poll()
        assert [f["udp"]["data"] for f in r.sent_parsed()] == [b"one", b"two", b"three"]
        r.finish()


# ---- what is counted for a parked datagram, and ARP's own failures ------------------

def test_echo_reply_given_up_in_the_arp_queue_never_counted_as_sent():
    # the peer pings us before we know its MAC: the reply waits for ARP, no
    # answer comes, the reply is given up. Nothing reached the driver, so
    # neither ipv4_tx nor icmp_echo_tx moved (they used to, at parking time)
    with Rig() as r:
        r.ping_in(seq=1)
        r.run_until(r.config.ARP_MAX_REQUESTS * r.config.ARP_REQUEST_INTERVAL_MS + 500)
        fs = r.sent_parsed()
        assert len(fs) == r.config.ARP_MAX_REQUESTS and all("arp" in f for f in fs)
        d = r.delta()
        assert d == {"eth_rx": 1, "ipv4_rx": 1, "icmp_echo_rx": 1,
                     "arp_request_tx": r.config.ARP_MAX_REQUESTS, "arp_gave_up": 1}, d
        assert r.quiesced()
        r.finish()


def test_echo_reply_released_from_the_arp_queue_counted_when_sent():
    with Rig() as r:
        r.ping_in(seq=1)
        r.poll(10)
        assert r.delta() == {"eth_rx": 1, "ipv4_rx": 1, "icmp_echo_rx": 1, "arp_request_tx": 1}
        r.sent()
        r.mark()
        _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
        r.poll(20)
        fs = r.sent_parsed()
        assert len(fs) == 1 and fs[0]["icmp"]["type"] == 0
        assert r.delta() == {"eth_rx": 1, "arp_reply_rx": 1, "ipv4_tx": 1, "icmp_echo_tx": 1}
        r.finish()


def test_arp_request_without_a_block_counts_its_own_counter():
    with Rig(QUOTA_TX_BLOCKS=0, QUOTA_TX_HDR_BLOCKS=0) as r:
        assert _send_udp(r, PEER_IP)                # parked; the request cannot be built
        r.poll(10)
        assert r.sent() == []
        d = r.delta()
        assert d == {"arp_tx_no_buffer": 1}, d     # not ipv4_tx_no_buffer, and no arp_request_tx
        r.finish()


def test_parked_datagram_refused_by_the_tx_quota_on_release_is_a_counted_drop():
    with Rig() as r:
        _send_udp(r, PEER_IP, b"parked")
        r.poll(10)
        assert len(_requests(r.sent_parsed())) == 1
        assert pool.held(pool.H_ARPQ) == 1
        pool.set_quota(pool.H_TX, 0)              # (the Rig puts the quotas back)
        r.mark()
        _arp_in(r, 2, tha=US_MAC, dst=US_MAC)
        r.poll(20)
        assert r.sent() == []
        assert r.delta() == {"eth_rx": 1, "arp_reply_rx": 1, "arp_release_no_quota": 1}
        assert pool.held(pool.H_ARPQ) == 0 and r.quiesced()
        r.finish()
