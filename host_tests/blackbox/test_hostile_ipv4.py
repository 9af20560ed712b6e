"""Hostile traffic, IPv4 (docs/fuzz.md maps each vulnerability class to its
test): the classes of URGENT/11, Ripple20 and INFRA:HALT that the existing
frame suite (test_frames_*.py) does not already cover.

- IP options on the ICMP error path (URGENT/11 CVE-2019-12256: a stack
  overflow while building an ICMP error for a datagram with malformed
  source-route options): errors are built for datagrams whose options are
  well-formed type-length-value lists and quote exactly the bytes that
  arrived (options included); malformed lists are counted drops with no
  error at all.
- IP-in-IP in fragments whose inner header lies about its length (Ripple20
  CVE-2020-11896/11898): a host that does not decapsulate reassembles,
  answers protocol unreachable quoting only what arrived, and holds nothing.
- Length fields that disagree with each other after reassembly (INFRA:HALT
  CVE-2020-35683/35684, AMNESIA:33 CVE-2020-13987): ICMP and UDP length
  fields past what reassembly produced are counted drops.
"""
import pytest

from bb_frames import (PROTO_ICMP, PROTO_UDP, STACK_IP, check_echo_reply, check_icmp_error,  # noqa: F401
                       checker, echo_request, eth, icmp, ipv4, udp, ETH_IP, MF)

pytestmark = pytest.mark.blackbox

CLOSED_PORT = 33434
NOP = b"\x01"
EOL = b"\x00"
UNREACH = dict(eth_rx=1, ipv4_rx=1, udp_no_port=1, icmp_unreach_tx=1, ipv4_tx=1)


def closed_dgram(c, options, ident, data=b"options on the error path"):
    return ipv4(c.f.hip, STACK_IP, PROTO_UDP, udp(c.f.hip, STACK_IP, 40000, CLOSED_PORT, data),
                ident=ident, options=options)


def test_options_on_the_icmp_error_path(checker):
    c = checker
    good = {
        "loose source route, one hop left": bytes([131, 7, 4]) + bytes([198, 51, 100, 9]) + EOL,
        "strict source route, used up": bytes([137, 7, 8]) + bytes([198, 51, 100, 9]) + EOL,
        "record route, full": bytes([7, 7, 8]) + bytes([198, 51, 100, 9]) + EOL,
        "timestamp, overflow count 15": bytes([68, 12, 13, 0xF0]) + bytes(8),
        "router alert": bytes([148, 4, 0, 0]),
        "40 bytes of NOPs": NOP * 40,
        # options are walked as type-length-value (stack/ipv4.py _options_ok);
        # a host never reads a source route's contents (it neither forwards
        # nor reverses routes), so a source route holding no pointer is
        # nothing to trip over: a well-formed TLV, the error quotes it
        "strict source route of length 2 (no pointer)": bytes([137, 2]) + NOP * 2,
    }
    bad = {
        "source route of length 0": bytes([131, 0, 4, 0]),
        "source route past the header": bytes([131, 39, 4]) + bytes(5),
        "timestamp of length 1": NOP * 3 + bytes([68, 1]) + EOL * 3,
        "option type in the last byte": NOP * 7 + bytes([131]),
    }
    for i, (label, opts) in enumerate(good.items()):
        assert len(opts) % 4 == 0, label
        d = closed_dgram(c, opts, 0x500 + i)
        got = c.step("UDP to a closed port with " + label, c.f.ip_frame(d), UNREACH, replies=1)
        if got:
            # the quote is the datagram as it came: its header with the options, then the UDP bytes
            check_icmp_error(c, label, got[0], 3, 3, d)
    for i, (label, opts) in enumerate(bad.items()):
        assert len(opts) % 4 == 0, label
        c.step("UDP to a closed port with " + label, c.f.ip_frame(closed_dgram(c, opts, 0x600 + i)),
               dict(eth_rx=1, ipv4_bad_options=1))
    c.raise_failures()


def frag_frames(c, dgram_body, proto, ident, size, src=None):
    """The fragments (frames) of a datagram carrying dgram_body."""
    src = src or c.f.hip
    out = []
    off = 0
    while off < len(dgram_body):
        chunk = dgram_body[off:off + size]
        more = off + size < len(dgram_body)
        out.append(c.f.ip_frame(ipv4(src, STACK_IP, proto, chunk, ident=ident,
                                     flags_frag=(off // 8) | (MF if more else 0))))
        off += size
    return out


def test_ip_in_ip_fragments_with_a_lying_inner_header(checker):
    c = checker
    # the inner header claims 4000 bytes, 600 follow; the outer datagram is whole
    inner = ipv4("198.51.100.66", STACK_IP, PROTO_UDP, udp("198.51.100.66", STACK_IP, 1, 7, b"\xee" * 592),
                 tl=4000)
    whole = ipv4(c.f.hip, STACK_IP, 4, inner, ident=0x4411)
    frames = frag_frames(c, inner, 4, 0x4411, 256)
    got = c.step("IP-in-IP in 3 fragments, inner length 4000 over 620 bytes", frames,
                 dict(eth_rx=3, reasm_fragments=3, reasm_ok=1, ipv4_rx=1, ipv4_unknown_proto=1,
                      icmp_unreach_tx=1, ipv4_tx=1), replies=1)
    if got:
        # the quote is the reassembled header and the bytes of the first
        # fragment's block (zero copy: an error quotes one block, never
        # gathers a chain), well under the 548 allowed
        check_icmp_error(c, "protocol unreachable", got[0], 3, 2, whole[:20 + 256])
    # inner header shorter than its IHL, in two fragments
    inner = bytes([0x4F]) + b"\x00" * 15
    frames = frag_frames(c, inner + b"\x00" * 8, 4, 0x4412, 16)
    got = c.step("IP-in-IP, 24 bytes, inner IHL 60", frames,
                 dict(eth_rx=2, reasm_fragments=2, reasm_ok=1, ipv4_rx=1, ipv4_unknown_proto=1,
                      icmp_unreach_tx=1, ipv4_tx=1), replies=1)
    if got:
        check_icmp_error(c, "protocol unreachable (short inner)", got[0], 3, 2,
                         ipv4(c.f.hip, STACK_IP, 4, inner + b"\x00" * 8, ident=0x4412)[:20 + 16])
    c.raise_failures()


def test_transport_lengths_after_reassembly(checker):
    c = checker
    hip = c.f.hip
    # a UDP length that claims more than reassembly produced
    u = udp(hip, STACK_IP, 40000, 7, b"\x5a" * 300, ulen=2000)
    c.step("UDP length 2000 in a 308-byte reassembled datagram", frag_frames(c, u, PROTO_UDP, 0x4420, 104),
           dict(eth_rx=3, reasm_fragments=3, reasm_ok=1, ipv4_rx=1, udp_bad_length=1))
    # UDP length below its header
    u = udp(hip, STACK_IP, 40000, 7, b"\x5a" * 100, ulen=4)
    c.step("UDP length 4", frag_frames(c, u, PROTO_UDP, 0x4421, 56),
           dict(eth_rx=2, reasm_fragments=2, reasm_ok=1, ipv4_rx=1, udp_bad_length=1))
    # an ICMP echo whose checksum covers more than arrived: the checksum
    # is over what reassembly produced (it does not match), nothing is read past it
    m = bytearray(echo_request(data=b"\x11" * 200))
    c.step("ICMP echo in 2 fragments, checksum of a longer message",
           frag_frames(c, bytes(m[:-8]), PROTO_ICMP, 0x4422, 104),
           dict(eth_rx=2, reasm_fragments=2, reasm_ok=1, ipv4_rx=1, icmp_bad_checksum=1))
    # control: the same echo whole, in 2 fragments, answered
    got = c.step("ICMP echo in 2 fragments (control)", frag_frames(c, bytes(m), PROTO_ICMP, 0x4423, 104),
                 dict(eth_rx=2, reasm_fragments=2, reasm_ok=1, ipv4_rx=1, icmp_echo_rx=1, icmp_echo_tx=1,
                      ipv4_tx=1), replies=1)
    if got:
        check_echo_reply(c, "reassembled echo", got[0], ipv4(hip, STACK_IP, PROTO_ICMP, bytes(m), ident=0x4423))
    c.raise_failures()
