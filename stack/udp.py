# UDP (RFC 768): checksum (zero accepted on RX), port demultiplexing with
# per-socket queue quotas, port unreachable for closed unicast ports only.
# Datagrams reach their receiver in the block they arrived in.
from micropython import const

from . import config, pbuf
from .checksum import finish, pbuf_sum, sum16
from .ipv4 import TX_UDP
from .pool import pool
from .wire import IPV4_HLEN, PROTO_UDP, UDP_HLEN, be16, copy_field, ip_parse, is_addr, put16

PORT_UNREACHABLE = const(3)
EAGAIN = const(11)
EMSGSIZE = const(90)
ENOBUFS = const(105)
EHOSTUNREACH = const(113)


class Pcb:
    """A bound UDP port. With a callback, each datagram is handed over as
    cb(p, src, sport, cast): p a pbuf (payload window) the callback must
    free or pass on, src the sender's address (a 4-byte buffer valid during
    the call only: copy it to keep it), cast how it was addressed
    (ipv4.BROADCAST/MULTICAST/LINK_BCAST bits, 0 for unicast to us).
    Without one, datagrams queue (bounded) for recv().
    ICMP errors about datagrams this port sent (RFC 1122 4.1.3.3) go to
    err_cb(type, code, dst, dport) (dst valid during the call only) or, without
    one, into the last-error slot `err` = (type, code, dst bytes, dport)."""

    def __init__(self, udp, port, cb, err_cb=None):
        self.udp = udp
        self.port = port
        self.cb = cb
        self.err_cb = err_cb
        self.err = None
        self.queue = []

    def recv(self):
        """(pbuf, src_ip bytes(4), src_port) or None. The caller frees the pbuf."""
        if not self.queue:
            return None
        return self.queue.pop(0)

    def take_error(self):
        """The last ICMP error reported for this port (and clear it), or None."""
        e = self.err
        self.err = None
        return e

    def sendto(self, p, dst, dport):
        return self.udp.sendto(p, self.port, dst, dport)

    def close(self):
        for item in self.queue:
            pbuf.free(item[0])
        self.queue = []
        self.udp.pcbs.pop(self.port, None)


class Udp:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.pcbs = {}
        self._err_dst = bytearray(4)

    def bind(self, port, cb=None, err_cb=None):
        if not 0 < port < 65536:
            raise ValueError("bad port")
        if port in self.pcbs:
            raise OSError(98)   # EADDRINUSE
        pcb = Pcb(self, port, cb, err_cb)
        self.pcbs[port] = pcb
        return pcb

    def bind_echo(self, port):
        """The echo service (RFC 862) on `port`: each datagram goes back to
        its sender from the block it arrived in (zero copy); one sent to a
        broadcast or multicast address is not answered (no amplification)."""
        pcb = None

        def echo(p, src, sport, cast):
            if cast or pcb.sendto(p, src, sport) == EAGAIN:
                pbuf.free(p)    # a reply the ring has no room for: dropped, counted

        pcb = self.bind(port, echo)
        return pcb

    def input(self, p, hl, cast, flags):
        """A UDP datagram (p from its IP header, hl bytes long); cast: how it
        was addressed (ipv4.BROADCAST/MULTICAST/LINK_BCAST bits)."""
        ctr = self.ctr
        n = p.tot - hl
        if n < UDP_HLEN or p.len < hl + UDP_HLEN:
            ctr["udp_truncated"] += 1
            pbuf.free(p)
            return
        b = p.buf
        o = p.off + hl
        ulen = be16(b, o + 4)
        if ulen < UDP_HLEN or ulen > n:
            ctr["udp_bad_length"] += 1
            pbuf.free(p)
            return
        if ulen < n:
            # bytes after the UDP length are not the datagram's (as Linux does)
            pbuf.trim(p, hl + ulen)
            flags = 0       # a MAC's verdict covered the whole IP payload, not these bytes
        # pseudo header: both addresses straight from the IP header
        if not (flags & 1) and be16(b, o + 6) and \
                pbuf_sum(p, hl, ulen, sum16(b, p.off + 12, 8, PROTO_UDP + ulen)) != 0xFFFF:
            ctr["udp_bad_checksum"] += 1
            pbuf.free(p)
            return
        pcb = self.pcbs.get(be16(b, o + 2))
        if pcb is None:
            ctr["udp_no_port"] += 1
            if cast == 0:
                self.st.icmp.unreachable(p, PORT_UNREACHABLE, cast)
            pbuf.free(p)
            return
        sport = be16(b, o)
        pbuf.header(p, -(hl + UDP_HLEN))
        if pcb.cb is not None:
            ctr["udp_rx"] += 1
            pcb.cb(p, self.st.ip.src, sport, cast)
            return
        if len(pcb.queue) >= config.UDP_QUEUE_DATAGRAMS or not pbuf.charge(p, pool.H_UDP):
            ctr["udp_queue_full"] += 1
            pbuf.free(p)
            return
        ctr["udp_rx"] += 1
        pcb.queue.append((p, bytes(self.st.ip.src), sport))

    def icmp_error(self, b, qo, qhl, typ, code):
        """An ICMP error quoting a datagram we sent: b[qo] its IP header (qhl
        bytes), then at least 8 bytes of its UDP header (icmp checked)."""
        ctr = self.ctr
        o = qo + qhl
        pcb = self.pcbs.get(be16(b, o))
        if pcb is None:
            ctr["udp_err_no_port"] += 1
            return
        ctr["udp_err_rx"] += 1
        dst = self._err_dst
        copy_field(dst, 0, b, qo + 16, 4)
        dport = be16(b, o + 2)
        if pcb.err_cb is not None:
            pcb.err_cb(typ, code, dst, dport)
        else:
            pcb.err = (typ, code, bytes(dst), dport)

    def sendto(self, p, sport, dst, dport, src=None):
        """Send payload chain p to dst ("a.b.c.d" or a 4-byte buffer, read
        before this returns). Returns 0 when the datagram was handed to the
        driver or parked for ARP, or an errno:
          EAGAIN  the TX ring cannot take it now: nothing was done and p is
                  still the caller's, to send again once the stack has polled
                  (back-pressure: no data is lost);
          EMSGSIZE, EHOSTUNREACH, ENOBUFS  dropped and counted.
        In every case but EAGAIN the caller's reference to p is consumed.
        To learn when the driver is done with an external buffer, send it as
        pbuf.rom(obj, done=f) / pbuf.ref_buf(obj, done=f)."""
        st = self.st
        if isinstance(dst, str):
            dst = ip_parse(dst)
        if not is_addr(dst) or (src is not None and not is_addr(src)):
            pbuf.free(p)
            raise ValueError("an IPv4 address is a 4-byte buffer or \"a.b.c.d\"")
        n = p.tot + UDP_HLEN
        if n > 65535 - IPV4_HLEN:
            self.ctr["ipv4_tx_too_big"] += 1
            pbuf.free(p)
            return EMSGSIZE
        if st.ip.route(dst) is None:
            self.ctr["ipv4_no_route"] += 1
            pbuf.free(p)
            return EHOSTUNREACH
        # back-pressure: the frames this datagram needs (as many as the ring
        # holds at most: a longer datagram goes out while the MAC drains)
        mtu = st.netif.mtu
        frames = 1 if n + IPV4_HLEN <= mtu else (n + ((mtu - IPV4_HLEN) & ~7) - 1) // ((mtu - IPV4_HLEN) & ~7)
        netif = st.netif
        if frames > netif.tx_cap:
            frames = netif.tx_cap
        if netif.tx_room() < frames:
            self.ctr["udp_tx_eagain"] += 1
            return EAGAIN
        if not pbuf.header(p, UDP_HLEN):
            h = pbuf.hdr(pool.H_TX, UDP_HLEN)
            if h is None:
                self.ctr["ipv4_tx_no_buffer"] += 1
                pbuf.free(p)
                return ENOBUFS
            p = pbuf.cat(h, p)
        if src is None:
            src = st.ip_addr
        b = p.buf
        o = p.off
        put16(b, o, sport)
        put16(b, o + 2, dport)
        put16(b, o + 4, n)
        put16(b, o + 6, 0)
        c = finish(pbuf_sum(p, 0, n, sum16(src, 0, 4, sum16(dst, 0, 4, PROTO_UDP + n))))
        put16(b, o + 6, c if c else 0xFFFF)
        return 0 if st.ip.output(p, src, dst, PROTO_UDP, tag=TX_UDP) else ENOBUFS

    def flush(self):
        for port in list(self.pcbs):
            self.pcbs[port].close()
