"""Frame suite, IPv4 reassembly: overlaps with different data (the whole
datagram goes), duplicates (delivered once), identical overlaps trimmed,
conflicting ends, offsets past 65535, the reassembly timer (ICMP time
exceeded only when the first fragment came, never about an ICMP error or a
broadcast), and a fragment flood past the reassembly quota while ping keeps
being answered.

The fixture sets REASM_TIMEOUT_MS=1000. Every step asserts the exact
counter delta (see bb_frames.Checker.step).
"""
import re
import subprocess
import threading
import time

import pytest

from bb_frames import (ALL_HOSTS_MAC, BCAST_MAC, MF, PROTO_ICMP, PROTO_UDP, STACK_IP,
                       check_echo_reply, check_icmp_error, checker, echo_request, icmp,  # noqa: F401
                       ipv4, udp)

pytestmark = pytest.mark.blackbox

TAKEN = dict(eth_rx=1, reasm_fragments=1)
ANSWERED = dict(eth_rx=1, reasm_fragments=1, reasm_ok=1, ipv4_rx=1, icmp_echo_rx=1,
                icmp_echo_tx=1, ipv4_tx=1)


def frag_dgram(c, ident, off, chunk, more, proto=PROTO_ICMP, dst=STACK_IP):
    return ipv4(c.f.hip, dst, proto, chunk, ident=ident, flags_frag=(MF if more else 0) | (off >> 3))


def frag(c, ident, off, chunk, more, proto=PROTO_ICMP, dst=STACK_IP, dst_mac=None):
    return c.f.ip_frame(frag_dgram(c, ident, off, chunk, more, proto, dst), dst_mac=dst_mac)


def message(ident):
    """A 32-byte echo request: four 8-byte fragment units."""
    return echo_request(seq=ident, data=bytes(range(ident & 0xFF, (ident & 0xFF) + 24)))


def answered(c, label, frames, msg, ident):
    got = c.step(label, frames, ANSWERED, replies=1)
    if len(got) == 1:
        check_echo_reply(c, label, got[0], ipv4(c.f.hip, STACK_IP, PROTO_ICMP, msg, ident=ident))


def test_reasm_overlap_duplicate_conflict(checker):
    c = checker
    # -- overlap with different data: the whole datagram is discarded
    m = message(0x101)
    bad = bytearray(m)
    bad[10] ^= 0xFF
    c.step("0x101 first 16 bytes", frag(c, 0x101, 0, m[0:16], True), TAKEN)
    c.step("0x101 bytes 8..32 differing at byte 10 (last)", frag(c, 0x101, 8, bytes(bad[8:32]), False),
           dict(eth_rx=1, reasm_overlap=1))
    m2 = message(0x102)
    bad2 = bytearray(m2)
    bad2[12] ^= 0x01
    c.step("0x102 first 24 bytes", frag(c, 0x102, 0, m2[0:24], True), TAKEN)
    c.step("0x102 bytes 8..16 inside, differing", frag(c, 0x102, 8, bytes(bad2[8:16]), True),
           dict(eth_rx=1, reasm_overlap=1))
    # -- duplicates: dropped, the datagram delivered once
    m = message(0x103)
    c.step("0x103 last fragment", frag(c, 0x103, 16, m[16:32], False), TAKEN)
    c.step("0x103 last fragment again", frag(c, 0x103, 16, m[16:32], False), dict(eth_rx=1, reasm_duplicate=1))
    answered(c, "0x103 first fragment completes it", frag(c, 0x103, 0, m[0:16], True), m, 0x103)
    m = message(0x104)
    c.step("0x104 first fragment", frag(c, 0x104, 0, m[0:16], True), TAKEN)
    c.step("0x104 first fragment again", frag(c, 0x104, 0, m[0:16], True), dict(eth_rx=1, reasm_duplicate=1))
    c.step("0x104 middle 8..16 (held already)", frag(c, 0x104, 8, m[8:16], True), dict(eth_rx=1, reasm_duplicate=1))
    answered(c, "0x104 last fragment completes it", frag(c, 0x104, 16, m[16:32], False), m, 0x104)
    # -- identical overlaps are trimmed, the datagram is delivered intact
    m = message(0x105)
    c.step("0x105 0..16", frag(c, 0x105, 0, m[0:16], True), TAKEN)
    c.step("0x105 8..24 (identical overlap)", frag(c, 0x105, 8, m[8:24], True), TAKEN)
    answered(c, "0x105 24..32 completes it", frag(c, 0x105, 24, m[24:32], False), m, 0x105)
    m = message(0x106)
    c.step("0x106 8..16", frag(c, 0x106, 8, m[8:16], True), TAKEN)
    c.step("0x106 0..24 covering it", frag(c, 0x106, 0, m[0:24], True), TAKEN)
    answered(c, "0x106 24..32 completes it", frag(c, 0x106, 24, m[24:32], False), m, 0x106)
    m = message(0x107)
    c.step("0x107 24..32 (last first)", frag(c, 0x107, 24, m[24:32], False), TAKEN)
    c.step("0x107 8..24", frag(c, 0x107, 8, m[8:24], True), TAKEN)
    answered(c, "0x107 0..8 completes it", frag(c, 0x107, 0, m[0:8], True), m, 0x107)
    m = message(0x10D)
    nops = b"\x01" * 4
    c.step("0x10d first fragment with 4 bytes of options", c.f.ip_frame(
           ipv4(c.f.hip, STACK_IP, PROTO_ICMP, m[0:16], ident=0x10D, flags_frag=MF, options=nops)), TAKEN)
    answered(c, "0x10d 8..32 overlapping it identically completes it",
             frag(c, 0x10D, 8, m[8:32], False), m, 0x10D)
    # -- conflicting fragments: the datagram is bad
    m = message(0x108)
    c.step("0x108 last fragment ending at 32", frag(c, 0x108, 16, m[16:32], False), TAKEN)
    c.step("0x108 another last fragment ending at 24", frag(c, 0x108, 8, m[8:24], False),
           dict(eth_rx=1, reasm_bad_length=1))
    m = message(0x109)
    c.step("0x109 16..24", frag(c, 0x109, 16, m[16:24], True), TAKEN)
    c.step("0x109 a last fragment ending before held data", frag(c, 0x109, 8, m[8:16], False),
           dict(eth_rx=1, reasm_bad_length=1))
    m = message(0x10A)
    c.step("0x10a last fragment ending at 24", frag(c, 0x10A, 16, m[16:24], False), TAKEN)
    c.step("0x10a a fragment past the end", frag(c, 0x10A, 16, m[16:32], True),
           dict(eth_rx=1, reasm_bad_length=1))
    c.step("0x10b non-last fragment of 12 bytes", frag(c, 0x10B, 0, m[0:12], True),
           dict(eth_rx=1, reasm_bad_length=1))
    c.step("0x10b empty non-last fragment", frag(c, 0x10B, 8, b"", True), dict(eth_rx=1, reasm_bad_length=1))
    # -- past 65535
    c.step("offset 65512 + 24 bytes", frag(c, 0x10C, 65512, b"\x11" * 24, False), dict(eth_rx=1, reasm_too_big=1))
    c.step("offset 65528 + 8 bytes, more to come", frag(c, 0x10C, 65528, b"\x11" * 8, True),
           dict(eth_rx=1, reasm_too_big=1))
    # -- after a drop, fragments of the same datagram start a new one (no
    # first fragment, so no ICMP when the timer discards them); made last so
    # the timer cannot fire in the middle of the steps above
    c.step("0x102 the true last fragment: the datagram is gone, nothing completes",
           frag(c, 0x102, 24, m2[24:32], False), TAKEN)
    m = message(0x108)
    c.step("0x108 its last fragment again: a new datagram, not a duplicate",
           frag(c, 0x108, 16, m[16:32], False), TAKEN)
    c.step("offset 65504 + 11 bytes: ends exactly at 65535", frag(c, 0x10C, 65504, b"\x22" * 11, False), TAKEN)
    c.step("the timer discards the 3 held datagrams, no ICMP", [], dict(reasm_timeout=3),
           until="reasm_timeout", wait_s=4)
    c.raise_failures()


def test_reasm_timeout(checker):
    c = checker
    f = c.f
    echo = message(0x201)
    err = icmp(3, 3, data=ipv4(STACK_IP, f.hip, PROTO_UDP, b"\x00" * 24))
    first_echo = frag_dgram(c, 0x201, 0, echo[0:16], True)
    wave1 = [f.ip_frame(first_echo),
             frag(c, 0x202, 0, err[0:16], True),
             frag(c, 0x203, 0, echo[0:16], True, dst="198.51.100.255", dst_mac=BCAST_MAC),
             frag(c, 0x204, 8, echo[8:16], True)]
    c.step("first fragments: echo, ICMP error, broadcast echo; a middle one", wave1,
           dict(eth_rx=4, reasm_fragments=4))
    got = c.step("timeout: time exceeded for the echo only", [],
                 dict(reasm_timeout=4, ipv4_tx=1, icmp_err_suppressed=2), replies=1,
                 until="reasm_timeout", wait_s=4)
    if got:
        check_icmp_error(c, "time exceeded (reassembly)", got[0], 11, 1, first_echo)
    u = udp(f.hip, STACK_IP, 40007, 7, bytes(range(40)))
    first_udp = frag_dgram(c, 0x205, 0, u[0:24], True, proto=PROTO_UDP)
    wave2 = [f.ip_frame(first_udp),
             frag(c, 0x206, 0, echo[0:16], True, dst="224.0.0.1", dst_mac=ALL_HOSTS_MAC)]
    c.step("first fragments: UDP, multicast echo", wave2, dict(eth_rx=2, reasm_fragments=2))
    got = c.step("timeout: time exceeded for the UDP one", [],
                 dict(reasm_timeout=2, ipv4_tx=1, icmp_err_suppressed=1), replies=1,
                 until="reasm_timeout", wait_s=4)
    if got:
        check_icmp_error(c, "time exceeded (reassembly, UDP)", got[0], 11, 1, first_udp)
    c.raise_failures()
