# The fuzz lane's engine, for both interpreters (CPython and MicroPython):
#   - Rng: xorshift32, so a seed gives the same frames on both lanes;
#   - corpus(): valid frames (and fragment sets) built with frames.py;
#   - Fuzzer(seed).case(): a corpus entry mutated (bit flips, interesting
#     bytes, truncation at header boundaries, junk, field edits with checksums
#     recomputed or not) or a fragment sequence reordered, duplicated, mixed;
#   - Harness: a Rig driven through injected frames and an advancing clock,
#     checking every frame the stack sends and, at the end, the counters and
#     the pool.
# A failing check raises AssertionError with the seed/step that found it.
import frames
from frames import ETH_ARP, ETH_IP, MF, PROTO_ICMP, PROTO_UDP
from support import (BCAST, OTHER_IP, OTHER_MAC, PEER_IP, PEER_MAC, SUBNET_BCAST, US_IP, US_MAC,
                     Rig, ip_int)

ECHO_PORT = 7
QUEUE_PORT = 5001
CLOSED_PORT = 33434
MCAST_IP = "224.0.0.1"
MCAST_MAC = b"\x01\x00\x5e\x00\x00\x01"
MAX_FRAME = 1514            # Ethernet II without FCS
RX_MAX = 1598               # what a pool block takes (memif drops longer frames)
ICMP_ERRORS = (3, 4, 5, 11, 12)

INTERESTING8 = (0, 1, 0x7F, 0x80, 0xFF)
INTERESTING16 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE)


# ---- PRNG -------------------------------------------------------------------------

class Rng:
    """xorshift32: small, and identical on both interpreters."""

    def __init__(self, seed):
        self.s = (seed & 0xFFFFFFFF) or 0x9E3779B9

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n if n > 0 else 0

    def chance(self, k):
        """True one time in k."""
        return self.next() % k == 0

    def pick(self, seq):
        return seq[self.next() % len(seq)]

    def junk(self, n):
        b = bytearray(n)
        for i in range(n):
            b[i] = self.next() & 0xFF
        return bytes(b)


# ---- corpus -----------------------------------------------------------------------

def _e(payload, dst_mac=US_MAC, src_mac=PEER_MAC, etype=ETH_IP, pad_to=0):
    return frames.eth(dst_mac, src_mac, etype, payload, pad_to)


def _ip(proto, payload, src=PEER_IP, dst=US_IP, **kw):
    return frames.ipv4(src, dst, proto, payload, **kw)


def _udp(dport, data, src=PEER_IP, dst=US_IP, sport=40000, checksum=True):
    return frames.udp(sport, dport, data, src, dst, checksum)


def _frag_set(datagram, sizes, dst_mac=US_MAC):
    return [_e(d, dst_mac) for d in frames.fragment(datagram, *sizes)]


def corpus():
    """[(name, [frame, ...])]: single frames and fragment sets, all valid."""
    c = []
    arp = frames.arp
    z = frames.ZERO_MAC
    c.append(("arp_request", [_e(arp(1, PEER_MAC, PEER_IP, z, US_IP), BCAST, PEER_MAC, ETH_ARP)]))
    c.append(("arp_request_other_sender", [_e(arp(1, OTHER_MAC, OTHER_IP, z, US_IP), BCAST, OTHER_MAC,
                                               ETH_ARP, 60)]))
    c.append(("arp_reply", [_e(arp(2, PEER_MAC, PEER_IP, US_MAC, US_IP), US_MAC, PEER_MAC, ETH_ARP)]))
    c.append(("arp_request_not_us", [_e(arp(1, PEER_MAC, PEER_IP, z, OTHER_IP), BCAST, PEER_MAC,
                                         ETH_ARP)]))
    c.append(("arp_gratuitous", [_e(arp(1, OTHER_MAC, OTHER_IP, z, OTHER_IP), BCAST, OTHER_MAC, ETH_ARP)]))
    echo = frames.icmp_echo
    c.append(("echo", [_e(_ip(PROTO_ICMP, echo(1, 1, b"ping")), pad_to=60)]))
    c.append(("echo_56", [_e(_ip(PROTO_ICMP, echo(0x1234, 7, frames.pattern(56))))]))
    c.append(("echo_mtu", [_e(_ip(PROTO_ICMP, echo(2, 2, frames.pattern(1472, 3))))]))
    c.append(("echo_other_src", [_e(_ip(PROTO_ICMP, echo(3, 3, b"who"), src=OTHER_IP), src_mac=OTHER_MAC)]))
    c.append(("echo_bcast", [_e(_ip(PROTO_ICMP, echo(4, 4, b"b"), dst=SUBNET_BCAST), BCAST)]))
    c.append(("echo_limited_bcast", [_e(_ip(PROTO_ICMP, echo(5, 5, b"b"), dst="255.255.255.255"), BCAST)]))
    c.append(("echo_mcast", [_e(_ip(PROTO_ICMP, echo(6, 6, b"m"), dst=MCAST_IP), MCAST_MAC)]))
    c.append(("echo_options", [_e(_ip(PROTO_ICMP, echo(7, 7, b"opt"), options=b"\x01\x01\x01\x00"))]))
    c.append(("echo_rr_option", [_e(_ip(PROTO_ICMP, echo(8, 8, b"rr"),
                                        options=b"\x07\x07\x04\x00\x00\x00\x00\x00"))]))
    c.append(("udp_echo", [_e(_ip(PROTO_UDP, _udp(ECHO_PORT, b"hello")))]))
    c.append(("udp_echo_1000", [_e(_ip(PROTO_UDP, _udp(ECHO_PORT, frames.pattern(1000, 5))))]))
    c.append(("udp_echo_nocsum", [_e(_ip(PROTO_UDP, _udp(ECHO_PORT, b"zero", checksum=False)), pad_to=60)]))
    c.append(("udp_queue", [_e(_ip(PROTO_UDP, _udp(QUEUE_PORT, b"queued")))]))
    c.append(("udp_closed", [_e(_ip(PROTO_UDP, _udp(CLOSED_PORT, frames.pattern(30))))]))
    c.append(("udp_closed_options", [_e(_ip(PROTO_UDP, _udp(CLOSED_PORT, b"o"),
                                            options=b"\x44\x08\x05\x00\x00\x00\x00\x00"))]))
    c.append(("udp_closed_bcast", [_e(_ip(PROTO_UDP, _udp(CLOSED_PORT, b"x", dst=SUBNET_BCAST),
                                          dst=SUBNET_BCAST), BCAST)]))
    c.append(("udp_queue_mcast", [_e(_ip(PROTO_UDP, _udp(QUEUE_PORT, b"m", dst=MCAST_IP), dst=MCAST_IP),
                                     MCAST_MAC)]))
    quoted = _ip(PROTO_UDP, _udp(9, b"q", src=US_IP, dst=PEER_IP), src=US_IP, dst=PEER_IP)
    c.append(("icmp_unreach_in", [_e(_ip(PROTO_ICMP, frames.icmp(3, 3, b"\x00" * 4, quoted)))]))
    c.append(("icmp_timestamp", [_e(_ip(PROTO_ICMP, frames.icmp(13, 0, b"\x00\x01\x00\x01", bytes(12))))]))
    c.append(("unknown_proto", [_e(_ip(99, frames.pattern(40)))]))
    c.append(("other_dst_mac", [_e(_ip(PROTO_ICMP, echo(9, 9)), OTHER_MAC)]))
    c.append(("ipv6_type", [_e(frames.pattern(40), etype=0x86DD)]))
    c.append(("echo_zero", [_e(_ip(PROTO_ICMP, echo(0, 0, b"")))]))   # reply checksum 0xFFFF edge
    # fragment sets: (name, fragments, the datagram they came from)
    def fs(name, d, sizes, dst_mac=US_MAC):
        c.append((name, _frag_set(d, sizes, dst_mac), d))

    fs("frag_udp_queue", _ip(PROTO_UDP, _udp(QUEUE_PORT, frames.pattern(1000, 1)), ident=0x101), (400, 400))
    fs("frag_udp_echo", _ip(PROTO_UDP, _udp(ECHO_PORT, frames.pattern(2900, 2)), ident=0x102), (1480, 1480))
    fs("frag_udp_closed", _ip(PROTO_UDP, _udp(CLOSED_PORT, frames.pattern(200, 3)), ident=0x103), (104, 64))
    fs("frag_echo", _ip(PROTO_ICMP, echo(0x55, 1, frames.pattern(2000, 4)), ident=0x104), (1480,))
    fs("frag_echo_small", _ip(PROTO_ICMP, echo(0x56, 2, frames.pattern(64, 5)), ident=0x105), (8, 16, 24))
    fs("frag_echo_options", _ip(PROTO_ICMP, echo(0x57, 3, frames.pattern(300, 6)), ident=0x106,
                                options=b"\x01\x01\x01\x00"), (152,))
    d = _ip(PROTO_UDP, _udp(QUEUE_PORT, frames.pattern(100, 7), dst=SUBNET_BCAST), dst=SUBNET_BCAST,
            ident=0x107)
    fs("frag_udp_bcast", d, (48,), BCAST)
    fs("frag_icmp_error", _ip(PROTO_ICMP, frames.icmp(3, 1, bytes(4), quoted + frames.pattern(120, 8)),
                              ident=0x108), (64,))
    fs("frag_unknown_proto", _ip(99, frames.pattern(160, 9), ident=0x109), (80,))
    fs("frag_many", _ip(PROTO_UDP, _udp(QUEUE_PORT, frames.pattern(232, 10)), ident=0x10A), (8,) * 29)
    fs("frag_echo_big", _ip(PROTO_ICMP, echo(0x58, 4, frames.pattern(4000, 11)), ident=0x10B), (1480, 1480))
    # replies whose fragments each span several of the request's fragments
    fs("frag_echo_pieces", _ip(PROTO_ICMP, echo(0x59, 5, frames.pattern(3000, 12)), ident=0x10C), (400,) * 7)
    fs("frag_udp_echo_pieces", _ip(PROTO_UDP, _udp(ECHO_PORT, frames.pattern(2000, 13)), ident=0x10D),
       (504, 504, 504))
    return c


# ---- frame surgery ----------------------------------------------------------------

def _be16(b, o):
    return (b[o] << 8) | b[o + 1]


def _put16(b, o, v):
    b[o] = (v >> 8) & 0xFF
    b[o + 1] = v & 0xFF


def fix_checksums(f, transport=True):
    """Recompute the IPv4 header checksum (and, for an unfragmented datagram,
    the ICMP/UDP one) of whatever the frame now says, where it can."""
    b = bytearray(f)
    if len(b) < 34 or _be16(b, 12) != ETH_IP:
        return bytes(b)
    hl = (b[14] & 15) * 4
    if hl < 20 or 14 + hl > len(b):
        return bytes(b)
    tl = _be16(b, 16)
    end = 14 + tl if 14 + tl <= len(b) else len(b)
    if transport and not (_be16(b, 20) & 0x3FFF) and end > 14 + hl:
        s = 14 + hl
        proto = b[23]
        if proto == PROTO_ICMP and end - s >= 4:
            _put16(b, s + 2, 0)
            _put16(b, s + 2, frames.csum(b[s:end]))
        elif proto == PROTO_UDP and end - s >= 8:
            _put16(b, s + 6, 0)
            c = frames.csum(b[s:end], frames.pseudo(bytes(b[26:30]), bytes(b[30:34]), PROTO_UDP, end - s))
            _put16(b, s + 6, c or 0xFFFF)
    _put16(b, 24, 0)
    _put16(b, 24, frames.csum(b[14:14 + hl]))
    return bytes(b)


def boundaries(f):
    """Header boundaries of a frame (offsets into it)."""
    out = [14]
    if len(f) >= 16 and _be16(f, 12) == ETH_ARP:
        out.append(14 + 8)
        out.append(14 + 28)
    elif len(f) >= 15 and _be16(f, 12) == ETH_IP:
        hl = (f[14] & 15) * 4
        out.append(34)
        out.append(14 + hl)
        out.append(14 + hl + 8)
        if len(f) >= 18:
            out.append(14 + _be16(f, 16))
    return out


class Fuzzer:
    """Mutated cases from the corpus, deterministic for a seed."""

    def __init__(self, seed, corp=None):
        self.rng = Rng(seed)
        self.corpus = corp if corp is not None else corpus()
        self.singles = [e for e in self.corpus if len(e[1]) == 1]
        self.sets = [e for e in self.corpus if len(e[1]) > 1]
        self.ident = 0x2000

    # -- one frame --
    def mutate(self, f):
        """One frame, mutated once (a field edit may or may not recompute checksums)."""
        rng = self.rng
        b = bytearray(f)
        n = len(b)
        op = rng.below(12)
        if op == 0:                                   # bit flips
            for _ in range(1 + rng.below(4)):
                if n:
                    i = rng.below(n)
                    b[i] ^= 1 << rng.below(8)
            return bytes(b)
        if op == 1:                                   # a byte to an interesting value
            if n:
                i = rng.below(n if rng.chance(3) else (n if n < 64 else 64))
                b[i] = rng.pick(INTERESTING8) if rng.below(4) else (b[i] + rng.pick((1, -1))) & 0xFF
            return bytes(b) if not rng.chance(3) else fix_checksums(b)
        if op == 2:                                   # a 16-bit word to an interesting value
            if n >= 2:
                i = rng.below(n - 1 if n < 64 else 63)
                v = rng.pick(INTERESTING16) if rng.below(3) else (_be16(b, i) + rng.pick((1, -1))) & 0xFFFF
                _put16(b, i, v)
            return bytes(b) if rng.chance(2) else fix_checksums(b)
        if op == 3:                                   # truncate at a header boundary +-1
            cut = rng.pick(boundaries(b)) + rng.below(3) - 1
            if cut < 0:
                cut = 0
            return bytes(b[:cut])
        if op == 4:                                   # extend with junk
            k = 1 + rng.below(64) if rng.below(8) else rng.below(RX_MAX)
            b = b + rng.junk(k)
            if len(b) > RX_MAX:
                b = b[:RX_MAX]
            return bytes(b) if rng.chance(2) else fix_checksums(b)
        if op == 5:                                   # truncate anywhere
            return bytes(b[:rng.below(n + 1)])
        if n < 14:
            return bytes(b)
        etype = _be16(b, 12)
        if etype == ETH_ARP:
            return self._arp_edit(b)
        if etype != ETH_IP or n < 34:
            return bytes(b)
        if op <= 8:
            b = self._ip_edit(b)
        else:
            b = self._l4_edit(b)
        if rng.chance(4):
            return bytes(b)                           # checksums left as they fall
        return fix_checksums(b)

    def _arp_edit(self, b):
        rng = self.rng
        if len(b) < 14 + 28:
            return bytes(b)
        k = rng.below(8)
        if k == 0:
            _put16(b, 14, rng.pick((0, 1, 6, 0xFFFF)))            # htype
        elif k == 1:
            _put16(b, 16, rng.pick((0x0800, 0x86DD, 0, 0x0806)))  # ptype
        elif k == 2:
            b[18] = rng.pick((0, 5, 6, 7, 16, 255))                # hlen
        elif k == 3:
            b[19] = rng.pick((0, 3, 4, 5, 16, 255))                # plen
        elif k == 4:
            _put16(b, 20, rng.pick((0, 1, 2, 3, 4, 0xFFFF)))       # op
        elif k == 5:                                               # sender IP
            b[28:32] = frames.ip4(rng.pick((US_IP, "0.0.0.0", "255.255.255.255", SUBNET_BCAST, MCAST_IP,
                                            "127.0.0.1", OTHER_IP, "198.51.100.%d" % rng.below(256),
                                            "10.1.2.3")))
        elif k == 6:                                               # sender MAC
            b[22:28] = rng.pick((BCAST, MCAST_MAC, US_MAC, frames.ZERO_MAC, OTHER_MAC))
        else:                                                      # target IP
            b[38:42] = frames.ip4(rng.pick((US_IP, "0.0.0.0", OTHER_IP, PEER_IP)))
        return bytes(b)

    def _ip_edit(self, b):
        rng = self.rng
        n = len(b)
        k = rng.below(9)
        if k == 0:                                                  # version / IHL
            v = rng.below(16)
            b[14] = (rng.pick((4, 4, 4, 5, 6, 0, 15)) << 4) | v
        elif k == 1:                                                # total length
            tl = _be16(b, 16)
            _put16(b, 16, rng.pick((tl + 1, tl - 1, n - 14, n - 13, n - 15, 0, 19, 20, 21, 0xFFFF,
                                    (b[14] & 15) * 4, (b[14] & 15) * 4 + 7, (b[14] & 15) * 4 + 8)) & 0xFFFF)
        elif k == 2:                                                # fragment offset / MF / DF
            fl = _be16(b, 20)
            fl = rng.pick((fl ^ MF, fl | MF, fl & ~MF, fl ^ 0x4000, fl ^ 0x8000, fl + 1, fl - 1,
                           (fl & 0xE000) | rng.below(0x2000), MF | 0x1FFF, 0x1FFF, MF | 185, 185))
            _put16(b, 20, fl & 0xFFFF)
        elif k == 3:                                                # TTL, TOS
            if rng.chance(2):
                b[22] = rng.pick((0, 1, 255))
            else:
                b[15] = rng.pick(INTERESTING8)
        elif k == 4:                                                # protocol
            b[23] = rng.pick((0, 1, 2, 6, 17, 99, 255))
        elif k == 5:                                                # source
            b[26:30] = frames.ip4(rng.pick((US_IP, "0.0.0.0", "255.255.255.255", SUBNET_BCAST, MCAST_IP,
                                            "127.0.0.1", "240.0.0.1", OTHER_IP, "10.1.2.3",
                                            "198.51.100.%d" % rng.below(256), "198.51.100.0")))
        elif k == 6:                                                # destination
            b[30:34] = frames.ip4(rng.pick((US_IP, OTHER_IP, SUBNET_BCAST, "255.255.255.255", MCAST_IP,
                                            "224.0.0.2", "0.0.0.0", "127.0.0.1", "240.0.0.1",
                                            "198.51.100.0")))
        elif k == 7:                                                # ident
            _put16(b, 18, rng.pick((0, 1, 0x101, 0x102, 0x104, 0xFFFF)))
        else:                                                       # options: grow the header
            opts = rng.pick((b"\x01\x01\x01\x00", b"\x00\x00\x00\x00", b"\x07\x00\x00\x00", b"\x07\x01\x00\x00",
                             b"\x07\x05\x04\x00", b"\x07\x08\x04\x00", b"\x44\x04\x05\x00",
                             b"\x01\x01\x01\x01", b"\x83\x03\x00\x00", b"\x07\xff\x04\x00",
                             b"\x07\x27" + bytes(38)))
            hl = (b[14] & 15) * 4
            if hl < 20 or hl + len(opts) > 60 or 14 + hl > n:
                return b
            b = b[:14 + hl] + opts + b[14 + hl:]
            b[14] = (b[14] & 0xF0) | ((hl + len(opts)) // 4)
            _put16(b, 16, (_be16(b, 16) + len(opts)) & 0xFFFF)
        return b

    def _l4_edit(self, b):
        rng = self.rng
        hl = (b[14] & 15) * 4
        s = 14 + hl
        n = len(b)
        if hl < 20 or s + 8 > n:
            return b
        if b[23] == PROTO_UDP:
            k = rng.below(4)
            if k == 0:                                              # UDP length
                ul = _be16(b, s + 4)
                _put16(b, s + 4, rng.pick((ul + 1, ul - 1, 0, 7, 8, 9, 0xFFFF, n - s, n - s + 1)) & 0xFFFF)
            elif k == 1:                                            # destination port
                _put16(b, s + 2, rng.pick((0, ECHO_PORT, QUEUE_PORT, CLOSED_PORT, 0xFFFF)))
            elif k == 2:                                            # source port
                _put16(b, s, rng.pick((0, 7, 0xFFFF)))
            else:                                                   # checksum field
                _put16(b, s + 6, rng.pick((0, 0xFFFF, _be16(b, s + 6) ^ 1)))
        elif b[23] == PROTO_ICMP:
            k = rng.below(3)
            if k == 0:                                              # type
                b[s] = rng.pick((0, 3, 4, 5, 8, 11, 12, 13, 17, 255))
            elif k == 1:                                            # code
                b[s + 1] = rng.pick(INTERESTING8)
            else:                                                   # id/seq zeroed (the 0xFFFF edge)
                for i in range(4, 8):
                    b[s + i] = 0
        return b

    # -- sequences --
    def _fresh_ident(self, fs):
        """The same fragment set under a new IP ident (so sets do not collide by chance)."""
        self.ident = (self.ident + 1) & 0xFFFF
        out = []
        for f in fs:
            b = bytearray(f)
            _put16(b, 18, self.ident)
            out.append(fix_checksums(b, False))
        return out

    def sequence(self):
        rng = self.rng
        k = rng.below(12)
        if k == 8:
            return self._burst()
        if k == 9:
            return self._many_sources()
        entry = rng.pick(self.sets)
        name = entry[0]
        fs = list(entry[1]) if rng.chance(4) else self._fresh_ident(entry[1])
        if k == 1:                                  # reordered
            fs = self._shuffle(fs)
        elif k == 2:                                # duplicated
            for _ in range(1 + rng.below(3)):
                fs.insert(rng.below(len(fs) + 1), rng.pick(fs))
        elif k == 3:                                # mixed with another datagram's fragments
            other = self._fresh_ident(rng.pick(self.sets)[1]) if rng.below(2) else list(rng.pick(self.sets)[1])
            fs = self._interleave(fs, other)
        elif k == 4:                                # one fragment mutated
            i = rng.below(len(fs))
            fs[i] = self.mutate(fs[i])
        elif k == 5:                                # one fragment dropped, rest shuffled
            fs.pop(rng.below(len(fs)))
            fs = self._shuffle(fs)
        elif k == 6:                                # a conflicting copy of one fragment
            i = rng.below(len(fs))
            b = bytearray(fs[i])
            if len(b) > 40:
                j = 34 + rng.below(len(b) - 34)
                b[j] ^= 0xFF
            fs.insert(rng.below(len(fs) + 1), fix_checksums(b, False))
        elif k == 7:                                # refragmented at other cuts (identical overlaps)
            fs = self._interleave(fs, self._refragment(entry[2], _be16(fs[0], 18)))
        elif k == 10:                               # the last fragment moved far out (past 65535 with a header)
            i = rng.below(len(fs))
            b = bytearray(fs[i])
            if len(b) >= 34:
                fl = _be16(b, 20) & 0xE000
                hl = (b[14] & 15) * 4
                room = 65535 - (_be16(b, 16) - hl) - rng.pick((0, 20, 40, 60))
                _put16(b, 20, (fl & ~MF) | ((room - rng.below(3) * 8) >> 3) & 0x1FFF)
                fs[i] = fix_checksums(b, False)
                if rng.below(2):
                    fs = self._with_options(fs)
        elif k == 11:                               # the first fragment only, again and again
            fs = [fs[0]] * (1 + rng.below(4))
        return name, fs

    def _refragment(self, d, ident):
        rng = self.rng
        hl = (d[0] & 15) * 4
        n = len(d) - hl
        cuts = []
        left = n
        while left > 8 and len(cuts) < 6:
            k = 8 * (1 + rng.below(min(left // 8, 185)))
            if k >= left:
                break
            cuts.append(k)
            left -= k
        b = bytearray(d)
        _put16(b, 4, ident)
        return [_e(x) for x in frames.fragment(bytes(b), *cuts)]

    def _with_options(self, fs):
        """The offset-0 fragment rebuilt with 40 bytes of options (NOPs, then EOL)."""
        out = []
        for f in fs:
            if len(f) >= 34 and not (_be16(f, 20) & 0x1FFF) and (f[14] & 15) == 5:
                b = bytearray(f[:34]) + b"\x01" * 39 + b"\x00" + f[34:]
                b[14] = 0x4F
                _put16(b, 16, (_be16(b, 16) + 40) & 0xFFFF)
                f = fix_checksums(b, False)
            out.append(f)
        return out

    def _burst(self):
        """One frame (maybe mutated) many times: rate limits and queue quotas."""
        rng = self.rng
        name, fs = rng.pick(self.singles)[:2]
        f = fs[0] if rng.below(2) else self.mutate(fs[0])
        return name + "_burst", [f] * (8 + rng.below(16))

    def _many_sources(self):
        """Echo requests or ARP requests from many on-link hosts (ARP cache pressure)."""
        rng = self.rng
        base = 10 + rng.below(200)
        out = []
        arp = rng.below(2)
        for k in range(6 + rng.below(20)):
            ip = "198.51.100.%d" % (base + k if base + k < 255 else 3 + k)
            mac = b"\x02\x00\x00\x00\x01" + bytes((k,))
            if arp:
                out.append(_e(frames.arp(1, mac, ip, frames.ZERO_MAC, US_IP), BCAST, mac, ETH_ARP))
            else:
                out.append(_e(_ip(PROTO_ICMP, frames.icmp_echo(k, k, b"src"), src=ip), src_mac=mac))
        return ("arp_many" if arp else "echo_many"), out

    def _shuffle(self, fs):
        fs = list(fs)
        for i in range(len(fs) - 1, 0, -1):
            j = self.rng.below(i + 1)
            fs[i], fs[j] = fs[j], fs[i]
        return fs

    def _interleave(self, a, b):
        out = []
        a = list(a)
        b = list(b)
        while a or b:
            src = a if (a and (not b or self.rng.below(2))) else b
            out.append(src.pop(0))
        return out

    def case(self):
        """(name, [frames]) of one test case; no frame longer than a block takes."""
        name, fs = self._case()
        return name, [f if len(f) <= RX_MAX else f[:RX_MAX] for f in fs]

    def _case(self):
        rng = self.rng
        if rng.chance(5):
            return self.sequence()
        name, fs = rng.pick(self.singles)[:2]
        f = fs[0]
        if rng.chance(10):
            return name, [f]                       # a valid frame now and then keeps state moving
        for _ in range(1 + (rng.below(3) if rng.chance(4) else 0)):
            f = self.mutate(f)
        return name, [f]


# ---- harness: run frames through a Rig and check everything it sends ----------------

class Harness:
    """A Rig with the echo port, a queued port and a closed one; every sent
    frame is checked as it comes out; final() checks counters and the pool."""

    def __init__(self, **settings):
        self.r = Rig(**settings)
        r = self.r
        self.cfg = r.config
        r.learn()
        self.base = dict(r.ctr)
        self.drv_base = r.drv.stats()["rx_frames"]
        self.t0 = r.t
        self.frames_in = 0
        self.recent = []            # injected frames, for the "quote only what arrived" rule
        self.ip_datagrams_out = 0   # IP frames sent at offset 0 (one per datagram)
        self.ip_frames_out = 0
        self.frag_frames_out = 0
        self.arp_out = 0
        self.icmp_errors_out = 0
        self.arp_last_req = {}
        self.frags = {}             # sent fragments by (id, dst): [(offset, mf, payload)]
        self.where = ""
        self.where_frame = None     # the frame `where` names: in hex only when failing
        r.st.udp.bind_echo(ECHO_PORT)
        self.queue = r.st.udp.bind(QUEUE_PORT)

    def fail(self, msg):
        w = self.where
        if self.where_frame is not None:
            w += ": " + _hex(self.where_frame)
        raise AssertionError("%s: %s" % (w, msg))

    def inject(self, f):
        assert len(f) <= RX_MAX
        self.r.inject(f)
        self.frames_in += 1
        self.recent.append(bytes(f))
        if len(self.recent) > 512:
            self.recent.pop(0)

    def poll(self, t):
        self.r.poll(t)
        for f in self.r.sent():
            self.check_frame(f)

    def drain(self):
        from stack import pbuf
        while True:
            item = self.queue.recv()
            if item is None:
                break
            pbuf.free(item[0])

    def run(self, fz, n, step=None):
        """Inject n frames from Fuzzer fz, polling with an advancing clock."""
        rng = fz.rng
        count = 0
        case_no = 0
        while count < n:
            name, fs = fz.case()
            case_no += 1
            self.case = fs
            for i, f in enumerate(fs):
                self.where = "case %d (%s) frame %d" % (case_no, name, i)
                self.where_frame = f
                self.inject(f)
                count += 1
                if rng.chance(3):
                    self.poll(self.r.t + rng.below(50))
            self.poll(self.r.t + self._clock_step(rng))
            if rng.chance(8):
                self.drain()
            if step is not None:
                step(self, case_no)

    def _clock_step(self, rng):
        cfg = self.cfg
        k = rng.below(64)
        if k == 0:
            return cfg.REASM_TIMEOUT_MS + rng.below(2000)          # past the reassembly timer
        if k == 1:
            return cfg.ARP_REQUEST_INTERVAL_MS * (1 + rng.below(cfg.ARP_MAX_REQUESTS + 1))
        if k == 2:
            return cfg.ARP_ENTRY_TTL_MS + rng.below(1000)          # past ARP entry ageing
        if k < 12:
            return rng.below(1000)
        return rng.below(60)

    # -- one sent frame --
    def check_frame(self, f):
        if len(f) > MAX_FRAME:
            self.fail("sent a %d-byte frame" % len(f))
        if len(f) < 14:
            self.fail("sent a frame shorter than Ethernet")
        e = frames.parse_eth(f)
        if e["src"] != US_MAC:
            self.fail("source MAC %r" % e["src"])
        if e["type"] == ETH_ARP:
            self._check_arp(e)
        elif e["type"] == ETH_IP:
            self._check_ip(e)
        else:
            self.fail("sent EtherType 0x%04x" % e["type"])

    def _check_arp(self, e):
        self.arp_out += 1
        b = e["payload"]
        if len(b) != 28:
            self.fail("ARP of %d bytes" % len(b))
        a = frames.parse_arp(b)
        if (a["htype"], a["ptype"], a["hlen"], a["plen"]) != (1, 0x0800, 6, 4):
            self.fail("ARP format %r" % a)
        if a["op"] not in (1, 2) or a["sha"] != US_MAC or a["spa"] != US_IP:
            self.fail("ARP %r" % a)
        if a["op"] == 2:
            if e["dst"] != a["tha"] or a["tha"][0] & 1:
                self.fail("ARP reply to %r" % a)
        elif a["tpa"] != US_IP:
            if e["dst"] != BCAST:
                self.fail("ARP request not broadcast")
            # at most one request per second per destination
            t = self.r.t
            last = self.arp_last_req.get(a["tpa"])
            if last is not None and t - last < self.cfg.ARP_REQUEST_INTERVAL_MS:
                self.fail("ARP requests for %s at %d and %d ms" % (a["tpa"], last, t))
            self.arp_last_req[a["tpa"]] = t

    def _check_ip(self, e):
        b = e["payload"]
        if len(b) < 20:
            self.fail("IPv4 shorter than a header")
        ip = frames.parse_ip(b)
        if ip["version"] != 4 or ip["hl"] < 20 or ip["hl"] > len(b):
            self.fail("IPv4 header %r" % ip["header"])
        if not ip["checksum_ok"]:
            self.fail("IPv4 header checksum")
        if ip["tl"] != len(b):
            self.fail("total length %d, IP bytes %d" % (ip["tl"], len(b)))
        if ip["src"] != US_IP:
            self.fail("IPv4 source %s" % ip["src"])
        if ip["ttl"] == 0:
            self.fail("TTL 0")
        dst = ip_int(ip["dst"])
        top = dst >> 24
        if top == 0 or top == 127 or top >= 240 and dst != 0xFFFFFFFF:
            self.fail("martian destination %s" % ip["dst"])
        self.ip_frames_out += 1
        if ip["offset"] == 0:
            self.ip_datagrams_out += 1
        if ip["mf"] or ip["offset"]:
            self.frag_frames_out += 1
            if ip["mf"] and len(ip["payload"]) % 8:
                self.fail("non-last fragment of %d bytes" % len(ip["payload"]))
            key = (ip["id"], ip["dst"], ip["proto"])
            got = self.frags.setdefault(key, [])
            got.append(ip)
            whole = _tiled(got)
            if whole is None:
                if len(self.frags) > 64:
                    self.frags.pop(next(iter(self.frags)))
                return
            del self.frags[key]
            payload = whole
        else:
            payload = ip["payload"]
        self._check_transport(ip, payload, e["dst"])

    def _check_transport(self, ip, payload, dst_mac):
        dst = ip_int(ip["dst"])
        group = dst == 0xFFFFFFFF or dst == ip_int(SUBNET_BCAST) or dst >> 28 == 14
        if ip["proto"] == PROTO_UDP:
            if len(payload) < 8:
                self.fail("short UDP")
            u = frames.parse_udp(payload, ip["src"], ip["dst"])
            if u["len"] != len(payload) or not u["checksum_ok"] or u["checksum"] == 0:
                self.fail("UDP length %d checksum 0x%04x (ok: %s) over %d bytes" % (
                    u["len"], u["checksum"], u["checksum_ok"], len(payload)))
            if u["sport"] != ECHO_PORT:
                self.fail("UDP from port %d" % u["sport"])
            self._arrived_chunks(payload, 8, "UDP echo data")
            return
        if ip["proto"] != PROTO_ICMP:
            self.fail("sent protocol %d" % ip["proto"])
        if len(payload) < 8:
            self.fail("short ICMP")
        m = frames.parse_icmp(payload)
        if not m["checksum_ok"]:
            self.fail("ICMP checksum")
        if m["type"] == 0:
            if group:
                self.fail("echo reply to %s" % ip["dst"])
            self._arrived(payload[4:8], "echo reply id/seq")
            self._arrived_chunks(payload, 8, "echo reply data")
            return
        if m["type"] not in (3, 11):
            self.fail("sent ICMP type %d" % m["type"])
        # an error: RFC 1122 3.2.2 and RFC 1812 sizes
        self.icmp_errors_out += 1
        if group or dst_mac[0] & 1:
            self.fail("ICMP error to a broadcast/multicast %s" % ip["dst"])
        if ip["tl"] > 576:
            self.fail("ICMP error of %d bytes" % ip["tl"])
        q = m["data"]
        if len(q) < 20:
            self.fail("ICMP error quoting %d bytes" % len(q))
        qh = frames.parse_ip(q + bytes(60))   # header fields only
        qhl = qh["hl"]
        if qh["version"] != 4 or qhl < 20 or qhl > len(q):
            self.fail("quoted header %r" % q[:20])
        if qh["src"] != ip["dst"]:
            self.fail("error to %s about a datagram from %s" % (ip["dst"], qh["src"]))
        if qh["offset"]:
            self.fail("error about a non-initial fragment")
        qdst = ip_int(qh["dst"])
        if qdst != ip_int(US_IP):
            self.fail("error about a datagram to %s" % qh["dst"])
        if qh["proto"] == PROTO_ICMP and len(q) > qhl and q[qhl] in ICMP_ERRORS:
            self.fail("ICMP error about an ICMP error")
        if qh["proto"] == PROTO_ICMP and len(q) == qhl:
            self.fail("ICMP error about an ICMP message of unknown type")
        # only bytes that arrived (past the fields reassembly rewrites)
        self._arrived(q[12:], "quote")

    def _arrived(self, part, what):
        """part (the start of what the stack echoes or quotes) must be bytes
        of one injected frame."""
        for f in self.recent:
            if f.find(part) >= 0:
                return
        self.fail("%s not in any injected frame: %s" % (what, _hex(part)))

    def _arrived_chunks(self, payload, start, what):
        """Echoed data: each 8-byte chunk (fragment offsets are multiples of
        8, so a chunk never straddles two fragments) arrived in some frame."""
        for k in range(start, min(len(payload), start + 40), 8):
            self._arrived(payload[k:k + 8], what)

    # -- the end --
    def delta(self):
        d = {}
        c = self.r.ctr
        for k in c:
            d[k] = c[k] - self.base.get(k, 0)
        return d

    def final(self):
        """Quiesce (drain, run every timer out), then check counters and the pool."""
        r = self.r
        cfg = self.cfg
        self.where = "final"
        self.where_frame = None
        self.drain()
        end = r.t + cfg.REASM_TIMEOUT_MS + cfg.ARP_REQUEST_INTERVAL_MS * (cfg.ARP_MAX_REQUESTS + 1) + 1000
        while r.t < end:
            self.poll(r.t + cfg.TIMER_TICK_MS)
        self.drain()
        d = self.delta()
        drv = r.drv.stats()
        ok = drv["rx_frames"] - self.drv_base == d["eth_rx"]
        if d["eth_rx"] != self.frames_in or not ok:
            self.fail("%d frames in, eth_rx moved %d (driver: %r)" % (self.frames_in, d["eth_rx"], drv))
        self._check_counters(d)
        if not r.quiesced():
            self.fail("pool not at baseline after quiescing: %r" % (r.pool.stats(),))
        r.finish()

    def _check_counters(self, d):
        s = _sum
        # every frame ends in exactly one outcome, layer by layer
        eth = s(d, "eth_truncated", "eth_other_dst", "eth_unknown_type", "eth_own_src")
        arp = s(d, "arp_truncated", "arp_bad_format", "arp_bad_op", "arp_bad_sender", "arp_not_for_us",
                "arp_request_rx", "arp_reply_rx", "arp_unsolicited")
        ipd = s(d, "ipv4_truncated", "ipv4_bad_version", "ipv4_bad_ihl", "ipv4_bad_length",
                "ipv4_bad_checksum", "ipv4_bad_options", "ipv4_martian_src", "ipv4_martian_dst",
                "ipv4_not_for_us")
        frag = s(d, "reasm_fragments", "reasm_overlap", "reasm_duplicate", "reasm_too_big",
                 "reasm_bad_length", "reasm_no_buffer")
        whole = d["ipv4_rx"] - d["reasm_ok"]
        # a datagram refused at completion (reasm_too_big) moves a second counter for its last fragment
        total = eth + arp + ipd + frag + whole
        if not (d["eth_rx"] <= total <= d["eth_rx"] + d["reasm_too_big"]):
            self.fail("eth_rx %d, outcomes %d: %r" % (d["eth_rx"], total, _moved(d)))
        up = s(d, "udp_truncated", "udp_bad_length", "udp_bad_checksum", "udp_no_port", "udp_queue_full",
               "udp_rx", "icmp_truncated", "icmp_bad_checksum", "icmp_echo_rx", "icmp_error_rx",
               "icmp_other", "ipv4_unknown_proto", "tcp_truncated", "tcp_bad_offset",
               "tcp_bad_checksum", "tcp_not_unicast", "tcp_rx")
        if up != d["ipv4_rx"]:
            self.fail("ipv4_rx %d, transport outcomes %d: %r" % (d["ipv4_rx"], up, _moved(d)))
        if d["icmp_echo_tx"] + d["icmp_echo_bcast"] > d["icmp_echo_rx"]:
            self.fail("more echo replies than requests: %r" % _moved(d))
        # what was sent is bounded by what came in and what the timers did
        arp_tx = d["arp_request_tx"] + d["arp_reply_tx"] + d["arp_gratuitous_tx"]
        if self.arp_out != arp_tx:
            self.fail("%d ARP frames sent, counters say %d" % (self.arp_out, arp_tx))
        if d["arp_reply_tx"] > d["arp_request_rx"]:
            self.fail("more ARP replies than requests for us: %r" % _moved(d))
        if self.ip_datagrams_out > self.frames_in + d["reasm_timeout"]:
            self.fail("%d datagrams sent for %d frames in" % (self.ip_datagrams_out, self.frames_in))
        # ipv4_tx counts a datagram when all of it reached the driver: one whose
        # first fragments went out and whose rest was refused (no block, ring
        # full, ARP queue full) counts that drop instead
        if self.ip_datagrams_out > (d["ipv4_tx"] + d["ipv4_tx_no_buffer"] + d["tx_ring_full"]
                                    + d["arp_queue_full"] + d["arp_release_no_quota"]):
            self.fail("%d datagrams sent, ipv4_tx %d" % (self.ip_datagrams_out, d["ipv4_tx"]))
        if self.frag_frames_out > d["ipv4_frag_tx"]:
            self.fail("%d fragments sent, ipv4_frag_tx %d" % (self.frag_frames_out, d["ipv4_frag_tx"]))
        if d["arp_request_tx"] > self.cfg.ARP_MAX_REQUESTS * (self.frames_in + d["reasm_timeout"]):
            self.fail("%d ARP requests for %d frames in" % (d["arp_request_tx"], self.frames_in))
        elapsed = self.r.t - self.t0
        cap = self.cfg.ICMP_ERR_BURST + self.cfg.ICMP_ERR_RATE_PER_S * elapsed // 1000 + 1
        if self.icmp_errors_out > cap:
            self.fail("%d ICMP errors in %d ms" % (self.icmp_errors_out, elapsed))


def _sum(d, *names):
    t = 0
    for n in names:
        t += d[n]
    return t


def _moved(d):
    out = {}
    for k in d:
        if d[k]:
            out[k] = d[k]
    return out


def _tiled(ips):
    """The payload when the fragments cover [0, end) with a last one, else None."""
    ips = sorted(ips, key=lambda x: x["offset"])
    at = 0
    parts = []
    last = False
    for x in ips:
        if x["offset"] != at:
            return None
        parts.append(x["payload"])
        at += len(x["payload"])
        if not x["mf"]:
            last = True
            break
    return b"".join(parts) if last else None


def _hex(b):
    return "".join("%02x" % x for x in b)


def run_seed(seed, n, **settings):
    """The whole campaign for one seed: returns the counter deltas."""
    h = Harness(**settings)
    try:
        h.run(Fuzzer(seed), n)
        d = h.delta()
        h.final()
    finally:
        if not h.r.done:
            h.r.__exit__(AssertionError, None, None)
    return d


def run_frames(fs, gap_ms=10, **settings):
    """Inject fixed frames (a regression case), one poll per frame, then final()."""
    h = Harness(**settings)
    try:
        for i, f in enumerate(fs):
            h.where = "frame %d" % i
            h.where_frame = f
            h.inject(f)
            h.poll(h.r.t + gap_ms)
        h.final()
    finally:
        if not h.r.done:
            h.r.__exit__(AssertionError, None, None)
    return h
