# ICMP for a host (RFC 792, RFC 1122 3.2.2): echo replies made in place from
# the request's own block (zero copy), destination unreachable and reassembly
# time exceeded quoting only bytes that arrived (a window onto the offending
# datagram, not a copy), errors rate limited and never sent about broadcast,
# multicast, non-initial fragments or other ICMP errors.
from micropython import const

from . import config, pbuf
from .checksum import finish, pbuf_sum
from .pool import pool
from .wire import ETH_HLEN, ICMP_HLEN, IPV4_HLEN, PROTO_ICMP, be16, be32, put16

ECHO_REPLY = const(0)
UNREACH = const(3)
ECHO = const(8)
TIME_EXCEEDED = const(11)
# error types (RFC 1122 3.2.2): never answered with an error
_ERRORS = (3, 4, 5, 11, 12)


class Icmp:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.tokens = config.ICMP_ERR_BURST
        self.tokens_at = stack.now

    def input(self, p):
        ctr = self.ctr
        ip = self.st.ip
        hl = ip.hlen
        n = p.tot - hl
        if n < ICMP_HLEN or p.len < hl + ICMP_HLEN:
            ctr["icmp_truncated"] += 1
            pbuf.free(p)
            return
        if pbuf_sum(p, hl, n, 0) != 0xFFFF:
            ctr["icmp_bad_checksum"] += 1
            pbuf.free(p)
            return
        b = p.buf
        o = p.off + hl
        t = b[o]
        if t == ECHO:
            ctr["icmp_echo_rx"] += 1
            if ip.cast or ip.l2bcast:
                # RFC 1122 3.2.2.6 allows it; we don't (smurf amplification)
                ctr["icmp_echo_bcast"] += 1
                pbuf.free(p)
                return
            self._echo_reply(p, hl)
        elif t in _ERRORS:
            ctr["icmp_error_rx"] += 1
            pbuf.free(p)
        else:
            ctr["icmp_other"] += 1
            pbuf.free(p)

    def _echo_reply(self, p, hl):
        st = self.st
        ip = st.ip
        src = ip.src
        b = p.buf
        o = p.off + hl
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
            c = finish(pbuf_sum(p, hl, p.tot - hl, 0))
        put16(b, o + 2, c)
        pbuf.header(p, -hl)
        if ip.output(p, st.ip_addr, src, PROTO_ICMP):
            self.ctr["icmp_echo_tx"] += 1

    # --- errors -------------------------------------------------------------------
    def _may_send_error(self, p):
        """RFC 1122 3.2.2 rules, for the datagram p (its IP header first)."""
        ip = self.st.ip
        b = p.buf
        o = p.off
        hl = (b[o] & 15) << 2
        dst = be32(b, o + 16)
        src = be32(b, o + 12)
        if ip.is_bcast(dst) or dst >> 28 == 14 or ip.l2bcast or ip.martian_src(src):
            return False
        if be16(b, o + 6) & 0x1FFF:
            return False
        if b[o + 9] == PROTO_ICMP and p.tot >= hl + 1 and (p.len <= hl or b[o + hl] in _ERRORS):
            return False
        return True

    def _rate_ok(self):
        now = self.st.now
        rate = config.ICMP_ERR_RATE_PER_S
        gained = (now - self.tokens_at) * rate // 1000
        if gained > 0:
            self.tokens = min(config.ICMP_ERR_BURST, self.tokens + gained)
            self.tokens_at += gained * 1000 // rate
        if self.tokens <= 0:
            return False
        self.tokens -= 1
        return True

    def send_error(self, p, typ, code):
        """Send an ICMP error about datagram p (IP header first; p is not
        consumed). The quote is a window onto p: only bytes that arrived."""
        ctr = self.ctr
        if not self._may_send_error(p):
            ctr["icmp_err_suppressed"] += 1
            return False
        if not self._rate_ok():
            ctr["icmp_rate_limited"] += 1
            return False
        st = self.st
        h = pbuf.alloc(pool.H_TX, ICMP_HLEN, ETH_HLEN + IPV4_HLEN)
        if h is None:
            ctr["ipv4_tx_no_buffer"] += 1
            return False
        quote = p.tot
        if quote > config.ICMP_ERR_QUOTE_MAX_BYTES:
            quote = config.ICMP_ERR_QUOTE_MAX_BYTES
        if quote > p.len:       # keep the quote to one window (the first block)
            quote = p.len
        pbuf.cat(h, pbuf.view(p, p.off, quote))
        b = h.buf
        o = h.off
        b[o] = typ
        b[o + 1] = code
        for i in range(2, 8):
            b[o + i] = 0
        put16(b, o + 2, finish(pbuf_sum(h, 0, h.tot, 0)))
        dst = be32(p.buf, p.off + 12)
        return st.ip.output(h, st.ip_addr, dst, PROTO_ICMP)

    def unreachable(self, p, code):
        if self.send_error(p, UNREACH, code):
            self.ctr["icmp_unreach_tx"] += 1

    def time_exceeded_reasm(self, p):
        self.send_error(p, TIME_EXCEEDED, 1)
