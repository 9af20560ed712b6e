# IPv4 as a host (RFC 791, RFC 1122 3.2.1): full header validation, martian
# filtering, options skipped safely, reassembly (reasm.py), fragmentation on
# output. Never forwards.
from micropython import const

from . import config, pbuf
from .checksum import inet, sum16
from .pool import pool
from .reasm import Reasm
from .wire import (BCAST_MAC, ETH_HLEN, ETHERTYPE_IPV4, IPV4_HLEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP,
                   be16, be32, put16, put32)

ALL_HOSTS = const(0xE0000001)  # 224.0.0.1, joined by every host (RFC 1112)
LIMITED_BCAST = const(0xFFFFFFFF)
MF = const(0x2000)
DF = const(0x4000)
OFFMASK = const(0x1FFF)

# cast of the datagram being processed (st.ip.cast)
UNICAST = const(0)
BROADCAST = const(1)
MULTICAST = const(2)


class Ipv4:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.reasm = Reasm(stack)
        self.ident = 1
        # what input() learned about the datagram being delivered, read by the
        # transport handlers (as lwIP's ip_data): no tuple per packet
        self.src = 0
        self.dst = 0
        self.hlen = 0
        self.cast = UNICAST
        self.l2bcast = 0

    # --- addresses --------------------------------------------------------------
    def is_bcast(self, a):
        st = self.st
        return a == LIMITED_BCAST or (st.mask != LIMITED_BCAST and a == (st.ip_addr | ~st.mask & LIMITED_BCAST))

    def martian_src(self, a):
        """RFC 1122 3.2.1.3: a source that cannot be a unique host."""
        top = a >> 24
        return top == 0 or top == 127 or top >= 224 or self.is_bcast(a)

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
        src = be32(b, o + 12)
        dst = be32(b, o + 16)
        if self.martian_src(src) or src == st.ip_addr:
            ctr["ipv4_martian_src"] += 1
            pbuf.free(p)
            return
        top = dst >> 24
        if dst == st.ip_addr:
            cast = UNICAST
            if l2bcast:
                # RFC 1122 3.3.6: unicast IP inside a link-layer broadcast
                ctr["ipv4_not_for_us"] += 1
                pbuf.free(p)
                return
        elif self.is_bcast(dst):
            cast = BROADCAST
        elif dst == ALL_HOSTS:
            cast = MULTICAST
        elif top == 0 or top == 127 or (top >= 240):
            ctr["ipv4_martian_dst"] += 1
            pbuf.free(p)
            return
        else:
            ctr["ipv4_not_for_us"] += 1
            pbuf.free(p)
            return
        frag = be16(b, o + 6)
        if frag & (MF | OFFMASK):
            p = self.reasm.input(p, hl, tl, frag)
            if p is None:
                return
            b = p.buf
            o = p.off
            hl = (b[o] & 15) << 2
        ctr["ipv4_rx"] += 1
        self.src = src
        self.dst = dst
        self.hlen = hl
        self.cast = cast
        self.l2bcast = l2bcast
        proto = b[o + 9]
        if proto == PROTO_UDP:
            st.udp.input(p)
        elif proto == PROTO_ICMP:
            st.icmp.input(p)
        elif proto == PROTO_TCP and st.tcp is not None:
            st.tcp.input(p)
        else:
            ctr["ipv4_unknown_proto"] += 1
            st.icmp.unreachable(p, 2)   # protocol unreachable (suppressed when not allowed)
            pbuf.free(p)

    # --- output -----------------------------------------------------------------
    def output(self, p, src, dst, proto, ttl=0, tos=0):
        """Send transport payload chain p (its transport header first) from src
        to dst. Consumes the caller's reference. True when handed to ARP/driver."""
        st = self.st
        ctr = self.ctr
        if not ttl:
            ttl = config.IP_DEFAULT_TTL
        nexthop = self.route(dst)
        if nexthop < 0:
            ctr["ipv4_no_route"] += 1
            pbuf.free(p)
            return False
        if src == 0:
            src = st.ip_addr
        ident = self.ident
        self.ident = (ident + 1) & 0xFFFF
        mtu = st.netif.mtu
        if p.tot + IPV4_HLEN <= mtu:
            if not pbuf.header(p, IPV4_HLEN):
                h = pbuf.alloc(pool.H_TX, IPV4_HLEN, ETH_HLEN)
                if h is None:
                    ctr["ipv4_tx_no_buffer"] += 1
                    pbuf.free(p)
                    return False
                p = pbuf.cat(h, p)
            _fill(p.buf, p.off, p.tot, tos, ident, 0, ttl, proto, src, dst)
            if self._link_out(p, nexthop, dst):
                ctr["ipv4_tx"] += 1
                return True
            return False
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
            h = pbuf.alloc(pool.H_TX, IPV4_HLEN, ETH_HLEN)
            tail = _views(p, off, k) if h is not None else None
            if tail is None:
                if h is not None:
                    pbuf.free(h)
                ctr["ipv4_tx_no_buffer"] += 1
                ok = False
                break
            pbuf.cat(h, tail)
            _fill(h.buf, h.off, h.tot, tos, ident, (off >> 3) | (0 if last else MF), ttl, proto, src, dst)
            if self._link_out(h, nexthop, dst):
                ctr["ipv4_frag_tx"] += 1
            else:
                ok = False
            off += k
        if ok:
            ctr["ipv4_tx"] += 1
        pbuf.free(p)
        return ok

    def route(self, dst):
        """Next hop for dst: dst itself on-link, else the gateway; -1 if none."""
        st = self.st
        if dst == LIMITED_BCAST or (dst & st.mask) == (st.ip_addr & st.mask) or dst >> 28 == 14:
            return dst
        return st.gw if st.gw else -1

    def _link_out(self, p, nexthop, dst):
        if nexthop == LIMITED_BCAST or self.is_bcast(nexthop):
            return self.st.netif.output(p, BCAST_MAC, ETHERTYPE_IPV4)
        if dst >> 28 == 14:
            m = bytes((0x01, 0x00, 0x5E, (dst >> 16) & 0x7F, (dst >> 8) & 0xFF, dst & 0xFF))
            return self.st.netif.output(p, m, ETHERTYPE_IPV4)
        return self.st.arp.output(p, nexthop)


def _fill(b, o, tl, tos, ident, frag, ttl, proto, src, dst):
    b[o] = 0x45
    b[o + 1] = tos
    put16(b, o + 2, tl)
    put16(b, o + 4, ident)
    put16(b, o + 6, frag)
    b[o + 8] = ttl
    b[o + 9] = proto
    b[o + 10] = 0
    b[o + 11] = 0
    put32(b, o + 12, src)
    put32(b, o + 16, dst)
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


def _views(p, off, n):
    """A chain of windows onto bytes [off, off+n) of chain p (no copy: each
    window holds a reference on its block)."""
    head = None
    while p is not None and n > 0:
        if off >= p.len:
            off -= p.len
            p = p.next
            continue
        k = p.len - off
        if k > n:
            k = n
        v = pbuf.view(p, p.off + off, k)
        head = v if head is None else pbuf.cat(head, v)
        n -= k
        off = 0
        p = p.next
    return head
