"""Frame suite, ICMP and UDP: truncated and corrupt messages, ICMP errors
received (never answered with an error), unknown protocols, UDP length and
checksum rules, closed ports (port unreachable quoting exactly the bytes that
arrived, never for broadcast or multicast), the ICMP error rate limit.

Every step asserts the exact counter delta (see bb_frames.Checker.step).
"""
import struct

import pytest

from bb_frames import (ALL_HOSTS_MAC, BCAST_MAC, CLOSED_PORT, ECHO_ANSWERED, HOST_UDP_PORT,
                       PROTO_ICMP, PROTO_UDP, STACK_IP, UDP_ECHOED, check_icmp_error,  # noqa: F401
                       checker, csum, echo_request, icmp, ipv4, udp)

pytestmark = pytest.mark.blackbox

PROTO_UNKNOWN = 253       # RFC 3692 experimental
QUOTE_MAX = 548           # config.ICMP_ERR_QUOTE_MAX_BYTES: the error fits in 576 bytes


def test_icmp_drops_and_errors_received(checker):
    c = checker
    f = c.f
    hip = f.hip

    def dgram(msg, dst=STACK_IP, **kw):
        return ipv4(hip, dst, PROTO_ICMP, msg, **kw)

    echo = echo_request(data=b"icmp frame suite")
    for n in (0, 1, 7):
        c.step("ICMP message of %d bytes" % n, f.ip_frame(dgram(echo[:n])),
               dict(eth_rx=1, ipv4_rx=1, icmp_truncated=1))
    c.step("echo request with a bad checksum", f.ip_frame(dgram(echo_request(data=b"x", cksum=0x1234))),
           dict(eth_rx=1, ipv4_rx=1, icmp_bad_checksum=1))
    odd = echo_request(data=b"odd")
    c.step("odd-length echo request, checksum off by one", f.ip_frame(dgram(
           odd[:2] + struct.pack("!H", (struct.unpack("!H", odd[2:4])[0] + 1) & 0xFFFF) + odd[4:])),
           dict(eth_rx=1, ipv4_rx=1, icmp_bad_checksum=1))
    got = c.step("control: odd-length echo request", f.ip_frame(dgram(odd)), ECHO_ANSWERED(), replies=1)
    if got:
        c.expect_true("odd echo", got[0][34:] == b"\x00\x00" + got[0][36:38] + odd[4:]
                      and csum(got[0][34:]) == 0, "bad reply %s" % got[0][34:].hex())
    # ICMP errors to us: counted, never answered (RFC 1122 3.2.2), and passed
    # to the transport when the quote is whole and about one of ours
    inner_unknown = ipv4(STACK_IP, hip, PROTO_UNKNOWN, b"\x03\x03\x00\x00" + b"\x00" * 4)
    inner_icmp_err = ipv4(STACK_IP, hip, PROTO_ICMP, icmp(3, 1, data=b"\x45" + b"\x00" * 27))
    errors = [
        ("dest unreachable quoting 5 junk bytes", icmp(3, 3, data=b"\x99\x00\x01\x02\x03"),
         "icmp_error_bad_quote"),
        ("dest unreachable quoting nothing", icmp(3, 1), "icmp_error_bad_quote"),
        ("dest unreachable quoting a bad IHL", icmp(3, 2, data=b"\x41" + b"\x00" * 27), "icmp_error_bad_quote"),
        ("dest unreachable about an unknown-protocol datagram", icmp(3, 2, data=inner_unknown),
         "icmp_error_unhandled"),
        ("time exceeded about an ICMP error", icmp(11, 0, data=inner_icmp_err), "icmp_error_unhandled"),
        ("parameter problem", icmp(12, 0, b"\x14\x00\x00\x00", inner_unknown), "icmp_error_unhandled"),
        ("source quench", icmp(4, 0, data=inner_unknown), "icmp_error_ignored"),
        ("redirect", icmp(5, 1, bytes(map(int, "198.51.100.9".split("."))), inner_unknown), "icmp_error_ignored"),
    ]
    for label, msg, outcome in errors:
        c.step(label, f.ip_frame(dgram(msg)), {"eth_rx": 1, "ipv4_rx": 1, "icmp_error_rx": 1, outcome: 1})
    c.step("dest unreachable to broadcast", f.ip_frame(dgram(icmp(3, 3, data=inner_unknown),
           dst="198.51.100.255"), dst_mac=BCAST_MAC),
           dict(eth_rx=1, ipv4_rx=1, icmp_error_rx=1, icmp_error_unhandled=1))
    c.step("dest unreachable with a bad checksum", f.ip_frame(dgram(icmp(3, 3, data=inner_unknown, cksum=1))),
           dict(eth_rx=1, ipv4_rx=1, icmp_bad_checksum=1))
    for typ in (0, 13, 42, 255):
        c.step("ICMP type %d" % typ, f.ip_frame(dgram(icmp(typ, 0, data=b"abcd"))),
               dict(eth_rx=1, ipv4_rx=1, icmp_other=1))
    c.raise_failures()


def test_unknown_protocol(checker):
    """Protocol unreachable for unicast (RFC 1122 3.2.2.1), quoting exactly
    the datagram; nothing for broadcast; content that looks like an ICMP
    error does not matter (it is not ICMP)."""
    c = checker
    f = c.f
    looks_like_err = icmp(3, 3, data=ipv4(STACK_IP, f.hip, PROTO_UDP, b"\x00" * 8))
    d = ipv4(f.hip, STACK_IP, PROTO_UNKNOWN, looks_like_err)
    got = c.step("unknown protocol %d, unicast" % PROTO_UNKNOWN, f.ip_frame(d),
                 dict(eth_rx=1, ipv4_rx=1, ipv4_unknown_proto=1, icmp_unreach_tx=1, ipv4_tx=1), replies=1)
    if got:
        check_icmp_error(c, "protocol unreachable", got[0], 3, 2, d)
    d2 = ipv4(f.hip, STACK_IP, PROTO_UNKNOWN, b"zz" * 9)
    got = c.step("unknown protocol with trailing bytes", f.ip_frame(d2, trailer=b"\xcc" * 24),
                 dict(eth_rx=1, ipv4_rx=1, ipv4_unknown_proto=1, icmp_unreach_tx=1, ipv4_tx=1), replies=1)
    if got:
        check_icmp_error(c, "protocol unreachable (trailer)", got[0], 3, 2, d2)
    for dst, dmac in (("198.51.100.255", BCAST_MAC), ("255.255.255.255", BCAST_MAC),
                      ("224.0.0.1", ALL_HOSTS_MAC)):
        c.step("unknown protocol to %s" % dst, f.ip_frame(ipv4(f.hip, dst, PROTO_UNKNOWN, looks_like_err),
               dst_mac=dmac), dict(eth_rx=1, ipv4_rx=1, ipv4_unknown_proto=1, icmp_err_suppressed=1))
    c.raise_failures()


def test_udp_drops_and_checksums(checker):
    c = checker
    f = c.f
    hip = f.hip
    data = b"udp frame suite payload"
    seg = udp(hip, STACK_IP, HOST_UDP_PORT, 7, data)
    for n in (0, 4, 7):
        c.step("UDP header of %d bytes" % n, f.ip_frame(ipv4(hip, STACK_IP, PROTO_UDP, seg[:n])),
               dict(eth_rx=1, ipv4_rx=1, udp_truncated=1))
    n = len(seg)
    for ulen in (n + 1, n + 100, 7, 0):
        c.step("UDP length %d for %d bytes" % (ulen, n),
               f.udp_frame(data=data, ulen=ulen), dict(eth_rx=1, ipv4_rx=1, udp_bad_length=1))
    # a shorter UDP length is taken as the datagram's end (the rest ignored, as
    # Linux does); the checksum made over all the bytes then fails
    for ulen in (n - 1, 8):
        c.step("UDP length %d for %d bytes" % (ulen, n),
               f.udp_frame(data=data, ulen=ulen), dict(eth_rx=1, ipv4_rx=1, udp_bad_checksum=1))
    bad = bytearray(seg)
    bad[8] ^= 0x40
    c.step("UDP payload bit flipped", f.ip_frame(ipv4(hip, STACK_IP, PROTO_UDP, bytes(bad))),
           dict(eth_rx=1, ipv4_rx=1, udp_bad_checksum=1))
    c.step("UDP checksum 0xffff on a datagram that needs another",
           f.udp_frame(data=data, cksum=0xFFFF if struct.unpack("!H", seg[6:8])[0] != 0xFFFF else 0x1111),
           dict(eth_rx=1, ipv4_rx=1, udp_bad_checksum=1))
    c.step("UDP to a closed port with a bad checksum (no port unreachable)",
           f.udp_frame(dport=CLOSED_PORT, data=data, cksum=0x0101), dict(eth_rx=1, ipv4_rx=1, udp_bad_checksum=1))
    got = c.step("UDP checksum 0 (none) is accepted", f.udp_frame(data=data, cksum=0), UDP_ECHOED(), replies=1)
    if got:
        r = got[0][14:]
        rs = r[20:]
        pseudo = r[12:20] + struct.pack("!BBH", 0, PROTO_UDP, len(rs))
        ok = (rs[8:] == data and struct.unpack("!HHH", rs[:6]) == (7, HOST_UDP_PORT, 8 + len(data))
              and rs[6:8] != b"\x00\x00" and csum(pseudo + rs) == 0)
        c.expect_true("echo of a checksum-0 datagram", ok, "bad echo %s" % rs.hex())
    got = c.step("empty UDP datagram echoed", f.udp_frame(data=b""), UDP_ECHOED(), replies=1)
    if got:
        c.expect_true("empty echo", len(got[0]) == 14 + 28, "echo of %d bytes" % len(got[0]))
    c.raise_failures()


def test_udp_closed_port(checker):
    c = checker
    f = c.f
    unreach = dict(eth_rx=1, ipv4_rx=1, udp_no_port=1, icmp_unreach_tx=1, ipv4_tx=1)
    d = f.udp_dgram(dport=CLOSED_PORT, data=b"closed port probe")
    got = c.step("UDP to a closed port", f.ip_frame(d), unreach, replies=1)
    if got:
        check_icmp_error(c, "port unreachable", got[0], 3, 3, d)
    d = f.udp_dgram(dport=CLOSED_PORT, data=b"with trailer", ident=7)
    got = c.step("UDP to a closed port, 20 bytes after the datagram",
                 f.ip_frame(d, trailer=b"\x5a" * 20), unreach, replies=1)
    if got:
        check_icmp_error(c, "port unreachable (trailer not quoted)", got[0], 3, 3, d)
    d = f.udp_dgram(dport=CLOSED_PORT, data=bytes(range(256)) * 4, ident=8)
    got = c.step("1052-byte UDP to a closed port", f.ip_frame(d), unreach, replies=1)
    if got:
        check_icmp_error(c, "port unreachable (long quote)", got[0], 3, 3, d[:QUOTE_MAX])
    c.step("UDP echo request to 198.51.100.255: taken, not echoed to a broadcast",
           f.udp_frame(dst="198.51.100.255", dst_mac=BCAST_MAC), dict(eth_rx=1, ipv4_rx=1, udp_rx=1))
    for dst, dmac in (("255.255.255.255", BCAST_MAC), ("198.51.100.255", BCAST_MAC),
                      ("198.51.100.255", None), ("224.0.0.1", ALL_HOSTS_MAC)):
        c.step("UDP to a closed port via %s (MAC %s)" % (dst, "ours" if dmac is None else dmac.hex()),
               f.udp_frame(dport=CLOSED_PORT, dst=dst, dst_mac=dmac), dict(eth_rx=1, ipv4_rx=1, udp_no_port=1))
    c.raise_failures()


def test_icmp_error_rate_limit(checker):
    """A burst of 15 datagrams to a closed port: ICMP_ERR_BURST (10) port
    unreachables, the other 5 counted as rate limited; a second later the
    bucket has refilled."""
    c = checker
    f = c.f
    burst = [f.udp_frame(dport=CLOSED_PORT, ident=100 + i, data=b"burst %d" % i) for i in range(15)]
    c.step("15 datagrams to a closed port at once", burst,
           dict(eth_rx=15, ipv4_rx=15, udp_no_port=15, icmp_unreach_tx=10, ipv4_tx=10, icmp_rate_limited=5),
           replies=10)
    import time
    time.sleep(1.1)
    c.step("one more, 1.1 s later", f.udp_frame(dport=CLOSED_PORT, ident=200),
           dict(eth_rx=1, ipv4_rx=1, udp_no_port=1, icmp_unreach_tx=1, ipv4_tx=1), replies=1)
    c.raise_failures()
