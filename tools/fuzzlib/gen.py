"""Seeded generators: valid frames for every header the stack reads,
mutated field by field, and fragment storms. Each generator returns one
"case": a list of frames (most cases are one frame; a fragment storm is
many). The same seed gives the same cases.

Fields are mutated by name (offset and width within their header) to
values that break parsers: 0, 1, the maximum, one either side of the
boundary the parser checks, the header's own length, random bits; option
lists get zero, one and overlong lengths. After the mutation the
checksums are usually made right again (else nearly every case would end
at the checksum check), sometimes not.

DHCP and DNS: the stack has no DHCP or DNS client yet, so there is no
querying stack to answer; those generators join when the clients exist
(docs/fuzz.md). Nothing here fakes them.
"""
import random
import struct

from . import pkt
from .pkt import (ACK, DF, ETH_ARP, ETH_IP, FIN, MF, PROTO_ICMP, PROTO_TCP, PROTO_UDP, PSH, RST,
                  SYN, URG, arp, eth, icmp, ip4, ipv4, mac, tcp, udp)

I8 = (0, 1, 2, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF)
I16 = (0, 1, 2, 7, 8, 19, 20, 21, 40, 59, 60, 0x7F, 0x80, 0xFF, 0x100, 576, 1480, 1500, 1514,
       0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
I32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x40000000, 0x3FFFFFFF)

ECHO, DISCARD, QOTD, SOURCE = 7, 9, 17, 19
TCP_PORTS = (ECHO, DISCARD, QOTD, SOURCE, 0, 1, 33434, 65535)
UDP_PORTS = (7, 7, 7, 0, 9, 53, 67, 68, 33434, 65535)

# (offset in the header, width in bytes) of every field
ETH_FIELDS = {"dst": (0, 6), "src": (6, 6), "type": (12, 2)}
ARP_FIELDS = {"htype": (0, 2), "ptype": (2, 2), "hlen": (4, 1), "plen": (5, 1), "op": (6, 2),
              "sha": (8, 6), "spa": (14, 4), "tha": (18, 6), "tpa": (24, 4)}
IP_FIELDS = {"ver_ihl": (0, 1), "tos": (1, 1), "tl": (2, 2), "id": (4, 2), "frag": (6, 2),
             "ttl": (8, 1), "proto": (9, 1), "csum": (10, 2), "src": (12, 4), "dst": (16, 4)}
ICMP_FIELDS = {"type": (0, 1), "code": (1, 1), "csum": (2, 2), "id": (4, 2), "seq": (6, 2)}
UDP_FIELDS = {"sport": (0, 2), "dport": (2, 2), "len": (4, 2), "csum": (6, 2)}
TCP_FIELDS = {"sport": (0, 2), "dport": (2, 2), "seq": (4, 4), "ack": (8, 4), "doff": (12, 1),
              "flags": (13, 1), "win": (14, 2), "csum": (16, 2), "urg": (18, 2)}


class Net:
    """The addresses of a campaign: the stack, the host side, the probe
    (the oracle's own source, never used by a generator) and the fuzz peers
    (on-link addresses nobody owns, answered by the ARP responder)."""

    def __init__(self, stack_ip, stack_mac, host_ip, host_mac):
        self.stack_ip = ip4(stack_ip)
        self.stack_mac = mac(stack_mac)
        self.host_ip = ip4(host_ip)
        self.host_mac = mac(host_mac)
        net = self.stack_ip[:3]
        self.net = net
        self.bcast_ip = net + b"\xff"
        self.probe_ip = net + bytes([250])
        self.probe_mac = bytes.fromhex("0200000000fa")
        self.peers = [(net + bytes([100 + i]), bytes.fromhex("0200000001%02x" % (100 + i)))
                      for i in range(8)]

    def peer_mac(self, ip):
        for a, m in self.peers:
            if a == ip:
                return m
        if ip == self.probe_ip:
            return self.probe_mac
        return None


def _put(b, off, width, value):
    for k in range(width):
        if off + k < len(b):
            b[off + k] = (value >> (8 * (width - 1 - k))) & 0xFF


def _get(b, off, width):
    v = 0
    for k in range(width):
        v = (v << 8) | (b[off + k] if off + k < len(b) else 0)
    return v


class Gen:
    """Generators over one Random: gen.case() -> (kind, [frame, ...])."""

    KINDS = ("eth", "arp", "ipv4", "ipopt", "icmp", "udp", "tcp", "tcpopt", "frag", "storm")
    WEIGHTS = (6, 8, 12, 8, 10, 8, 14, 10, 10, 1)

    def __init__(self, seed, net, kinds=None):
        self.r = random.Random(seed)
        self.n = net
        self.kinds = list(kinds or self.KINDS)
        self.weights = [self.WEIGHTS[self.KINDS.index(k)] for k in self.kinds]
        self.ident = 0x4000

    # -- values
    def value(self, width, cur):
        r = self.r
        x = r.random()
        top = (1 << (8 * width)) - 1
        if x < 0.35:
            pool = I8 if width == 1 else I16 if width == 2 else I32 if width == 4 else (0,)
            v = r.choice(pool)
            return v & top if width <= 4 else r.choice((0, top, r.getrandbits(8 * width)))
        if x < 0.55:
            return (cur ^ (1 << r.randrange(8 * width))) & top
        if x < 0.75:
            return (cur + r.choice((-2, -1, 1, 2, 8, -8, 20, -20))) & top
        return r.getrandbits(8 * width)

    def mutate_fields(self, b, base, fields, count=None):
        """Set 1-3 of the header's fields (at base) to a breaking value."""
        r = self.r
        names = list(fields)
        for _ in range(count or r.choice((1, 1, 1, 2, 3))):
            off, width = fields[r.choice(names)]
            if base + off + width > len(b):
                continue
            _put(b, base + off, width, self.value(width, _get(b, base + off, width)))

    def finish(self, b, fix=0.85):
        """Checksums made right again (usually), the frame cut to the MTU,
        and sometimes truncated or padded with junk."""
        r = self.r
        out = bytes(b)
        if r.random() < fix:
            out = pkt.fix_checksums(out)
        x = r.random()
        if x < 0.05:
            out = out[:r.randrange(0, len(out) + 1)]
        elif x < 0.08:
            out = out + bytes(r.getrandbits(8) for _ in range(r.randrange(1, 40)))
        return out[:pkt.MAX_FRAME]

    # -- addresses the generators use as sources
    def src(self):
        r = self.r
        if r.random() < 0.7:
            return r.choice(self.n.peers)
        if r.random() < 0.5:
            return self.n.host_ip, self.n.host_mac
        a = r.choice((b"\x00\x00\x00\x00", b"\x7f\x00\x00\x01", b"\xe0\x00\x00\x01", b"\xff" * 4,
                      self.n.stack_ip, self.n.bcast_ip, self.n.net + b"\x00",
                      bytes(r.getrandbits(8) for _ in range(4))))
        return a, r.choice(self.n.peers)[1]

    def dst_ip(self):
        r = self.r
        if r.random() < 0.85:
            return self.n.stack_ip, self.n.stack_mac
        return r.choice(((self.n.bcast_ip, pkt.BCAST_MAC), (b"\xff" * 4, pkt.BCAST_MAC),
                         (b"\xe0\x00\x00\x01", bytes.fromhex("01005e000001")),
                         (self.n.net + bytes([9]), self.n.stack_mac)))

    def next_ident(self):
        self.ident = (self.ident + 1) & 0xFFFF
        return self.ident

    def payload(self, lo=0, hi=64):
        r = self.r
        n = r.randrange(lo, hi + 1)
        return bytes(r.getrandbits(8) for _ in range(n)) if r.random() < 0.5 else bytes([n & 0xFF]) * n

    # -- valid templates
    def t_icmp(self, s, d):
        r = self.r
        typ = r.choice((8, 8, 8, 0, 3, 4, 5, 11, 12, 13, 14, 15, 17, 255))
        if typ in (3, 4, 5, 11, 12):
            # an error quoting one of "our" datagrams (as it would if we had sent it)
            inner = ipv4(self.n.stack_ip, s, r.choice((PROTO_UDP, PROTO_TCP, PROTO_ICMP)),
                         self.payload(8, 40))
            inner = inner[:r.choice((20, 28, 48, len(inner)))]
            return icmp(typ, r.randrange(0, 16), b"\x00" * 4, inner)
        return icmp(typ, 0, struct.pack("!HH", r.getrandbits(16), r.getrandbits(16)),
                    self.payload(0, r.choice((16, 64, 1400))))

    def t_udp(self, s, d):
        r = self.r
        return udp(s, d, r.choice((40000, 53, 67, 7, 0)), r.choice(UDP_PORTS),
                   self.payload(0, r.choice((8, 64, 1400))))

    def t_tcp(self, s, d, options=b""):
        r = self.r
        flags = r.choice((SYN, SYN, ACK, SYN | ACK, RST, RST | ACK, FIN | ACK, PSH | ACK, URG | ACK,
                          0, 0xFF, SYN | FIN, SYN | RST, FIN | PSH | URG))
        data = self.payload(0, 40) if r.random() < 0.4 else b""
        return tcp(s, d, r.randrange(1024, 65536), r.choice(TCP_PORTS), r.getrandbits(32),
                   r.getrandbits(32), flags, win=r.choice((0, 1, 512, 65535)), data=data,
                   options=options, urg=r.choice((0, 0, 1, len(data), 0xFFFF)))

    def ip_frame(self, proto=None, options=b""):
        r = self.r
        s, smac = self.src()
        d, dmac = self.dst_ip()
        if proto is None:
            proto = r.choice((PROTO_ICMP, PROTO_ICMP, PROTO_UDP, PROTO_TCP, 2, 47, 99, 255))
        if proto == PROTO_ICMP:
            body = self.t_icmp(s, d)
        elif proto == PROTO_UDP:
            body = self.t_udp(s, d)
        elif proto == PROTO_TCP:
            body = self.t_tcp(s, d)
        else:
            body = self.payload(0, 64)
        dg = ipv4(s, d, proto, body, ident=self.next_ident(), options=options,
                  ttl=r.choice((64, 64, 1, 0, 255)), flags_frag=r.choice((0, 0, DF)))
        return bytearray(eth(dmac, smac, ETH_IP, dg[:pkt.MAX_FRAME - 14]))

    # -- generators
    def g_eth(self):
        r = self.r
        b = self.ip_frame() if r.random() < 0.6 else bytearray(self.arp_frame())
        self.mutate_fields(b, 0, ETH_FIELDS, 1)
        if r.random() < 0.3:
            b[12:14] = struct.pack("!H", r.choice((0x0800, 0x0806, 0x86DD, 0x8100, 0x88CC, 0x0000,
                                                   0x05DC, 0x05FF, 0xFFFF)))
        if r.random() < 0.15:
            b = b[:r.randrange(0, 61)]
        return [self.finish(b, 0.5)]

    def arp_frame(self):
        r = self.r
        n = self.n
        pip, pmac = r.choice(n.peers)
        op = r.choice((1, 1, 2))
        if op == 1:
            body = arp(1, pmac, pip, pkt.ZERO_MAC, r.choice((n.stack_ip, n.stack_ip, pip,
                                                             n.net + bytes([9]))))
            dst = pkt.BCAST_MAC
        else:
            body = arp(2, pmac, pip, n.stack_mac, n.stack_ip)
            dst = n.stack_mac
        return eth(dst, pmac, ETH_ARP, body)

    def g_arp(self):
        r = self.r
        b = bytearray(self.arp_frame())
        self.mutate_fields(b, 14, ARP_FIELDS)
        if r.random() < 0.2:
            # poisoning attempt: someone else's (or our own) address from another MAC
            _put(b, 14 + 14, 4, int.from_bytes(r.choice((self.n.stack_ip, self.n.host_ip,
                                                           self.n.peers[0][0])), "big"))
        x = r.random()
        if x < 0.15:
            b = b[:r.randrange(14, 42)]
        elif x < 0.25:
            b += bytes(r.randrange(1, 40))
        return [bytes(b)]

    def g_ipv4(self):
        b = self.ip_frame()
        self.mutate_fields(b, 14, IP_FIELDS)
        return [self.finish(b)]

    def ip_options(self):
        r = self.r
        kind = r.randrange(10)
        if kind == 0:
            o = b"\x01" * r.randrange(1, 40)
        elif kind == 1:
            o = b"\x00" + self.payload(0, 20)
        elif kind == 2:         # record route, pointer edges
            n = r.choice((3, 7, 11, 39))
            o = bytes([7, n, r.choice((0, 3, 4, 5, n, n + 1, 255))]) + bytes(max(0, n - 3))
        elif kind == 3:         # timestamp, overflow/flags edges
            n = r.choice((4, 8, 12, 36, 40))
            o = bytes([68, n, r.choice((1, 4, 5, 9, n + 1)), r.getrandbits(8)]) + bytes(max(0, n - 4))
        elif kind == 4:         # source routes (never followed by a host)
            o = bytes([r.choice((131, 137)), 7, 4]) + ip4("198.51.100.9")
        elif kind == 5:         # zero and one length
            o = bytes([r.choice((7, 68, 130, 148, 200)), r.choice((0, 1))]) + self.payload(0, 6)
        elif kind == 6:         # overlong: length past the header
            o = bytes([r.choice((7, 68, 148, 94)), r.choice((41, 60, 255))]) + self.payload(0, 10)
        elif kind == 7:         # router alert
            o = bytes([148, 4, 0, 0])
        elif kind == 8:
            o = self.payload(1, 40)
        else:
            o = b"\x01\x01" + bytes([r.getrandbits(8), r.choice((0, 1, 2, 3, 40))])
        o = o[:40]
        return o + b"\x00" * ((4 - len(o) % 4) % 4)

    def g_ipopt(self):
        r = self.r
        b = self.ip_frame(proto=r.choice((PROTO_ICMP, PROTO_UDP, PROTO_TCP)), options=self.ip_options())
        if r.random() < 0.3:
            self.mutate_fields(b, 14, IP_FIELDS, 1)
        return [self.finish(b)]

    def g_icmp(self):
        b = self.ip_frame(PROTO_ICMP)
        ihl = (b[14] & 15) * 4
        self.mutate_fields(b, 14 + ihl, ICMP_FIELDS)
        return [self.finish(b)]

    def g_udp(self):
        b = self.ip_frame(PROTO_UDP)
        ihl = (b[14] & 15) * 4
        self.mutate_fields(b, 14 + ihl, UDP_FIELDS)
        return [self.finish(b, 0.7)]

    def g_tcp(self):
        b = self.ip_frame(PROTO_TCP)
        ihl = (b[14] & 15) * 4
        self.mutate_fields(b, 14 + ihl, TCP_FIELDS)
        return [self.finish(b)]

    def tcp_options(self):
        """An option list: valid ones with edge values, and broken lengths."""
        r = self.r
        out = b""
        for _ in range(r.randrange(1, 6)):
            k = r.randrange(12)
            if k == 0:
                out += struct.pack("!BBH", 2, 4, r.choice((0, 1, 88, 536, 1460, 65535)))
            elif k == 1:
                out += bytes([3, 3, r.choice((0, 7, 14, 15, 255))])
            elif k == 2:
                out += b"\x04\x02"
            elif k == 3:
                nb = r.randrange(0, 5)
                out += bytes([5, 2 + 8 * nb]) + bytes(r.getrandbits(8) for _ in range(8 * nb))
            elif k == 4:
                out += bytes([8, 10]) + struct.pack("!II", r.getrandbits(32), r.choice((0, r.getrandbits(32))))
            elif k == 5:
                out += b"\x01"
            elif k == 6:
                out += b"\x00"
            elif k == 7:        # zero and one length
                out += bytes([r.choice((2, 3, 5, 8, 30, 254)), r.choice((0, 1))])
            elif k == 8:        # overlong
                out += bytes([r.choice((2, 3, 5, 8, 254)), r.choice((11, 40, 60, 255))])
            elif k == 9:        # wrong fixed length
                out += bytes([r.choice((2, 3, 8)), r.choice((2, 3, 5, 9, 12))]) + bytes(4)
            elif k == 10:
                out += bytes([r.getrandbits(8)]) + bytes([r.randrange(2, 12)]) + self.payload(0, 8)
            else:
                out += bytes([5, r.choice((3, 9, 10, 11, 17, 34, 36, 40))]) + self.payload(0, 16)
        return out[:40]

    def g_tcpopt(self):
        r = self.r
        s, smac = self.src()
        d, dmac = self.n.stack_ip, self.n.stack_mac
        seg = bytearray(self.t_tcp(s, d, options=self.tcp_options()))
        if r.random() < 0.3:
            self.mutate_fields(seg, 0, {"doff": TCP_FIELDS["doff"], "urg": TCP_FIELDS["urg"],
                                        "flags": TCP_FIELDS["flags"]}, 1)
        b = eth(dmac, smac, ETH_IP, ipv4(s, d, PROTO_TCP, bytes(seg), ident=self.next_ident()))
        return [self.finish(b, 0.95)]

    # -- fragments
    def frag_datagram(self):
        r = self.r
        pip, pmac = r.choice(self.n.peers) if r.random() < 0.8 else (self.n.host_ip, self.n.host_mac)
        proto = r.choice((PROTO_ICMP, PROTO_ICMP, PROTO_UDP, PROTO_TCP, 99))
        size = r.choice((16, 64, 300, 1480, 2000, 4000, 8000))
        data = bytes([r.getrandbits(8)]) * size
        if proto == PROTO_ICMP:
            body = icmp(8, 0, struct.pack("!HH", r.getrandbits(16), 1), data)
        elif proto == PROTO_UDP:
            body = udp(pip, self.n.stack_ip, 40000, r.choice((7, 33434)), data)
        elif proto == PROTO_TCP:
            body = tcp(pip, self.n.stack_ip, 40000, r.choice((7, 9)), r.getrandbits(32), 0, SYN,
                       data=data[:100])
        else:
            body = data
        return pip, pmac, proto, body

    def fragments(self, pip, pmac, proto, body, ident, sizes=None, options=b""):
        """[(offset in 8-byte units, more, chunk)] cut at multiples of 8."""
        r = self.r
        out = []
        off = 0
        while off < len(body):
            n = sizes.pop(0) if sizes else r.choice((8, 16, 64, 256, 1024, 1480))
            n = max(8, n - n % 8)
            chunk = body[off:off + n]
            out.append([off // 8, off + n < len(body), chunk])
            off += n
        return out

    def frag_frame(self, pip, pmac, proto, ident, off8, more, chunk, options=b"", dst=None):
        ff = (off8 & 0x1FFF) | (MF if more else 0)
        dg = ipv4(pip, dst or self.n.stack_ip, proto, chunk, ident=ident, flags_frag=ff, options=options)
        return eth(self.n.stack_mac, pmac, ETH_IP, dg[:pkt.MAX_FRAME - 14])

    def g_frag(self):
        """One datagram in fragments, then damaged: reordered, duplicated,
        overlapping with the same or different bytes, an offset past 65535,
        MF on the last, a lost fragment, tiny fragments, a length that
        disagrees."""
        r = self.r
        pip, pmac, proto, body = self.frag_datagram()
        ident = self.next_ident()
        fr = self.fragments(pip, pmac, proto, body, ident)
        for _ in range(r.randrange(0, 4)):
            if not fr:
                break
            k = r.randrange(9)
            i = r.randrange(len(fr))
            if k == 0:
                r.shuffle(fr)
            elif k == 1:
                fr.insert(r.randrange(len(fr) + 1), list(fr[i]))
            elif k == 2:        # overlap, different bytes
                o, m, c = fr[i]
                fr.append([max(0, o - r.choice((1, 2))), True, bytes([(c[:1] or b"\x00")[0] ^ 0xFF]) * max(8, len(c))])
            elif k == 3:        # offset overflow: offset*8 + length > 65535
                fr.append([0x1FFF - r.randrange(0, 4), r.random() < 0.5, body[:r.choice((8, 64, 1480))]])
            elif k == 4:
                fr[-1][1] = True
            elif k == 5:
                del fr[i]
            elif k == 6:        # tiny tail, odd length in the middle
                fr[i][2] = fr[i][2][:r.choice((1, 7, 9))]
            elif k == 7:        # a fragment holding nothing
                fr.insert(i, [fr[i][0], True, b""])
            else:               # the same offset again, one byte longer/shorter
                o, m, c = fr[i]
                fr.append([o, m, c + b"\x00" if r.random() < 0.5 else c[:-1]])
        out = [self.frag_frame(pip, pmac, proto, ident, o, m, c) for o, m, c in fr]
        out = [self.finish(f, 0.97) if r.random() < 0.1 else f for f in out]
        return out[:64]

    def g_storm(self):
        """A fragment storm: many datagrams' first fragments (never
        completed) from several peers, interleaved: reassembly must evict,
        the pool must not run dry for good."""
        r = self.r
        out = []
        n = r.choice((16, 32, 64))
        for i in range(n):
            pip, pmac = r.choice(self.n.peers)
            ident = self.next_ident()
            chunk = bytes([i & 0xFF]) * r.choice((8, 512, 1480))
            out.append(self.frag_frame(pip, pmac, PROTO_ICMP, ident, r.choice((0, 0, 185, 0x1FFF)),
                                       True, chunk))
        return out

    # --
    def case(self):
        kind = self.r.choices(self.kinds, self.weights)[0]
        return kind, getattr(self, "g_" + kind)()
