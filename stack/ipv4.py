# IPv4 as a host (RFC 791, RFC 1122 3.2.1): full header validation, martian
# filtering, options skipped safely, reassembly (reasm.py), fragmentation on
# output. Never forwards.
from micropython import const

from . import config, pbuf
from .checksum import inet, sum16
from .pool import pool
from .reasm import Reasm
from .wire import (BCAST_MAC, ETHERTYPE_IPV4, IPV4_HLEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP,
                   be16, copy_field, put16)

MF = const(0x2000)
DF = const(0x4000)
OFFMASK = const(0x1FFF)

# What a datagram carries up to its transport (the `cast` argument of
# udp/icmp/tcp input): how it was addressed, as bits.
UNICAST = const(0)
BROADCAST = const(1)    # to 255.255.255.255 or our subnet broadcast
MULTICAST = const(2)    # to a group we are in (224.0.0.1)
LINK_BCAST = const(4)   # came in a link-layer broadcast/multicast frame

# Counters to move when a datagram really reaches the driver (the `tag` of
# output()): a datagram parked for ARP counts only if it leaves the queue.
TX_IPV4 = const(1)
TX_FRAG = const(2)
TX_ECHO = const(4)
TX_UDP = const(8)
TX_UNREACH = const(16)
TX_TCP = const(32)
_TX_NAMES = ("ipv4_tx", "ipv4_frag_tx", "icmp_echo_tx", "udp_tx", "icmp_unreach_tx", "tcp_tx")


def count_tx(ctr, tag):
    """The datagram tagged `tag` went to the driver: move its counters."""
    i = 0
    while tag:
        if tag & 1:
            ctr[_TX_NAMES[i]] += 1
        tag >>= 1
        i += 1


class Ipv4:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.reasm = Reasm(stack)
        self.ident = 1
        # source and destination of the datagram being delivered, filled per
        # datagram (no object per packet): a transport handler or a receive
        # callback may read them until it returns, as lwIP's ip_data.
        self.src = bytearray(4)
        self.dst = bytearray(4)
        self._mcast_mac = bytearray(b"\x01\x00\x5e\x00\x00\x00")

    # --- addresses (as 16-bit halves: small ints on every port) ---------------------
    def bcast16(self, hi, lo):
        """hi:lo is the limited or our subnet broadcast address."""
        st = self.st
        return (hi == 0xFFFF and lo == 0xFFFF) or (st.has_bcast and hi == st.bcast_hi and lo == st.bcast_lo)

    def martian16(self, hi, lo):
        """RFC 1122 3.2.1.3: a source that cannot be a unique host."""
        top = hi >> 8
        return top == 0 or top == 127 or top >= 224 or self.bcast16(hi, lo)

    def is_bcast(self, a, o=0):
        """The 4-byte address at a[o] is a broadcast address."""
        return self.bcast16(be16(a, o), be16(a, o + 2))

    # --- input ------------------------------------------------------------------
    def input(self, p, l2bcast, flags):
        ctr = self.ctr
        st = self.st
        b = p.buf
        o = p.off
        n = p.len
        if n < IPV4_HLEN:
            ctr["ipv4_truncated"] += 1
            pbuf.free(p)
            return
        vihl = b[o]
        if vihl >> 4 != 4:
            ctr["ipv4_bad_version"] += 1
            pbuf.free(p)
            return
        hl = (vihl & 15) << 2
        if hl < IPV4_HLEN or hl > n:
            ctr["ipv4_bad_ihl"] += 1
            pbuf.free(p)
            return
        tl = be16(b, o + 2)
        if tl < hl or tl > p.tot:
            ctr["ipv4_bad_length"] += 1
            pbuf.free(p)
            return
        if not (flags & 1) and sum16(b, o, hl, 0) != 0xFFFF:
            ctr["ipv4_bad_checksum"] += 1
            pbuf.free(p)
            return
        if tl < p.tot:
            pbuf.trim(p, tl)    # Ethernet padding
        if hl > IPV4_HLEN and not _options_ok(b, o + IPV4_HLEN, o + hl):
            ctr["ipv4_bad_options"] += 1
            pbuf.free(p)
            return
        sh = be16(b, o + 12)
        sl = be16(b, o + 14)
        dh = be16(b, o + 16)
        dl = be16(b, o + 18)
        if self.martian16(sh, sl) or (sh == st.ip_hi and sl == st.ip_lo):
            ctr["ipv4_martian_src"] += 1
            pbuf.free(p)
            return
        top = dh >> 8
        if dh == st.ip_hi and dl == st.ip_lo:
            cast = UNICAST
            if l2bcast:
                # RFC 1122 3.3.6: unicast IP inside a link-layer broadcast
                ctr["ipv4_not_for_us"] += 1
                pbuf.free(p)
                return
        elif self.bcast16(dh, dl):
            cast = BROADCAST
        elif dh == 0xE000 and dl == 1:      # 224.0.0.1, joined by every host (RFC 1112)
            cast = MULTICAST
        elif top == 0 or top == 127 or top >= 240:
            ctr["ipv4_martian_dst"] += 1
            pbuf.free(p)
            return
        else:
            ctr["ipv4_not_for_us"] += 1
            pbuf.free(p)
            return
        if l2bcast:
            cast |= LINK_BCAST
        frag = be16(b, o + 6)
        if frag & (MF | OFFMASK):
            p = self.reasm.input(p, hl, tl, frag)
            if p is None:
                return
            b = p.buf
            o = p.off
            hl = (b[o] & 15) << 2
            flags = 0           # no MAC saw the whole datagram: its checksum is ours to check
        ctr["ipv4_rx"] += 1
        copy_field(self.src, 0, b, o + 12, 4)
        copy_field(self.dst, 0, b, o + 16, 4)
        proto = b[o + 9]
        if proto == PROTO_UDP:
            st.udp.input(p, hl, cast, flags)
        elif proto == PROTO_ICMP:
            st.icmp.input(p, hl, cast, flags)
        elif proto == PROTO_TCP and st.tcp is not None:
            st.tcp.input(p, hl, cast, flags)
        else:
            ctr["ipv4_unknown_proto"] += 1
            st.icmp.unreachable(p, 2, cast)   # protocol unreachable (suppressed when not allowed)
            pbuf.free(p)

    # --- output -----------------------------------------------------------------
    def output(self, p, src, dst, proto, ttl=0, tos=0, tag=0):
        """Send transport payload chain p (its transport header first) from src
        to dst (4-byte buffers; src None: ours). Consumes the caller's
        reference. True when handed to the driver or parked for ARP. `tag`:
        the caller's TX_* counters, moved with ipv4_tx when the datagram
        really reaches the driver."""
        st = self.st
        ctr = self.ctr
        if not ttl:
            ttl = config.IP_DEFAULT_TTL
        nexthop = self.route(dst)
        if nexthop is None:
            ctr["ipv4_no_route"] += 1
            pbuf.free(p)
            return False
        if src is None:
            src = st.ip_addr
        ident = self.ident
        self.ident = (ident + 1) & 0xFFFF
        mtu = st.netif.mtu
        if p.tot + IPV4_HLEN <= mtu:
            if not pbuf.header(p, IPV4_HLEN):
                h = pbuf.hdr(pool.H_TX, IPV4_HLEN)
                if h is None:
                    ctr["ipv4_tx_no_buffer"] += 1
                    pbuf.free(p)
                    return False
                p = pbuf.cat(h, p)
            fill_header(p.buf, p.off, p.tot, tos, ident, 0, ttl, proto, src, dst)
            return self._link_out(p, nexthop, dst, TX_IPV4 | tag)
        # fragment: fresh header blocks chained to windows of the payload
        if p.tot + IPV4_HLEN > 65535:
            ctr["ipv4_tx_too_big"] += 1
            pbuf.free(p)
            return False
        step = (mtu - IPV4_HLEN) & ~7
        off = 0
        total = p.tot
        ok = True
        while off < total:
            k = total - off
            last = k <= step
            if not last:
                k = step
            h = pbuf.hdr(pool.H_TX, IPV4_HLEN)
            tail = pbuf.views(p, off, k) if h is not None else None
            if tail is None:
                if h is not None:
                    pbuf.free(h)
                ctr["ipv4_tx_no_buffer"] += 1
                ok = False
                break
            pbuf.cat(h, tail)
            fill_header(h.buf, h.off, h.tot, tos, ident, (off >> 3) | (0 if last else MF), ttl, proto, src, dst)
            # the datagram counts (ipv4_tx and the caller's tag) with its last fragment
            if not self._link_out(h, nexthop, dst, (TX_FRAG | TX_IPV4 | tag) if last else TX_FRAG):
                # a datagram with a hole is no use: send no more of it
                ok = False
                break
            off += k
        pbuf.free(p)
        return ok

    def route(self, dst):
        """Next hop (a 4-byte buffer) for dst: dst itself on-link, broadcast or
        multicast, else the gateway; None if there is none."""
        st = self.st
        dh = be16(dst, 0)
        dl = be16(dst, 2)
        if (dh & st.mask_hi) == st.net_hi and (dl & st.mask_lo) == st.net_lo:
            return dst
        if (dh == 0xFFFF and dl == 0xFFFF) or dh >> 12 == 14:
            return dst
        return st.gw

    def _link_out(self, p, nexthop, dst, tag):
        st = self.st
        if self.is_bcast(nexthop):
            ok = st.netif.output(p, BCAST_MAC, ETHERTYPE_IPV4)
        elif dst[0] >> 4 == 14:
            m = self._mcast_mac
            m[3] = dst[1] & 0x7F
            m[4] = dst[2]
            m[5] = dst[3]
            ok = st.netif.output(p, m, ETHERTYPE_IPV4)
        else:
            return st.arp.output(p, nexthop, tag)
        if ok:
            count_tx(self.ctr, tag)
        return ok


def fill_header(b, o, tl, tos, ident, frag, ttl, proto, src, dst):
    b[o] = 0x45
    b[o + 1] = tos
    put16(b, o + 2, tl)
    put16(b, o + 4, ident)
    put16(b, o + 6, frag)
    b[o + 8] = ttl
    b[o + 9] = proto
    b[o + 10] = 0
    b[o + 11] = 0
    copy_field(b, o + 12, src, 0, 4)
    copy_field(b, o + 16, dst, 0, 4)
    put16(b, o + 10, inet(b, o, IPV4_HLEN))


def _options_ok(b, i, end):
    """Walk the options: EOL ends, NOP is one byte, any other needs a length
    byte of at least 2 that stays inside the header."""
    while i < end:
        t = b[i]
        if t == 0:
            return True
        if t == 1:
            i += 1
            continue
        if i + 1 >= end:
            return False
        ln = b[i + 1]
        if ln < 2 or i + ln > end:
            return False
        i += ln
    return True

