# UDP (RFC 768): checksum (zero accepted on RX), port demultiplexing with
# per-socket queue quotas, port unreachable for closed unicast ports only.
# Datagrams reach their receiver in the block they arrived in.
from micropython import const

from . import config, pbuf
from .checksum import finish, pbuf_sum
from .pool import pool
from .wire import ETH_HLEN, IPV4_HLEN, PROTO_UDP, UDP_HLEN, be16, put16

PORT_UNREACHABLE = const(3)


class Pcb:
    """A bound UDP port. With a callback, each datagram is handed over as a
    pbuf (payload window) together with its source; without one, datagrams
    queue (bounded) for recv()."""

    def __init__(self, udp, port, cb):
        self.udp = udp
        self.port = port
        self.cb = cb
        self.queue = []

    def recv(self):
        """(pbuf, src_ip, src_port) or None. The caller frees the pbuf."""
        if not self.queue:
            return None
        return self.queue.pop(0)

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

    def bind(self, port, cb=None):
        if not 0 < port < 65536:
            raise ValueError("bad port")
        if port in self.pcbs:
            raise OSError(98)   # EADDRINUSE
        pcb = Pcb(self, port, cb)
        self.pcbs[port] = pcb
        return pcb

    def bind_echo(self, port):
        """The echo service (RFC 862) on `port`: each datagram goes back to
        its sender from the block it arrived in (zero copy); one sent to a
        broadcast or multicast address is not answered (no amplification)."""
        st = self.st
        pcb = None

        def echo(p, src, sport):
            if st.ip.cast:
                pbuf.free(p)
            else:
                pcb.sendto(p, src, sport)

        pcb = self.bind(port, echo)
        return pcb

    def input(self, p):
        ctr = self.ctr
        ip = self.st.ip
        hl = ip.hlen
        n = p.tot - hl
        if n < UDP_HLEN or p.len < hl + UDP_HLEN:
            ctr["udp_truncated"] += 1
            pbuf.free(p)
            return
        b = p.buf
        o = p.off + hl
        ulen = be16(b, o + 4)
        if ulen != n:
            ctr["udp_bad_length"] += 1
            pbuf.free(p)
            return
        src = ip.src
        if be16(b, o + 6) and pbuf_sum(p, hl, n, _pseudo(src, ip.dst, n)) != 0xFFFF:
            ctr["udp_bad_checksum"] += 1
            pbuf.free(p)
            return
        pcb = self.pcbs.get(be16(b, o + 2))
        if pcb is None:
            ctr["udp_no_port"] += 1
            if ip.cast == 0:
                self.st.icmp.unreachable(p, PORT_UNREACHABLE)
            pbuf.free(p)
            return
        sport = be16(b, o)
        pbuf.header(p, -(hl + UDP_HLEN))
        if pcb.cb is not None:
            ctr["udp_rx"] += 1
            pcb.cb(p, src, sport)
            return
        if len(pcb.queue) >= config.UDP_QUEUE_DATAGRAMS or not pbuf.charge(p, pool.H_UDP):
            ctr["udp_queue_full"] += 1
            pbuf.free(p)
            return
        ctr["udp_rx"] += 1
        pcb.queue.append((p, src, sport))

    def sendto(self, p, sport, dst, dport, src=0):
        """Send payload chain p. Consumes the caller's reference."""
        st = self.st
        if not pbuf.header(p, UDP_HLEN):
            h = pbuf.alloc(pool.H_TX, UDP_HLEN, ETH_HLEN + IPV4_HLEN)
            if h is None:
                self.ctr["ipv4_tx_no_buffer"] += 1
                pbuf.free(p)
                return False
            p = pbuf.cat(h, p)
        if not src:
            src = st.ip_addr
        n = p.tot
        if n > 65535 - IPV4_HLEN:
            self.ctr["ipv4_tx_too_big"] += 1
            pbuf.free(p)
            return False
        b = p.buf
        o = p.off
        put16(b, o, sport)
        put16(b, o + 2, dport)
        put16(b, o + 4, n)
        put16(b, o + 6, 0)
        c = finish(pbuf_sum(p, 0, n, _pseudo(src, dst, n)))
        put16(b, o + 6, c if c else 0xFFFF)
        if st.ip.output(p, src, dst, PROTO_UDP):
            self.ctr["udp_tx"] += 1
            return True
        return False

    def flush(self):
        for port in list(self.pcbs):
            self.pcbs[port].close()


def _pseudo(src, dst, n):
    return (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + PROTO_UDP + n
