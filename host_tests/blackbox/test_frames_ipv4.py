"""Frame suite, IPv4 header: malformed headers, options, martian and
foreign addresses, TTL, broadcast and multicast echo requests.

Every step asserts the exact counter delta (see bb_frames.Checker.step)
and how many frames came back; answers are checked field by field.
"""
import pytest

from bb_frames import (ALL_HOSTS_MAC, BCAST_MAC, ECHO_ANSWERED, HOST_UDP_PORT, PROTO_ICMP,
                       STACK_IP, UDP_ECHOED, check_echo_reply, checker, echo_request,  # noqa: F401
                       ipv4, parse)

pytestmark = pytest.mark.blackbox

DATA = b"zcstack ipv4 frame suite 0123456789"


def step_ping(c, label, dgram, trailer=b"", dst_mac=None):
    got = c.step(label, c.f.ip_frame(dgram, dst_mac=dst_mac, trailer=trailer), ECHO_ANSWERED(), replies=1)
    if len(got) == 1:
        check_echo_reply(c, label, got[0], dgram)


def ping_dgram(c, src=None, dst=None, **kw):
    return ipv4(src or c.f.hip, dst or STACK_IP, PROTO_ICMP, echo_request(data=DATA), **kw)


def test_ipv4_header_drops(checker):
    c = checker
    f = c.f
    good = ping_dgram(c)
    c.step("no IP header at all", f.ip_frame(b""), dict(eth_rx=1, ipv4_truncated=1))
    c.step("19-byte IP header", f.ip_frame(good[:19]), dict(eth_rx=1, ipv4_truncated=1))
    for v in (6, 0, 5, 15):
        c.step("version %d" % v, f.ip_frame(ping_dgram(c, version=v)), dict(eth_rx=1, ipv4_bad_version=1))
    for ihl in (0, 4):
        c.step("IHL %d" % ihl, f.ip_frame(ping_dgram(c, ihl=ihl)), dict(eth_rx=1, ipv4_bad_ihl=1))
    c.step("IHL 15 (60 bytes) beyond a 48-byte packet",
           f.ip_frame(ipv4(f.hip, STACK_IP, PROTO_ICMP, echo_request(data=b"x" * 20), ihl=15)),
           dict(eth_rx=1, ipv4_bad_ihl=1))
    c.step("total length 1 past the frame", f.ip_frame(ping_dgram(c, tl=len(good) + 1)),
           dict(eth_rx=1, ipv4_bad_length=1))
    c.step("total length 1500 in a short frame", f.ip_frame(ping_dgram(c, tl=1500)),
           dict(eth_rx=1, ipv4_bad_length=1))
    for tl in (19, 0):
        c.step("total length %d (below the header)" % tl, f.ip_frame(ping_dgram(c, tl=tl)),
               dict(eth_rx=1, ipv4_bad_length=1))
    bad = bytearray(good)
    bad[10] ^= 0x01
    c.step("header checksum off by one bit", f.ip_frame(bytes(bad)), dict(eth_rx=1, ipv4_bad_checksum=1))
    c.step("header checksum zero", f.ip_frame(ping_dgram(c, cksum=0)), dict(eth_rx=1, ipv4_bad_checksum=1))
    c.raise_failures()


def test_ipv4_trailing_bytes_trimmed(checker):
    """Total length below the frame: the bytes after it (Ethernet padding or
    junk) are not part of the datagram; the answer has the right length."""
    c = checker
    f = c.f
    step_ping(c, "ping with 30 junk bytes after the datagram", ping_dgram(c), trailer=b"\xa5" * 30)
    bare = ipv4(f.hip, STACK_IP, PROTO_ICMP, echo_request(data=b""))      # 28 bytes
    step_ping(c, "minimal ping padded to 60 bytes", bare, trailer=b"\x00" * (60 - 14 - len(bare)))
    data = b"udp with trailer"
    got = c.step("UDP echo with 20 trailing bytes", f.udp_frame(data=data, trailer=b"\xee" * 20),
                 UDP_ECHOED(), replies=1)
    if got:
        p = parse(got[0])
        ok = ("UDP" in p and p["IP"].len == 28 + len(data) and p["UDP"].len == 8 + len(data)
              and bytes(p["UDP"].payload) == data and p["UDP"].dport == HOST_UDP_PORT
              and len(got[0]) == 14 + 28 + len(data))
        c.expect_true("UDP echo with trailer", ok, "bad echo %r" % got[0][14:].hex())
    c.raise_failures()


NOP = b"\x01"
EOL = b"\x00"


def test_ipv4_options(checker):
    c = checker
    f = c.f
    rr = bytes([7, 11, 4]) + b"\x00" * 8 + EOL          # record route, room for 2
    bad = {
        "zero option length": bytes([0x44, 0, 0, 0]),
        "one-byte option length": bytes([7, 1, 0, 0]),
        "option length past the header": bytes([7, 40, 4, 0]),
        "option length past the header after NOPs": NOP * 2 + bytes([0x83, 7, 4, 0, 0, 0]),
        "type byte with no room for a length": NOP * 3 + bytes([7]),
        "record route length one past the header": bytes([7, 13, 4]) + b"\x00" * 9,
    }
    for label, opts in bad.items():
        assert len(opts) % 4 == 0
        c.step(label, f.ip_frame(ping_dgram(c, options=opts)), dict(eth_rx=1, ipv4_bad_options=1))
    step_ping(c, "four NOPs", ping_dgram(c, options=NOP * 4))
    step_ping(c, "record route", ping_dgram(c, options=rr))
    step_ping(c, "EOL then junk (ignored after EOL)", ping_dgram(c, options=EOL + b"\x07\x00\x99"))
    step_ping(c, "40 bytes of options (IHL 15)", ping_dgram(c, options=NOP * 36 + bytes([7, 3, 4]) + EOL))
    data = b"udp with record route"
    got = c.step("UDP echo with record route", f.udp_frame(data=data, options=rr), UDP_ECHOED(), replies=1)
    if got:
        p = parse(got[0])
        c.expect_true("UDP echo with record route", "UDP" in p and bytes(p["UDP"].payload) == data,
                      "bad echo %s" % p.summary())
    c.raise_failures()


def test_ipv4_addresses(checker):
    c = checker
    f = c.f
    for src in ("0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.5", "240.0.0.1", "255.255.255.255",
                "198.51.100.255", STACK_IP):
        c.step("ping from martian source %s" % src, f.ip_frame(ping_dgram(c, src=src)),
               dict(eth_rx=1, ipv4_martian_src=1))
    c.step("UDP echo from martian source 127.0.0.1",
           f.udp_frame(src="127.0.0.1"), dict(eth_rx=1, ipv4_martian_src=1))
    for dst in ("127.0.0.1", "0.0.0.7", "240.0.0.1"):
        c.step("ping to martian destination %s with our MAC" % dst,
               f.ip_frame(ping_dgram(c, dst=dst)), dict(eth_rx=1, ipv4_martian_dst=1))
    for dst in ("198.51.100.3", "203.0.113.9", "224.0.0.5"):
        c.step("ping to %s with our MAC" % dst, f.ip_frame(ping_dgram(c, dst=dst)),
               dict(eth_rx=1, ipv4_not_for_us=1))
    c.step("ping to our address inside an Ethernet broadcast",
           f.ip_frame(ping_dgram(c), dst_mac=BCAST_MAC), dict(eth_rx=1, ipv4_not_for_us=1))
    c.step("ping from off-link 203.0.113.5 (no gateway): no route back",
           f.ip_frame(ping_dgram(c, src="203.0.113.5")),
           dict(eth_rx=1, ipv4_rx=1, icmp_echo_rx=1, ipv4_no_route=1))
    # RFC 1122 3.2.1.7: a host must not discard a datagram it receives with TTL < 2
    for ttl in (0, 1):
        step_ping(c, "ping with TTL %d" % ttl, ping_dgram(c, ttl=ttl))
    # echo requests to broadcast or multicast: counted, never answered
    bcast = dict(eth_rx=1, ipv4_rx=1, icmp_echo_rx=1, icmp_echo_bcast=1)
    for dst, dmac in (("255.255.255.255", BCAST_MAC), ("198.51.100.255", BCAST_MAC),
                      ("224.0.0.1", ALL_HOSTS_MAC), ("198.51.100.255", None),
                      ("255.255.255.255", None)):
        c.step("ping to %s (MAC %s)" % (dst, "ours" if dmac is None else dmac.hex()),
               f.ip_frame(ping_dgram(c, dst=dst), dst_mac=dmac), bcast)
    c.raise_failures()
