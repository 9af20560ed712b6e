"""A scripted TCP peer for the black-box suite: segments crafted byte by byte
and sent from an address the host kernel does not own (PEER_IP, PEER_MAC),
so Linux never answers the stack's segments with resets of its own; what the
stack sends back is captured on the host side of zc0 (bb_frames.Wire, a raw
AF_PACKET socket in the test's namespace) and parsed here.

    peer = Peer(stack)                  # primes ARP: the stack caches PEER_MAC
    c = peer.conn(7)                    # a connection to the stack's port 7
    synack = c.open()                   # SYN, SYN-ACK, ACK
    c.send(b"hi")                       # data at SND.NXT (advances it)
    c.pump(lambda: len(c.rcvd) >= 2)    # read (and acknowledge) what comes back
    seg = c.expect(lambda s: s.flags & ACK, 2.0)   # the next matching segment
    c.reset()                           # RST at SND.NXT: the connection is gone
    peer.close()

Sequence numbers are plain ints mod 2^32 here (the host side is CPython).
"""
import random
import struct
import time

from bb_frames import (BCAST_MAC, ETH_ARP, ETH_IP, STACK_IP, TAP, ZERO_MAC, Wire, arp, csum,
                       eth, ip4, ipv4, mac)

PEER_IP = "198.51.100.77"
PEER_MAC = "02:00:00:00:00:77"
PROTO_TCP = 6

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20

M32 = 0xFFFFFFFF


def mss_opt(v=1460):
    return struct.pack("!BBH", 2, 4, v)


def sadd(a, b):
    return (a + b) & M32


def sdiff(a, b):
    """a - b as a signed 32-bit value."""
    d = (a - b) & M32
    return d - (1 << 32) if d >= 1 << 31 else d


def tcp_segment(src, dst, sport, dport, seq, ack, flags, win=65535, data=b"", options=b"",
                doff=None, urg=0, cksum=None):
    """A TCP segment (bytes) with a right checksum unless one is given; doff
    in 32-bit words (default: header + options, which must pad to 4)."""
    hl = 20 + len(options)
    if doff is None:
        assert hl % 4 == 0, "options must pad to 32 bits"
        doff = hl // 4
    h = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq & M32, ack & M32, (doff & 15) << 4,
                              flags, win, 0, urg) + bytes(options))
    seg = bytes(h) + bytes(data)
    if cksum is None:
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, PROTO_TCP, len(seg))
        cksum = csum(pseudo + seg)
    return seg[:16] + struct.pack("!H", cksum) + seg[18:]


class Seg:
    """A segment the stack sent (parsed from a captured frame)."""

    def __init__(self, t, frame):
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        tl = struct.unpack("!H", ip[2:4])[0]
        self.t = t
        self.src = ".".join(str(x) for x in ip[12:16])
        self.dst = ".".join(str(x) for x in ip[16:20])
        self.dmac = frame[:6]
        t_ = ip[ihl:tl]
        (self.sport, self.dport, self.seq, self.ack, off, self.flags, self.win, self.sum,
         self.urg) = struct.unpack("!HHIIBBHHH", t_[:20])
        self.doff = (off >> 4) * 4
        self.options = t_[20:self.doff]
        self.data = t_[self.doff:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, PROTO_TCP, len(t_))
        self.csum_ok = csum(pseudo + t_) == 0

    def mss(self):
        o = self.options
        i = 0
        while i < len(o):
            if o[i] == 0:
                break
            if o[i] == 1:
                i += 1
                continue
            if i + 1 >= len(o) or o[i + 1] < 2:
                break
            if o[i] == 2 and o[i + 1] == 4:
                return struct.unpack("!H", o[i + 2:i + 4])[0]
            i += o[i + 1]
        return None

    def __repr__(self):
        names = "".join(n for b, n in ((SYN, "S"), (ACK, "A"), (FIN, "F"), (RST, "R"), (PSH, "P"))
                        if self.flags & b)
        return "<%d>%d %s seq=%d ack=%d win=%d len=%d>" % (self.sport, self.dport, names, self.seq,
                                                         self.ack, self.win, len(self.data))


def is_tcp_to(frame, ip):
    return (len(frame) >= 54 and frame[12:14] == b"\x08\x00" and frame[23] == PROTO_TCP
            and frame[30:34] == ip4(ip))


class Peer:
    """The crafted peer's address on the TAP, and the capture."""

    def __init__(self, stack, ip=PEER_IP, hwaddr=PEER_MAC):
        self.st = stack
        self.ip = ip
        self.mac = mac(hwaddr)
        self.smac = mac(stack.stack_mac)
        self.wire = Wire(stack)
        self.rnd = random.Random()
        self.prime_arp()

    def close(self):
        self.wire.close()

    def prime_arp(self):
        """An ARP request from the peer for the stack: the stack caches us."""
        m = self.wire.mark()
        self.wire.send(eth(BCAST_MAC, self.mac, ETH_ARP, arp(1, self.mac, self.ip, ZERO_MAC, STACK_IP)))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for f in self.wire.since(m):
                if f[12:14] == struct.pack("!H", ETH_ARP) and f[:6] == self.mac:
                    return
            time.sleep(0.01)
        raise AssertionError("the stack did not answer the peer's ARP request")

    def frame(self, seg):
        return eth(self.smac, self.mac, ETH_IP, ipv4(self.ip, STACK_IP, PROTO_TCP, seg))

    def send_seg(self, sport, dport, seq, ack, flags, **kw):
        self.wire.send(self.frame(tcp_segment(self.ip, STACK_IP, sport, dport, seq, ack, flags, **kw)))

    def segs_since(self, mark):
        """(next mark, segments the stack sent to the peer since mark)."""
        frames = self.wire.frames
        end = len(frames)
        out = [Seg(t, f) for t, f in frames[mark:end] if is_tcp_to(f, self.ip)]
        return end, out

    def conn(self, dport, sport=None, iss=None):
        return Conn(self, dport, sport, iss)


class Conn:
    """One connection of the peer: its own SND.NXT and the stack's RCV side."""

    def __init__(self, peer, dport, sport=None, iss=None):
        self.peer = peer
        self.dport = dport
        self.sport = sport or peer.rnd.randrange(20000, 60000)
        self.iss = peer.rnd.getrandbits(32) if iss is None else iss
        self.snd_nxt = self.iss
        self.rcv_nxt = None         # the stack's next sequence number (after SYN-ACK)
        self.irs = None
        self.rcvd = bytearray()     # in-order payload from the stack
        self.fin = False
        self.win = 65535
        self.cursor = peer.wire.mark()
        self.log = []               # every segment of this connection the stack sent

    # -- sending
    def send(self, data=b"", flags=PSH | ACK, seq=None, ack=None, win=None, advance=None, **kw):
        """A segment at `seq` (default SND.NXT), acknowledging `ack` (default
        what we received). advance: move SND.NXT past it (default: when sent
        at SND.NXT)."""
        if not data and flags == PSH | ACK:
            flags = ACK
        at = self.snd_nxt if seq is None else seq
        if advance is None:
            advance = seq is None
        if ack is None:
            ack = self.rcv_nxt or 0
        self.peer.send_seg(self.sport, self.dport, at, ack, flags,
                           win=self.win if win is None else win, data=data, **kw)
        if advance:
            self.snd_nxt = sadd(at, len(data) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0))

    def ack_now(self):
        self.send(flags=ACK)

    def reset(self):
        self.send(flags=RST, ack=0, advance=False)

    # -- receiving
    def new_segs(self):
        self.cursor, segs = self.peer.segs_since(self.cursor)
        mine = [s for s in segs if s.sport == self.dport and s.dport == self.sport]
        self.log += mine
        return mine

    def expect(self, pred=lambda s: True, timeout=2.0):
        """The next segment of this connection matching pred, or None after
        timeout. Segments passed over are consumed: their in-order data is
        kept (not acknowledged)."""
        deadline = time.monotonic() + timeout
        while True:
            for s in self.new_segs():
                self.take(s, ack=False)
                if pred(s):
                    return s
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def quiet(self, t=0.3):
        """Whatever the stack sent on this connection within t seconds."""
        time.sleep(t)
        return self.new_segs()

    def open(self, options=None, win=65535, timeout=3.0):
        """Active open from the peer: SYN, the stack's SYN-ACK, our ACK."""
        self.win = win
        self.send(flags=SYN, ack=0, options=mss_opt() if options is None else options)
        sa = self.expect(lambda s: s.flags & (SYN | ACK) == SYN | ACK, timeout)
        assert sa is not None, "no SYN-ACK from the stack's port %d" % self.dport
        assert sa.ack == self.snd_nxt, "SYN-ACK acknowledges %d, our SYN was %d" % (sa.ack, self.iss)
        self.irs = sa.seq
        self.rcv_nxt = sadd(sa.seq, 1)
        self.ack_now()
        return sa

    def take(self, s, ack=True):
        """Account for one segment of the stack's: in-order data and FIN (a
        segment taken twice adds nothing). SND.NXT moves up to what the
        stack acknowledged (segments sent with advance=False)."""
        if s.flags & RST or self.rcv_nxt is None:
            return
        if s.flags & ACK and sdiff(s.ack, self.snd_nxt) > 0:
            self.snd_nxt = s.ack
        n = len(s.data) + (1 if s.flags & FIN else 0)
        rel = sdiff(s.seq, self.rcv_nxt)
        if rel <= 0 < rel + n:
            skip = -rel
            self.rcvd += s.data[skip:]
            self.rcv_nxt = sadd(s.seq, len(s.data))
            if s.flags & FIN:
                self.rcv_nxt = sadd(self.rcv_nxt, 1)
                self.fin = True
            if ack:
                self.ack_now()
        elif n and ack:
            self.ack_now()          # old or ahead of a gap: say where we are

    def pump(self, until, timeout=5.0, ack=True):
        """Take the stack's segments (acknowledging them) until until() holds;
        True when it did within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for s in self.new_segs():
                self.take(s, ack)
            if until():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


__all__ = ["ACK", "FIN", "PSH", "RST", "SYN", "URG", "PEER_IP", "Peer", "Conn", "Seg", "mss_opt",
           "sadd", "sdiff", "tcp_segment", "TAP"]
