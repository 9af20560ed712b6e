"""Frame suite, link layer: Ethernet and ARP frames the stack must drop
(each under its own named counter, nothing sent back) or answer.

Every step asserts the exact counter delta (see bb_frames.Checker.step).
"""
import socket
import struct
import threading
import time

import pytest

from bb_frames import (BCAST_MAC, ECHO_ANSWERED, ETH_ARP, ETH_IP, HOST_UDP_PORT, STACK_IP, TAP,
                       UDP_ECHOED, ZERO_MAC, arp, checker, eth, parse)  # noqa: F401  (checker: fixture)
import netns as netns_mod

pytestmark = pytest.mark.blackbox

OTHER_MAC = "02:00:00:00:00:99"       # a unicast MAC that is nobody here
SPOOF_IP = "198.51.100.77"
SPOOF_MAC = "02:00:00:00:00:77"


def test_eth_truncated(checker):
    """A frame shorter than the Ethernet header. Linux refuses to put one
    on a TAP from a packet socket (dev_validate_header: EINVAL under 14
    bytes), so this can only run where such a frame can be sent."""
    try:
        checker.wire.send(checker.f.smac + checker.f.hmac + b"\x08")
    except OSError as e:
        pytest.skip("cannot send a 13-byte frame into the TAP from the host (%s): "
                    "eth_truncated is unreachable over TAP" % e)
    time.sleep(0.2)
    pytest.fail("the kernel sent a 13-byte frame; turn this into a real eth_truncated step")


def test_ethernet_drops(checker):
    c = checker
    f = c.f
    ping = f.ping()
    body = ping[14:]
    c.step("unknown EtherType 0x88b5", eth(f.smac, f.hmac, 0x88B5, body),
           dict(eth_rx=1, eth_unknown_type=1))
    c.step("unknown EtherType to broadcast", eth(BCAST_MAC, f.hmac, 0x88B5, body),
           dict(eth_rx=1, eth_unknown_type=1))
    c.step("our own MAC as source (a loop)", eth(f.smac, f.smac, ETH_IP, body),
           dict(eth_rx=1, eth_own_src=1))
    c.step("our own MAC as source, broadcast", eth(BCAST_MAC, f.smac, ETH_ARP,
           arp(1, f.smac, STACK_IP, ZERO_MAC, STACK_IP)), dict(eth_rx=1, eth_own_src=1))
    c.step("802.1Q-tagged ping (VLAN 5)", eth(f.smac, f.hmac, 0x8100, b"\x00\x05\x08\x00" + body),
           dict(eth_rx=1, eth_unknown_type=1))
    c.step("ping to another unicast MAC", eth(OTHER_MAC, f.hmac, ETH_IP, body),
           dict(eth_rx=1, eth_other_dst=1))
    c.step("ARP request to another unicast MAC",
           eth(OTHER_MAC, f.hmac, ETH_ARP, arp(1, f.hmac, f.hip, ZERO_MAC, STACK_IP)),
           dict(eth_rx=1, eth_other_dst=1))
    # the same ping, addressed right, is answered: the drops above were for the header
    c.step("control: the ping itself", ping,
           dict(eth_rx=1, ipv4_rx=1, icmp_echo_rx=1, icmp_echo_tx=1, ipv4_tx=1), replies=1)
    c.raise_failures()


def test_arp_drops(checker):
    c = checker
    f = c.f
    req = arp(1, f.hmac, f.hip, ZERO_MAC, STACK_IP)
    for n in (0, 8, 27):
        c.step("ARP of %d bytes" % n, eth(BCAST_MAC, f.hmac, ETH_ARP, req[:n]),
               dict(eth_rx=1, arp_truncated=1))
    c.step("ARP hardware type 6", eth(BCAST_MAC, f.hmac, ETH_ARP,
           arp(1, f.hmac, f.hip, ZERO_MAC, STACK_IP, htype=6)), dict(eth_rx=1, arp_bad_format=1))
    c.step("ARP protocol 0x86dd", eth(BCAST_MAC, f.hmac, ETH_ARP,
           arp(1, f.hmac, f.hip, ZERO_MAC, STACK_IP, ptype=0x86DD)), dict(eth_rx=1, arp_bad_format=1))
    c.step("ARP operation 3 (RARP)", eth(BCAST_MAC, f.hmac, ETH_ARP,
           arp(3, f.hmac, f.hip, ZERO_MAC, STACK_IP)), dict(eth_rx=1, arp_bad_op=1))
    for who in ("127.0.0.1", "224.0.0.5", "198.51.100.255", STACK_IP):
        c.step("ARP request from sender %s" % who, eth(BCAST_MAC, f.hmac, ETH_ARP,
               arp(1, f.hmac, who, ZERO_MAC, STACK_IP)), dict(eth_rx=1, arp_bad_sender=1))
    c.step("ARP request with a broadcast sender MAC", eth(BCAST_MAC, f.hmac, ETH_ARP,
           arp(1, BCAST_MAC, f.hip, ZERO_MAC, STACK_IP)), dict(eth_rx=1, arp_bad_sender=1))
    c.step("ARP request for another target", eth(BCAST_MAC, f.hmac, ETH_ARP,
           arp(1, f.hmac, f.hip, ZERO_MAC, "198.51.100.99")), dict(eth_rx=1, arp_not_for_us=1))
    c.step("ARP request for another target from an unknown sender", eth(BCAST_MAC, SPOOF_MAC, ETH_ARP,
           arp(1, SPOOF_MAC, SPOOF_IP, ZERO_MAC, "198.51.100.99")), dict(eth_rx=1, arp_not_for_us=1))
    got = c.step("ARP probe (sender 0.0.0.0, RFC 5227) for our address",
                 eth(BCAST_MAC, SPOOF_MAC, ETH_ARP, arp(1, SPOOF_MAC, "0.0.0.0", ZERO_MAC, STACK_IP)),
                 dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
    if got:
        p = parse(got[0])
        c.expect_true("ARP probe answered", "ARP" in p and p.dst == SPOOF_MAC and p["ARP"].op == 2
                      and p["ARP"].pdst == "0.0.0.0" and p["ARP"].hwdst == SPOOF_MAC, p.summary())
    # the real request is answered, with exactly the reply RFC 826 asks for
    got = c.step("control: ARP request for us", eth(BCAST_MAC, f.hmac, ETH_ARP, req),
                 dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
    if got:
        p = parse(got[0])
        a = p["ARP"]
        c.expect_true("ARP reply", (a.op, a.psrc, a.hwsrc, a.pdst, a.hwdst, p.dst) ==
                      (2, STACK_IP, c.st.stack_mac, f.hip, c.st.host_mac.lower(), c.st.host_mac.lower()),
                      "bad reply %s" % p.summary())
    c.raise_failures()


def test_arp_unsolicited_reply_makes_no_entry(checker):
    """An ARP reply nobody asked for is dropped and makes no cache entry:
    a datagram then sent to that address triggers an ARP request, not a
    frame to the unsolicited MAC."""
    c = checker
    f = c.f
    unsolicited = eth(f.smac, SPOOF_MAC, ETH_ARP, arp(2, SPOOF_MAC, SPOOF_IP, f.smac, STACK_IP))
    c.step("unsolicited ARP reply from %s" % SPOOF_IP, unsolicited, dict(eth_rx=1, arp_unsolicited=1))
    c.step("unsolicited gratuitous ARP reply", eth(BCAST_MAC, SPOOF_MAC, ETH_ARP,
           arp(2, SPOOF_MAC, SPOOF_IP, BCAST_MAC, SPOOF_IP)), dict(eth_rx=1, arp_unsolicited=1))
    # a UDP echo request from the spoofed address: the echo must wait for ARP
    data = b"who are you, 198.51.100.77?"
    q = f.udp_frame(src=SPOOF_IP, src_mac=SPOOF_MAC, data=data)
    # (parked: udp_tx and ipv4_tx move only when the echo reaches the driver)
    got = c.step("UDP echo request from %s" % SPOOF_IP, q,
                 dict(eth_rx=1, ipv4_rx=1, udp_rx=1, arp_request_tx=1), replies=1)
    if got:
        p = parse(got[0])
        ok = ("ARP" in p and p["ARP"].op == 1 and p["ARP"].pdst == SPOOF_IP
              and p.dst == "ff:ff:ff:ff:ff:ff")
        c.expect_true("after the unsolicited reply", ok,
                      "expected an ARP request for %s, the stack sent %s" % (SPOOF_IP, p.summary()))
    # now answer the request: the parked echo goes out to the answering MAC
    answer = eth(f.smac, SPOOF_MAC, ETH_ARP, arp(2, SPOOF_MAC, SPOOF_IP, f.smac, STACK_IP))
    got = c.step("ARP reply to the stack's request", answer,
                 dict(eth_rx=1, arp_reply_rx=1, udp_tx=1, ipv4_tx=1), replies=1)
    if got:
        p = parse(got[0])
        ok = ("UDP" in p and p.dst == SPOOF_MAC and p["IP"].dst == SPOOF_IP
              and p["UDP"].dport == HOST_UDP_PORT and bytes(p["UDP"].payload) == data)
        c.expect_true("parked echo", ok, "expected the UDP echo to %s, got %s" % (SPOOF_MAC, p.summary()))
    c.raise_failures()


def test_arp_request_makes_entry(checker):
    """The contrast to the unsolicited reply: a sender that asks for our
    address is cached (RFC 826), so a datagram to it goes straight out."""
    c = checker
    f = c.f
    ip, hw = "198.51.100.78", "02:00:00:00:00:78"
    c.step("ARP request from %s" % ip, eth(BCAST_MAC, hw, ETH_ARP, arp(1, hw, ip, ZERO_MAC, STACK_IP)),
           dict(eth_rx=1, arp_request_rx=1, arp_reply_tx=1), replies=1)
    got = c.step("UDP echo request from %s" % ip, f.udp_frame(src=ip, src_mac=hw, data=b"hi"),
                 UDP_ECHOED(), replies=1)
    if got:
        p = parse(got[0])
        c.expect_true("echo to a cached sender", "UDP" in p and p.dst == hw and p["IP"].dst == ip,
                      p.summary())
    c.raise_failures()


def test_oversize_frames(checker):
    """Frames longer than a pool block can hold (1598 bytes) are dropped by
    the driver (rx_oversize, the block stays posted); a 1598-byte one is
    taken (its echo reply, over the 1500-byte MTU, goes out in 2 fragments)."""
    c = checker
    f = c.f
    r = c.st.run(["ip", "link", "set", "dev", TAP, "mtu", "4000"])
    assert r.returncode == 0, r.stderr
    for size in (1599, 1600, 3000):
        c.step("%d-byte frame" % size, f.ping(data=b"\x3c" * (size - 42)), {},
               driver_expect=dict(rx_oversize=1))
    got = c.step("1598-byte frame", f.ping(data=b"\x3c" * (1598 - 42)),
                 dict(ECHO_ANSWERED(), ipv4_frag_tx=2), replies=2)
    if len(got) == 2:
        sizes = sorted(len(x) for x in got)
        c.expect_true("fragmented reply", sizes[-1] <= 1514 and sum(sizes) - 2 * 34 == 1598 - 34,
                      "reply fragment sizes %s" % sizes)
    c.step("control: ping", f.ping(), ECHO_ANSWERED(), replies=1)
    c.raise_failures()


@pytest.fixture
def boot_capture(netns):
    """Capture every frame in the namespace from before the stack starts
    (an unbound packet socket sees interfaces created later)."""
    with netns.enter():
        assert netns_mod.in_private_ns()
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.settimeout(0.05)
    frames = []
    stop = threading.Event()

    def run():
        while not stop.is_set() and len(frames) < 10000:
            try:
                data, addr = s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[0] == TAP and addr[2] != 4:
                frames.append(data)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield frames
    finally:
        stop.set()
        t.join(2)
        s.close()


def test_gratuitous_arp_at_start(boot_capture, stack):
    """One gratuitous ARP (RFC 5227 announcement: sender = target = our
    address) when the interface comes up."""
    snap = stack.counters()
    assert snap["counters"]["arp_gratuitous_tx"] == 1, snap["counters"]
    deadline = time.monotonic() + 2
    while not boot_capture and time.monotonic() < deadline:
        time.sleep(0.02)
    ann = [parse(x) for x in boot_capture]
    ann = [p for p in ann if "ARP" in p and p["ARP"].psrc == STACK_IP]
    assert len(ann) == 1, [p.summary() for p in ann]
    p = ann[0]
    a = p["ARP"]
    assert p.dst == "ff:ff:ff:ff:ff:ff" and p.src == stack.stack_mac
    assert (a.op, a.hwsrc, a.psrc, a.pdst) == (1, stack.stack_mac, STACK_IP, STACK_IP), p.summary()
