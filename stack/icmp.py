# ICMP for a host (RFC 792, RFC 1122 3.2.2): echo replies made in place from
# the request's own block (zero copy), destination unreachable and reassembly
# time exceeded quoting only bytes that arrived (a window onto the offending
# datagram, not a copy), errors rate limited and never sent about broadcast,
# multicast, non-initial fragments or other ICMP errors.
from micropython import const

from . import config, pbuf
from .checksum import finish, pbuf_sum
from .pool import pool
from .ipv4 import LINK_BCAST, TX_ECHO, TX_UNREACH
from .wire import (ICMP_HLEN, IPV4_HLEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP, be16, copy_field,
                   put16, ticks_add, ticks_diff)

ECHO_REPLY = const(0)
UNREACH = const(3)
ECHO = const(8)
TIME_EXCEEDED = const(11)
SOURCE_QUENCH = const(4)
REDIRECT = const(5)
# error types (RFC 1122 3.2.2): never answered with an error
_ERRORS = (3, 4, 5, 11, 12)


class Icmp:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.tokens = config.ICMP_ERR_BURST
        self.tokens_at = stack.now
        self._err_dst = bytearray(4)   # where an error goes (no object per error)

    def input(self, p, hl, cast, flags):
        """An ICMP message (p from its IP header, hl bytes long); cast: how the
        datagram was addressed (ipv4.BROADCAST/MULTICAST/LINK_BCAST bits)."""
        ctr = self.ctr
        n = p.tot - hl
        if n < ICMP_HLEN or p.len < hl + ICMP_HLEN:
            ctr["icmp_truncated"] += 1
            pbuf.free(p)
            return
        if not (flags & 1) and pbuf_sum(p, hl, n, 0) != 0xFFFF:
            ctr["icmp_bad_checksum"] += 1
            pbuf.free(p)
            return
        b = p.buf
        o = p.off + hl
        t = b[o]
        if t == ECHO:
            ctr["icmp_echo_rx"] += 1
            if cast:
                # RFC 1122 3.2.2.6 allows it; we don't (smurf amplification)
                ctr["icmp_echo_bcast"] += 1
                pbuf.free(p)
                return
            self._echo_reply(p, hl)
        elif t in _ERRORS:
            ctr["icmp_error_rx"] += 1
            self._error_in(p, hl, t)
            pbuf.free(p)
        else:
            ctr["icmp_other"] += 1
            pbuf.free(p)

    def _error_in(self, p, hl, t):
        """An ICMP error reaches the transport that sent the datagram it quotes
        (RFC 1122 3.2.2.1, 4.1.3.3). The quote (IP header and 8 bytes) must lie
        in the first window; anything short or malformed is a counted drop.
        p is not consumed."""
        ctr = self.ctr
        st = self.st
        if t == REDIRECT or t == SOURCE_QUENCH:
            # a host with one route has nothing to redirect; source quench is
            # deprecated (RFC 6633)
            ctr["icmp_error_ignored"] += 1
            return
        b = p.buf
        qo = p.off + hl + ICMP_HLEN         # the quoted IP header
        have = p.len - hl - ICMP_HLEN
        if have < IPV4_HLEN or b[qo] >> 4 != 4:
            ctr["icmp_error_bad_quote"] += 1
            return
        qhl = (b[qo] & 15) << 2
        if qhl < IPV4_HLEN or have < qhl + 8:
            ctr["icmp_error_bad_quote"] += 1
            return
        if be16(b, qo + 12) != st.ip_hi or be16(b, qo + 14) != st.ip_lo:
            ctr["icmp_error_not_ours"] += 1
            return
        code = b[p.off + hl + 1]
        proto = b[qo + 9]
        if proto == PROTO_UDP:
            st.udp.icmp_error(b, qo, qhl, t, code)
        elif proto == PROTO_TCP and st.tcp is not None and hasattr(st.tcp, "icmp_error"):
            st.tcp.icmp_error(b, qo, qhl, t, code)
        else:
            ctr["icmp_error_unhandled"] += 1

    def _echo_reply(self, p, hl):
        st = self.st
        src = st.ip.src
        pbuf.header(p, -hl)
        # the reply is written over the request: through the one write guard
        # (the request's block itself unless someone else can see it)
        p = pbuf.writable_or_clone(p, ICMP_HLEN, pool.H_TX)
        if p is None:
            self.ctr["ipv4_tx_no_buffer"] += 1
            return
        b = p.buf
        o = p.off
        # type 8 -> 0: RFC 1624 incremental update of the checksum
        old = (b[o] << 8) | b[o + 1]
        b[o] = ECHO_REPLY
        new = b[o + 1]
        s = (~be16(b, o + 2) & 0xFFFF) + (~old & 0xFFFF) + new
        c = finish(s)
        if c == 0:
            # the update cannot tell 0x0000 from 0xFFFF (an all-zero reply
            # needs 0xFFFF): rare, so sum the message again
            put16(b, o + 2, 0)
            c = finish(pbuf_sum(p, 0, p.tot, 0))
        put16(b, o + 2, c)
        st.ip.output(p, st.ip_addr, src, PROTO_ICMP, tag=TX_ECHO)

    # --- errors -------------------------------------------------------------------
    def _may_send_error(self, p, cast):
        """RFC 1122 3.2.2 rules, for the datagram p (its IP header first)."""
        ip = self.st.ip
        b = p.buf
        o = p.off
        hl = (b[o] & 15) << 2
        dh = be16(b, o + 16)
        if (cast & LINK_BCAST or ip.bcast16(dh, be16(b, o + 18)) or dh >> 12 == 14
                or ip.martian16(be16(b, o + 12), be16(b, o + 14))):
            return False
        if be16(b, o + 6) & 0x1FFF:
            return False
        if b[o + 9] == PROTO_ICMP and p.tot >= hl + 1 and (p.len <= hl or b[o + hl] in _ERRORS):
            return False
        return True

    def _rate_ok(self):
        now = self.st.now
        rate = config.ICMP_ERR_RATE_PER_S
        burst = config.ICMP_ERR_BURST
        d = ticks_diff(now, self.tokens_at)
        if d < 0 or d >= burst * 1000 // rate:
            # a full bucket (also after an idle spell long enough to wrap the
            # difference); d * rate stays a small int below
            self.tokens = burst
            self.tokens_at = now
        else:
            gained = d * rate // 1000
            if gained > 0:
                self.tokens = min(burst, self.tokens + gained)
                self.tokens_at = ticks_add(self.tokens_at, gained * 1000 // rate)
        if self.tokens <= 0:
            return False
        self.tokens -= 1
        return True

    def send_error(self, p, typ, code, cast=0, tag=0):
        """Send an ICMP error about datagram p (IP header first; p is not
        consumed). The quote is a window onto p: only bytes that arrived."""
        ctr = self.ctr
        if not self._may_send_error(p, cast):
            ctr["icmp_err_suppressed"] += 1
            return False
        if not self._rate_ok():
            ctr["icmp_rate_limited"] += 1
            return False
        st = self.st
        quote = p.tot
        if quote > config.ICMP_ERR_QUOTE_MAX_BYTES:
            quote = config.ICMP_ERR_QUOTE_MAX_BYTES
        if quote > p.len:       # keep the quote to one window (the first block)
            quote = p.len
        h = pbuf.hdr(pool.H_TX, ICMP_HLEN)
        v = pbuf.view(p, p.off, quote) if h is not None else None
        if v is None:
            if h is not None:
                pbuf.free(h)
            ctr["ipv4_tx_no_buffer"] += 1
            return False
        pbuf.cat(h, v)
        b = h.buf
        o = h.off
        b[o] = typ
        b[o + 1] = code
        for i in range(2, 8):
            b[o + i] = 0
        put16(b, o + 2, finish(pbuf_sum(h, 0, h.tot, 0)))
        dst = self._err_dst
        copy_field(dst, 0, p.buf, p.off + 12, 4)
        return st.ip.output(h, st.ip_addr, dst, PROTO_ICMP, tag=tag)

    def unreachable(self, p, code, cast=0):
        self.send_error(p, UNREACH, code, cast, TX_UNREACH)

    def time_exceeded_reasm(self, p):
        self.send_error(p, TIME_EXCEEDED, 1)
