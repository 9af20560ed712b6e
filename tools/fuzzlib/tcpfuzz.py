"""Stateful TCP fuzzing: a real handshake with one of the stack's TCP
services (echo 7, discard 9, source 19) from a fuzz peer's address (nobody
on the host owns it, so Linux never answers with resets of its own), then
segments inside the live connection, valid ones mixed with mutated ones:
sequence and acknowledgment numbers at the window's edges and beyond,
windows (zero, one, huge), flag combinations, options (broken lengths,
timestamps going back, SACK blocks outside anything sent), urgent data
with pointers at and past the end, overlapping retransmissions with
different bytes. The session ends with a RST at the stack's RCV.NXT (the
last acknowledgment it sent), so nothing lingers.
"""
import struct
import time

from . import pkt
from .pkt import ACK, FIN, PSH, RST, SYN, URG, M32

SYNACK_TIMEOUT_S = 0.5


def sadd(a, b):
    return (a + b) & M32


def sdiff(a, b):
    d = (a - b) & M32
    return d - (1 << 32) if d >= 1 << 31 else d


class Session:
    def __init__(self, wire, net, gen, dport):
        r = gen.r
        self.w = wire
        self.n = net
        self.g = gen
        self.r = r
        self.ip, self.mac = r.choice(net.peers)
        self.sport = r.randrange(20000, 60000)
        self.dport = dport
        self.iss = r.getrandbits(32)
        self.snd_nxt = self.iss
        self.rcv_nxt = None
        self.stack_ack = None       # the last ACK the stack sent: its RCV.NXT
        self.stack_wnd = 0
        self.cursor = wire.mark()
        self.segs = 0
        self.closed = None

    def seg(self, seq, ack, flags, data=b"", win=65535, options=b"", urg=0, doff=None):
        return pkt.eth(self.n.stack_mac, self.mac, pkt.ETH_IP,
                       pkt.ipv4(self.ip, self.n.stack_ip, pkt.PROTO_TCP,
                                pkt.tcp(self.ip, self.n.stack_ip, self.sport, self.dport, seq, ack,
                                        flags, win, data, options, urg, doff),
                                ident=self.g.next_ident()))

    def send(self, frame):
        self.segs += 1
        self.w.send(frame)

    def read(self):
        """Take the stack's segments of this connection: acknowledge
        in-order data (keeps the echo moving), note its ACK and window."""
        self.cursor, frames = self.w.since(self.cursor)
        got = 0
        for f in frames:
            if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != pkt.PROTO_TCP:
                continue
            ihl = (f[14] & 15) * 4
            t = 14 + ihl
            sport, dport, seq, ack, off, flags, win = struct.unpack_from("!HHIIBBH", f, t)
            if sport != self.dport or dport != self.sport or f[30:34] != self.ip:
                continue
            got += 1
            if flags & RST:
                self.rcv_nxt = None
                continue
            if flags & ACK:
                self.stack_ack = ack
                self.stack_wnd = win
            tl = struct.unpack_from("!H", f, 16)[0]
            n = tl - ihl - (off >> 4) * 4 + (1 if flags & (SYN | FIN) else 0)
            if self.rcv_nxt is not None and n > 0 and sdiff(sadd(seq, n), self.rcv_nxt) > 0:
                self.rcv_nxt = sadd(seq, n)
        return got

    def open(self):
        r = self.r
        opts = struct.pack("!BBH", 2, 4, 1460)
        if r.random() < 0.5:
            opts += b"\x01\x03\x03" + bytes([r.choice((0, 7, 14))])
        if r.random() < 0.5:
            opts += b"\x04\x02\x08\x0a" + struct.pack("!II", r.getrandbits(32), 0)
        opts += b"\x00" * ((4 - len(opts) % 4) % 4)
        self.send(self.seg(self.iss, 0, SYN, options=opts))
        self.snd_nxt = sadd(self.iss, 1)
        deadline = time.monotonic() + SYNACK_TIMEOUT_S
        while time.monotonic() < deadline:
            self.cursor, frames = self.w.since(self.cursor)
            for f in frames:
                if len(f) < 54 or f[23] != pkt.PROTO_TCP or f[30:34] != self.ip:
                    continue
                t = 14 + (f[14] & 15) * 4
                sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", f, t)
                if sport == self.dport and dport == self.sport and flags & (SYN | ACK) == SYN | ACK \
                        and ack == self.snd_nxt:
                    self.rcv_nxt = sadd(seq, 1)
                    self.irs = seq
                    self.send(self.seg(self.snd_nxt, self.rcv_nxt, ACK))
                    return True
            time.sleep(0.002)
        return False

    def data(self, n):
        return bytes(self.r.getrandbits(8) for _ in range(n)) if self.r.random() < 0.3 else \
            bytes([65 + self.r.randrange(26)]) * n

    def step(self):
        """One segment inside the connection: valid (advancing) or mutated."""
        r = self.r
        rn = self.rcv_nxt if self.rcv_nxt is not None else 0
        k = r.randrange(14)
        if k < 4:                               # valid data (echo: comes back)
            d = self.data(r.choice((1, 10, 100, 536, 1460)))
            self.send(self.seg(self.snd_nxt, rn, PSH | ACK, d))
            self.snd_nxt = sadd(self.snd_nxt, len(d))
        elif k == 4:                            # sequence edges
            off = r.choice((-1, -65535, -(1 << 31), 1 << 31, 65535, 65536, 1 << 30, 1, 16 * 1460,
                            16 * 1460 + 1))
            self.send(self.seg(sadd(self.snd_nxt, off), rn, PSH | ACK, self.data(r.choice((1, 100, 1460)))))
        elif k == 5:                            # ack edges
            off = r.choice((-1, 1, 100000, -100000, 1 << 31, -(1 << 31) + 1, 0x7FFFFFFF))
            self.send(self.seg(self.snd_nxt, sadd(rn, off), r.choice((ACK, PSH | ACK)),
                               self.data(r.choice((0, 10)))))
        elif k == 6:                            # windows
            self.send(self.seg(self.snd_nxt, rn, ACK, win=r.choice((0, 0, 1, 2, 65535))))
        elif k == 7:                            # flags
            fl = r.choice((SYN, SYN | ACK, FIN, FIN | ACK, RST | ACK, 0, 0xFF, URG, PSH, SYN | FIN,
                           SYN | RST, FIN | RST | ACK, 0x40 | ACK, 0x80 | ACK))
            seq = sadd(self.snd_nxt, r.choice((0, 0, 1, 100, -1)))
            self.send(self.seg(seq, rn, fl, self.data(r.choice((0, 0, 5)))))
            if fl & RST and seq == self.snd_nxt:
                return False
        elif k == 8:                            # options inside the connection
            opts = self.g.tcp_options()
            d = self.data(r.choice((0, 10, 100)))
            self.send(self.seg(self.snd_nxt, rn, PSH | ACK, d, options=opts))
            self.snd_nxt = sadd(self.snd_nxt, len(d))   # may or may not be taken (doff games)
        elif k == 9:                            # urgent data, pointer edges
            d = self.data(r.choice((1, 10, 100)))
            urg = r.choice((0, 1, len(d), len(d) + 1, 0xFFFF, 0x8000))
            self.send(self.seg(self.snd_nxt, rn, URG | PSH | ACK, d, urg=urg))
            self.snd_nxt = sadd(self.snd_nxt, len(d))
        elif k == 10:                           # overlapping retransmission, different bytes
            back = r.choice((1, 10, 500, 1460))
            d = self.data(back + r.choice((0, 5, 50)))
            self.send(self.seg(sadd(self.snd_nxt, -back), rn, PSH | ACK, d))
            self.snd_nxt = sadd(self.snd_nxt, len(d) - back)
        elif k == 11:                           # out of order ahead, then the gap
            gap = r.choice((1, 100, 1460))
            d1 = self.data(r.choice((10, 500)))
            self.send(self.seg(sadd(self.snd_nxt, gap), rn, PSH | ACK, d1))
            if r.random() < 0.7:
                d0 = self.data(gap)
                self.send(self.seg(self.snd_nxt, rn, PSH | ACK, d0))
                self.snd_nxt = sadd(self.snd_nxt, gap + len(d1))
        elif k == 12:                           # a mutated header field
            b = bytearray(self.seg(self.snd_nxt, rn, PSH | ACK, self.data(20)))
            self.g.mutate_fields(b, 34, {"seq": (4, 4), "ack": (8, 4), "doff": (12, 1), "flags": (13, 1),
                                         "win": (14, 2), "urg": (18, 2)}, 1)
            self.send(self.g.finish(b, 0.95))
        else:                                   # pure ACK of what we got (keeps the echo going)
            self.send(self.seg(self.snd_nxt, rn, ACK))
        return True

    def run(self, nsegs):
        """The handshake, then up to nsegs segments; False when no SYN-ACK came."""
        if not self.open():
            return False
        for _ in range(nsegs):
            self.read()
            if self.rcv_nxt is None:
                break
            if not self.step():
                break
            if self.r.random() < 0.1:
                time.sleep(0.001)
                self.read()
                if self.rcv_nxt is not None:
                    self.send(self.seg(self.snd_nxt, self.rcv_nxt, ACK))
        self.closed = self.close()
        return True

    def probe_ack(self, timeout=0.05):
        """The stack's RCV.NXT now: a segment far outside its window earns
        an immediate ACK (RFC 9293 3.10.7.4, not rate limited), sent after
        everything before it was processed. None when nothing came (or a
        RST: the connection is gone)."""
        mark = self.w.mark()
        self.send(self.seg(sadd(self.snd_nxt, 0x40000000), self.rcv_nxt or 0, ACK))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mark, frames = self.w.since(mark)
            for f in frames:
                if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != pkt.PROTO_TCP \
                        or f[30:34] != self.ip:
                    continue
                t = 14 + (f[14] & 15) * 4
                sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", f, t)
                if sport != self.dport or dport != self.sport:
                    continue
                if flags & RST:
                    return None
                if flags & ACK:
                    return ack
            time.sleep(0.0005)
        return None

    def close(self):
        """RST exactly at the stack's RCV.NXT (RFC 5961 accepts no other),
        learnt from the ACK a probe draws; until the probe draws no ACK
        (the connection is gone), at most three rounds. A connection left
        behind is idle: the pool oracle does not mind, TCP_MAX_PCBS might."""
        for _ in range(3):
            at = self.probe_ack()
            if at is None:
                return True
            self.send(self.seg(at, 0, RST))
        return False
