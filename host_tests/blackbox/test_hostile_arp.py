"""Hostile traffic, ARP (docs/fuzz.md): floods and poisoning attempts,
beyond the malformed-ARP drops of test_frames_l2.py.

- ARP flood: requests for the stack from hundreds of senders. Every one is
  answered (RFC 826) and its sender cached, the cache stays bounded
  (ARP_CACHE_ENTRIES: older entries are evicted, the host's among them),
  and the host is asked again and answered afterwards: ping keeps working,
  nothing is held, nothing is dropped on the way out.
- Poisoning: RFC 826's merge step re-points a cached address to whatever
  MAC a request or reply names for it, whoever sent it (plain ARP has no
  authentication); what the stack does refuse: a new entry from an
  unsolicited reply or from a request for someone else, and its own or a
  group address as sender (test_frames_l2.py). The real host's next ARP
  puts its entry right again.
"""
import pytest

from bb_frames import (BCAST_MAC, ECHO_ANSWERED, ETH_ARP, STACK_IP, UDP_ECHOED, ZERO_MAC, arp,  # noqa: F401
                       check_echo_reply, checker, eth, ipv4, echo_request, PROTO_ICMP)

pytestmark = pytest.mark.blackbox

FLOOD = 480
CHUNK = 24                      # requests per step: replies well inside the TAP's TX ring


def sender(i):
    ip = "198.51.100.%d" % (10 + i % 240)
    hw = bytes([0x02, 0x00, 0x00, 0x10, i >> 8, i & 0xFF])
    return ip, hw


def test_arp_flood_cache_bounded_ping_answered(checker):
    c = checker
    f = c.f
    for start in range(0, FLOOD, CHUNK):
        reqs = []
        for i in range(start, start + CHUNK):
            ip, hw = sender(i)
            reqs.append(eth(BCAST_MAC, hw, ETH_ARP, arp(1, hw, ip, ZERO_MAC, STACK_IP)))
        got = c.step("ARP requests %d-%d from %d senders" % (start, start + CHUNK - 1, CHUNK), reqs,
                     dict(eth_rx=CHUNK, arp_request_rx=CHUNK, arp_reply_tx=CHUNK), replies=CHUNK)
        # each answered to its own sender's MAC
        want = sorted(bytes(sender(i)[1]) for i in range(start, start + CHUNK))
        c.expect_true("replies %d" % start, sorted(g[:6] for g in got) == want,
                      "replies to %s" % sorted(g[:6].hex() for g in got)[:4])
        c.raise_failures()
    # the host's entry went long ago (16 entries, 480 senders): the echo
    # reply waits for one ARP request, which Linux answers
    d = ipv4(f.hip, STACK_IP, PROTO_ICMP, echo_request(data=b"after the flood"))
    got = c.step("ping from the host after the flood", f.ip_frame(d),
                 dict(eth_rx=2, ipv4_rx=1, icmp_echo_rx=1, icmp_echo_tx=1, ipv4_tx=1, arp_request_tx=1,
                      arp_reply_rx=1), replies=2, until="icmp_echo_tx")
    replies = [g for g in got if g[12:14] == b"\x08\x00"]
    asks = [g for g in got if g[12:14] == b"\x08\x06"]
    c.expect_true("asked", len(asks) == 1 and asks[0][:6] == BCAST_MAC and asks[0][38:42] == bytes(
        int(x) for x in f.hip.split(".")), [a.hex() for a in asks])
    if len(replies) == 1:
        check_echo_reply(c, "echo reply after the flood", replies[0], d)
    else:
        c.fail("ping after the flood", "%d echo replies" % len(replies))
    c.raise_failures()


@pytest.mark.stack_config(ARP_REQUEST_INTERVAL_MS=300, ARP_MAX_REQUESTS=2)
def test_arp_poisoning(checker):
    c = checker
    f = c.f
    evil = bytes.fromhex("0200000000ee")
    hip = f.hip
    # a request from the attacker claiming the host's address (to the stack)
    got = c.step("request claiming the host's address", eth(BCAST_MAC, evil, ETH_ARP,
                 arp(1, evil, hip, ZERO_MAC, STACK_IP)),
                 dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
    c.expect_true("reply to the claimant", got and got[0][:6] == evil, got)
    # RFC 826 merge: the stack's answers to the host now go to that MAC
    got = c.step("UDP echo from the host", f.udp_frame(data=b"where to?"), UDP_ECHOED(), replies=1)
    c.expect_true("echo to the claimed MAC", got and got[0][:6] == evil, [g[:6].hex() for g in got])
    # the real host's ARP request puts it right
    c.step("the host's own request", eth(BCAST_MAC, f.hmac, ETH_ARP, arp(1, f.hmac, hip, ZERO_MAC, STACK_IP)),
           dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
    got = c.step("UDP echo from the host", f.udp_frame(data=b"back"), UDP_ECHOED(), replies=1)
    c.expect_true("echo to the host", got and got[0][:6] == f.hmac, [g[:6].hex() for g in got])
    # an unsolicited reply for the host's (cached) address: merged the same way
    c.step("reply claiming the host's address", eth(f.smac, evil, ETH_ARP, arp(2, evil, hip, f.smac, STACK_IP)),
           dict(eth_rx=1, arp_reply_rx=1))
    got = c.step("UDP echo from the host", f.udp_frame(data=b"again"), UDP_ECHOED(), replies=1)
    c.expect_true("echo to the claimed MAC (reply)", got and got[0][:6] == evil, [g[:6].hex() for g in got])
    c.step("the host's own request", eth(BCAST_MAC, f.hmac, ETH_ARP, arp(1, f.hmac, hip, ZERO_MAC, STACK_IP)),
           dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
    # what is refused: new entries from a reply nobody asked for or from a
    # request for someone else (a UDP echo to that address then has to ARP)
    new_ip = "198.51.100.88"
    c.step("unsolicited reply for a new address", eth(f.smac, evil, ETH_ARP, arp(2, evil, new_ip, f.smac, STACK_IP)),
           dict(eth_rx=1, arp_unsolicited=1))
    c.step("request for someone else from a new address", eth(BCAST_MAC, evil, ETH_ARP,
           arp(1, evil, new_ip, ZERO_MAC, "198.51.100.99")), dict(eth_rx=1, arp_not_for_us=1))
    got = c.step("UDP echo from the new address", f.udp_frame(src=new_ip, src_mac=evil, data=b"x"),
                 dict(eth_rx=1, ipv4_rx=1, udp_rx=1, arp_request_tx=1), replies=1)
    c.expect_true("asked for the new address", got and got[0][:6] == BCAST_MAC and got[0][12:14] == b"\x08\x06",
                  [g.hex()[:40] for g in got])
    c.raise_failures()
