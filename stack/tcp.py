# TCP (RFC 9293) with lwIP's raw callback API (docs/tcp.md).
#
# Zero copy both ways: received segments reach the application as the pbufs
# they arrived in (charged to H_TCP); data written is queued by reference
# (the pbufs the application hands over) until acknowledged, and every
# segment, first or retransmitted, is a fresh header block chained to views
# of that queue, so a header a TX ring may still hold is never rewritten
# (DESIGN invariant 2).
#
# Nothing here turns a sequence number into a Python int (a heap object on a
# 32-bit port): SND.UNA, RCV.NXT and friends are 4-byte buffers, everything
# else is a small offset from them (stack/seq.py does the arithmetic).
import hashlib
import os
from array import array

from micropython import const

from . import config, pbuf
from .checksum import finish, pbuf_sum, sum16
from .arp import E_MAC
from .ipv4 import TX_IPV4, TX_TCP, count_tx, fill_header
from .pool import pool
from .seq import seq_add, seq_diff, seq_lt
from .wire import (ETHERTYPE_IPV4, IPV4_HLEN, PROTO_TCP, be16, copy_field, ip_addr, put16, same,
                   ticks_add, ticks_diff)

# states (RFC 9293 3.3.2)
CLOSED = const(0)
LISTEN = const(1)
SYN_SENT = const(2)
SYN_RCVD = const(3)
ESTABLISHED = const(4)
FIN_WAIT_1 = const(5)
FIN_WAIT_2 = const(6)
CLOSE_WAIT = const(7)
CLOSING = const(8)
LAST_ACK = const(9)
TIME_WAIT = const(10)
STATE_NAMES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
               "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")

FIN = const(0x01)
SYN = const(0x02)
RST = const(0x04)
PSH = const(0x08)
ACK = const(0x10)
URG = const(0x20)

TCP_HLEN = const(20)
OPT_MSS = const(2)
OPT_WS = const(3)
OPT_SACK_OK = const(4)
OPT_SACK = const(5)
OPT_TS = const(8)

EAGAIN = const(11)
ENOBUFS = const(105)
ENOTCONN = const(107)
ECONNRESET = const(104)
ECONNABORTED = const(103)
ETIMEDOUT = const(110)
EADDRINUSE = const(98)
EISCONN = const(106)

SACK_RANGES = const(4)
_EPHEMERAL_LO = const(49152)        # RFC 6335 dynamic ports
_EPHEMERAL_N = const(16384)
_NO_TIMER = const(-1)


def _our_wscale():
    """The shift that fits our receive window into 16 bits (RFC 7323 2.3)."""
    ws = 0
    while (config.TCP_WND_BYTES >> ws) > 0xFFFF and ws < 14:
        ws += 1
    return ws


class Pcb:
    """One connection (or a listener). The application sets the callbacks;
    see docs/tcp.md."""

    def __init__(self, tcp):
        self.tcp = tcp
        self.state = CLOSED
        self.lport = 0
        self.rport = 0
        self.rip = bytearray(4)
        self.rip_hi = 0
        self.rip_lo = 0
        # callbacks
        self.accept_cb = None
        self.connected_cb = None
        self.recv_cb = None
        self.sent_cb = None
        self.err_cb = None
        self.nagle = True
        # listener
        self.backlog = 0
        self.pending = 0            # connections of a listener still in SYN_RCVD
        self.listener = None        # the listener a passive connection came from
        # send side: SND.UNA as bytes; SND.NXT = UNA + nxt; `high` the most ever sent
        self.iss = bytearray(4)
        self.una = bytearray(4)
        self.nxt = 0
        self.high = 0
        self.syn_unacked = 0        # 1 while our SYN occupies offset 0
        self.sq = None              # queued data: chain of pbufs, head at UNA (+SYN)
        self.sq_tail = None
        self.sq_len = 0
        self.fin_queued = False     # the application closed: FIN after the queue
        self.fin_acked = False
        self.snd_wnd = 0
        self.max_snd_wnd = 0
        self.wl1 = bytearray(4)
        self.wl2 = bytearray(4)
        self.mss = config.TCP_MSS
        self.cwnd = 0
        self.ssthresh = 0
        self.dupacks = 0
        self.recover = -1           # NewReno: recovery until this offset is acked
        # negotiated in the SYNs (RFC 7323, RFC 2018)
        self.snd_ws = 0             # the peer's window field is shifted left by this
        self.rcv_ws = 0             # ours is shifted right by this
        self.snd_ws_offered = False
        self.ts_ok = False
        self.ts_recent = bytearray(4)
        self.last_ack = bytearray(4)    # Last.ACK.sent (RFC 7323 5.3 R3)
        self.sack_ok = False
        # SACK scoreboard (RFC 6675): what the peer holds beyond SND.UNA, as up
        # to SACK_RANGES sorted [start, end) offsets from SND.UNA
        self.sk = array("i", [0] * (2 * SACK_RANGES))
        self.sk_n = 0
        self.rexmit = 0             # in recovery: where the next hole is looked for
        # keepalive (off unless the application turns it on)
        self._ka = False
        self.ka_at = _NO_TIMER
        self.ka_probes = 0
        # RFC 5961 7: this connection's challenge ACK budget (a token bucket)
        self.ca_tokens = config.TCP_CHALLENGE_ACK_PER_S
        self.ca_at = tcp.st.now
        # receive side
        self.rcv_nxt = bytearray(4)
        self.rcv_wnd = 0
        self.rcv_ann = 0            # where the announced right edge is, from RCV.NXT
        self.rcv_ann_w = 0          # the window value last announced
        self.ooseq = []             # [start, end, pbuf, arrival], offsets from RCV.NXT, sorted
        self.ooseq_n = 0            # arrival stamp of the newest out-of-order segment
        self.ooseq_at = _NO_TIMER   # what is held out of order goes then (the peer fell silent)
        # blocks of received data the application still holds: each costs a
        # whole block however few bytes it carries, so they bound the window
        self.rx_blocks = 0
        self.wnd_check = False
        self.in_todo = False        # on tcp's list of connections poll() looks at

        def rx_done(buf, pcb=self):
            pcb.rx_blocks -= 1
            pcb.wnd_check = True
            pcb.tcp._mark(pcb)
        self.rx_done = rx_done          # made once per connection: no object per segment
        self.fin_rcvd = False
        self.unacked_segs = 0       # in-order segments not acknowledged yet
        self.ack_due = False        # an ACK to send at the end of this poll round
        # timers (ticks, or _NO_TIMER)
        self.rto = config.TCP_RTO_INITIAL_MS
        self.srtt = 0
        self.rttvar = 0
        self.rto_at = _NO_TIMER
        self.retries = 0
        self.rtt_end = -1           # offset whose ACK completes the RTT sample
        self.rtt_t0 = 0
        self.ack_at = _NO_TIMER     # delayed ACK due
        self.persist_at = _NO_TIMER
        self.persist_backoff = 0
        self.tw_at = _NO_TIMER
        self.born = 0
        self.blocked = False        # output stopped on a full TX ring
        self.l2_e = None            # the next hop's ARP entry, and its MAC, once resolved
        self.l2_mac = None

    def __repr__(self):
        return "<tcp %d->%d.%d.%d.%d:%d %s>" % (self.lport, self.rip[0], self.rip[1], self.rip[2],
                                               self.rip[3], self.rport, STATE_NAMES[self.state])

    # --- the application's side ---------------------------------------------------
    @property
    def keepalive(self):
        return self._ka

    @keepalive.setter
    def keepalive(self, on):
        """SO_KEEPALIVE: the idle time counts from now (or from the
        connection's establishment, if later)."""
        self._ka = bool(on)
        self.ka_probes = 0
        self.ka_at = _NO_TIMER
        if on and self.state in (ESTABLISHED, CLOSE_WAIT):
            self.ka_at = ticks_add(self.tcp.st.now, config.TCP_KEEPIDLE_MS)

    @property
    def local_port(self):
        return self.lport

    @property
    def remote_port(self):
        return self.rport

    @property
    def remote_ip(self):
        return bytes(self.rip)

    def bind(self, port=0):
        return self.tcp.bind(self, port)

    def listen(self, backlog=4):
        return self.tcp.listen(self, backlog)

    def connect(self, ip, port, connected_cb=None):
        return self.tcp.connect(self, ip, port, connected_cb)

    def sndbuf(self):
        """Bytes write() would take now."""
        room = config.TCP_SND_QUEUE_BYTES - self.sq_len
        return room if room > 0 else 0

    def write(self, p):
        """Queue pbuf chain p to send: 0 (p is the connection's now,
        referenced until acknowledged), EAGAIN (no room in the send queue:
        p is still the caller's), ENOTCONN (not open for sending)."""
        return self.tcp.write(self, p)

    def output(self):
        self.tcp.output(self)

    def recved(self, n):
        """The application took n bytes: open the receive window again."""
        self.tcp.recved(self, n)

    def close(self):
        """Graceful close: FIN after what is queued; receiving goes on
        (half-close) until the peer's FIN."""
        self.tcp.close(self)

    def shutdown_tx(self):
        self.tcp.close(self)

    def abort(self):
        """Reset the connection and forget it (no err_cb)."""
        self.tcp.abort(self)


class Tcp:
    def __init__(self, stack):
        self.st = stack
        self.ctr = stack.ctr
        self.active = []            # connections (not listeners), bounded by TCP_MAX_PCBS
        self.listeners = {}         # port -> listening pcb
        self.key = os.urandom(16)   # RFC 6528: the secret of the ISN function
        self._born = 0
        self._scratch = bytearray(4)
        # connections with something for poll() to do (an ACK due, output a
        # full TX ring stopped, a window to announce): poll() visits only
        # these, not every connection each round
        self.todo = [None] * config.TCP_MAX_PCBS
        self.todo_n = 0
        self._ts_wraps = 0          # times the 2^30 ticks clock wrapped (mod 4): TSval's top bits
        self._ts_last = 0
        self._mss_opt = bytearray(4)
        self._sack_s = 0            # the SACK block _sack_pick found
        self._sack_k = 0            # SACK blocks in the segment being built
        self._sack_e = 0

    # --- pcbs -------------------------------------------------------------------------
    def new(self):
        return Pcb(self)

    def pcbs(self):
        return list(self.active) + list(self.listeners.values())

    def _port_used(self, port):
        if port in self.listeners:
            return True
        for pcb in self.active:
            if pcb.lport == port:
                return True
        return False

    def bind(self, pcb, port):
        if pcb.state != CLOSED or pcb.lport:
            raise OSError(EISCONN)
        if port == 0:
            port = self._ephemeral()
        elif not 0 < port < 65536:
            raise ValueError("bad port")
        elif self._port_used(port):
            raise OSError(EADDRINUSE)
        pcb.lport = port
        return 0

    def _ephemeral(self):
        """A random free port of the dynamic range (RFC 6056, algorithm 1)."""
        for _ in range(64):
            r = os.urandom(2)
            port = _EPHEMERAL_LO + (((r[0] << 8) | r[1]) % _EPHEMERAL_N)
            if not self._port_used(port):
                return port
        for port in range(_EPHEMERAL_LO, 65536):
            if not self._port_used(port):
                return port
        raise OSError(EADDRINUSE)

    def listen(self, pcb, backlog):
        if pcb.state != CLOSED:
            raise OSError(EISCONN)
        if not pcb.lport:
            self.bind(pcb, 0)
        if pcb.lport in self.listeners:
            raise OSError(EADDRINUSE)
        if backlog < 1:
            backlog = 1
        if backlog > config.TCP_BACKLOG_MAX:
            backlog = config.TCP_BACKLOG_MAX
        pcb.backlog = backlog
        pcb.state = LISTEN
        self.listeners[pcb.lport] = pcb
        return pcb

    def _room_for_pcb(self):
        """True when a connection may be added: the table has room, or the
        oldest TIME_WAIT connection makes it (RFC 1122 4.2.2.13 spirit)."""
        if len(self.active) < config.TCP_MAX_PCBS:
            return True
        oldest = None
        for pcb in self.active:
            if pcb.state == TIME_WAIT and (oldest is None or ticks_diff(pcb.born, oldest.born) < 0):
                oldest = pcb
        if oldest is None:
            return False
        self.ctr["tcp_timewait_recycled"] += 1
        self._free(oldest)
        return True

    def _attach(self, pcb):
        self._born = ticks_add(self._born, 1)
        pcb.born = self._born
        self.active.append(pcb)

    def _set_remote(self, pcb, ip, o, port):
        copy_field(pcb.rip, 0, ip, o, 4)
        pcb.rip_hi = be16(ip, o)
        pcb.rip_lo = be16(ip, o + 2)
        pcb.rport = port

    def _init_send(self, pcb, mss):
        pcb.mss = mss if mss < config.TCP_MSS else config.TCP_MSS
        if pcb.ts_ok:
            pcb.mss -= 12                   # the option every segment carries (RFC 6691)
        if pcb.mss < 64:
            pcb.mss = 64
        # RFC 5681 3.1: the initial window
        iw = 4 * pcb.mss
        if iw > 4380:
            iw = 4380 if 4380 > 2 * pcb.mss else 2 * pcb.mss
        pcb.cwnd = iw
        pcb.ssthresh = config.TCP_SND_QUEUE_BYTES * 4
        pcb.rcv_wnd = config.TCP_WND_BYTES
        pcb.rcv_ann = pcb.rcv_ann_w = pcb.rcv_wnd

    def connect(self, pcb, ip, port, connected_cb):
        if pcb.state != CLOSED:
            raise OSError(EISCONN)
        ip = ip_addr(ip)
        if not 0 < port < 65536:
            raise ValueError("bad port")
        if not self._room_for_pcb():
            raise OSError(ENOBUFS)
        if not pcb.lport:
            self.bind(pcb, 0)
        self._set_remote(pcb, ip, 0, port)
        pcb.connected_cb = connected_cb
        # what our SYN offers; the peer's SYN-ACK settles it
        pcb.sack_ok = config.TCP_SACK
        pcb.ts_ok = config.TCP_TIMESTAMPS
        pcb.snd_ws_offered = config.TCP_WINDOW_SCALING
        pcb.rcv_ws = _our_wscale() if pcb.snd_ws_offered else 0
        self._isn(pcb)
        self._init_send(pcb, config.TCP_MSS)
        pcb.state = SYN_SENT
        self._attach(pcb)
        self.ctr["tcp_active_open"] += 1
        self._send_syn(pcb)
        return 0

    def _isn(self, pcb):
        """RFC 6528: ISN = M + F(4-tuple, secret), M a 4 us clock. Computed in
        16-bit limbs: no 32-bit int on a 32-bit port."""
        h = hashlib.sha256(self.key)
        h.update(self.st.ip_addr)
        h.update(pcb.rip)
        t = self._scratch
        put16(t, 0, pcb.lport)
        put16(t, 2, pcb.rport)
        h.update(t)
        d = h.digest()
        # M = 250 * now_ms (mod 2^32), added limb by limb
        now = self.st.now
        lo = (now & 0xFFFF) * 250
        hi = (now >> 16) * 250 + (lo >> 16)
        lo &= 0xFFFF
        a_lo = ((d[2] << 8) | d[3]) + lo
        a_hi = ((d[0] << 8) | d[1]) + (hi & 0xFFFF) + (a_lo >> 16)
        iss = pcb.iss
        put16(iss, 0, a_hi & 0xFFFF)
        put16(iss, 2, a_lo & 0xFFFF)
        copy_field(pcb.una, 0, iss, 0, 4)
        pcb.nxt = 0
        pcb.high = 0
        pcb.syn_unacked = 1

    def _free(self, pcb):
        """Forget a connection: its queues go back to the pool."""
        if pcb in self.active:
            self.active.remove(pcb)
        if pcb.state == SYN_RCVD and pcb.listener is not None:
            pcb.listener.pending -= 1
        pcb.listener = None
        q = pcb.sq
        if q is not None:
            pbuf.free(q)
        pcb.sq = None
        pcb.sq_tail = None
        pcb.sq_len = 0
        for f in pcb.ooseq:
            pbuf.free(f[2])
        pcb.ooseq = []
        pcb.state = CLOSED
        pcb.rto_at = pcb.ack_at = pcb.persist_at = pcb.tw_at = _NO_TIMER

    def _gone(self, pcb, err):
        """The connection died (RST, timeout): tell the application."""
        self._free(pcb)
        cb = pcb.err_cb
        if cb is not None:
            cb(pcb, err)

    # --- sending ---------------------------------------------------------------------
    def write(self, pcb, p):
        if pcb.state not in (ESTABLISHED, CLOSE_WAIT, SYN_SENT, SYN_RCVD) or pcb.fin_queued:
            return ENOTCONN
        n = p.tot
        if n > config.TCP_SND_QUEUE_BYTES - pcb.sq_len:
            self.ctr["tcp_write_eagain"] += 1
            return EAGAIN
        # blocks still on the input path's account (an echoed segment) are
        # kept by this queue now
        if not pbuf.charge(p, pool.H_TCP, pool.H_RX):
            self.ctr["tcp_write_no_quota"] += 1
            return EAGAIN
        if pcb.sq is None:
            pcb.sq = p
        else:
            pcb.sq_tail.next = p
        q = p
        while q.next is not None:
            q = q.next
        pcb.sq_tail = q
        pcb.sq_len += n
        if pcb.state in (ESTABLISHED, CLOSE_WAIT):
            self.output(pcb)
        return 0

    def _trim_sq(self, pcb, k):
        """Drop k acknowledged bytes from the front of the send queue."""
        pcb.sq_len -= k
        while k > 0:
            q = pcb.sq
            if q.len <= k:
                k -= q.len
                pcb.sq = q.next
                q.next = None
                pbuf.free(q)
            else:
                q.off += k
                q.len -= k
                q.tot -= k
                k = 0
        if pcb.sq is None:
            pcb.sq_tail = None

    def _wnd_now(self, pcb):
        """The window we can offer: bytes (TCP_WND_BYTES less what the
        application has not recved()) and blocks (TCP_WND_BLOCKS less the
        blocks it still holds, each worth a full segment)."""
        w = pcb.rcv_wnd
        b = (config.TCP_WND_BLOCKS - pcb.rx_blocks) * config.TCP_MSS
        if b < w:
            w = b if b > 0 else 0
        return w

    def _wnd_field(self, pcb, syn):
        w = self._wnd_now(pcb)
        if w < pcb.rcv_ann:
            w = pcb.rcv_ann                 # never move the right edge back (RFC 9293 3.8.6)
        if syn:
            if w > 0xFFFF:
                w = 0xFFFF                  # the window of a SYN is never scaled
            pcb.rcv_ann = pcb.rcv_ann_w = w
            return w
        w >>= pcb.rcv_ws
        if w > 0xFFFF:
            w = 0xFFFF
        pcb.rcv_ann = pcb.rcv_ann_w = w << pcb.rcv_ws
        return w

    def _opt_len(self, pcb, syn, n=0):
        """Option bytes of our next segment (a multiple of 4), n data bytes
        with it: SACK blocks only as far as they fit beside the data (pcb.mss
        counts the timestamp option already; RFC 6691)."""
        if syn:
            n = 4
            if pcb.sack_ok:
                n += 4 if not pcb.ts_ok else 2
            if pcb.ts_ok:
                n += 10 if pcb.sack_ok else 12
            if pcb.snd_ws_offered:
                n += 4
            return n
        k = 0
        if pcb.sack_ok and pcb.ooseq:
            k = self._sack_runs(pcb.ooseq)
            m = 3 if pcb.ts_ok else 4
            if n:
                room = (pcb.mss - n - 4) >> 3
                if room < m:
                    m = room if room > 0 else 0
            if k > m:
                k = m
        self._sack_k = k
        return (12 if pcb.ts_ok else 0) + (4 + 8 * k if k else 0)

    def _put_ts(self, pcb, b, i):
        b[i] = OPT_TS
        b[i + 1] = 10
        t = self._ts_clock()                # TSval: our ms clock, 32 bits (RFC 7323 5.4)
        put16(b, i + 2, (self._ts_wraps << 14) | (t >> 16))
        put16(b, i + 4, t & 0xFFFF)
        copy_field(b, i + 6, pcb.ts_recent, 0, 4)

    def _ts_clock(self):
        """The ticks clock (< 2^30), counting its wraps, so TSval = wraps *
        2^30 + ticks goes on growing mod 2^32 instead of falling back to 0
        (the peer's PAWS would drop what we send). Called from every timer
        tick too, so no wrap goes unseen."""
        t = self.st.now
        if t < self._ts_last:
            self._ts_wraps = (self._ts_wraps + 1) & 3
        self._ts_last = t
        return t

    def _put_opts(self, pcb, b, i, syn):
        if syn:
            b[i] = OPT_MSS
            b[i + 1] = 4
            put16(b, i + 2, config.TCP_MSS)
            i += 4
            if pcb.sack_ok and pcb.ts_ok:
                b[i] = OPT_SACK_OK          # SACK-permitted + timestamps, Linux's layout
                b[i + 1] = 2
                self._put_ts(pcb, b, i + 2)
                i += 12
            elif pcb.sack_ok:
                b[i] = 1
                b[i + 1] = 1
                b[i + 2] = OPT_SACK_OK
                b[i + 3] = 2
                i += 4
            elif pcb.ts_ok:
                b[i] = 1
                b[i + 1] = 1
                self._put_ts(pcb, b, i + 2)
                i += 12
            if pcb.snd_ws_offered:
                b[i] = 1
                b[i + 1] = OPT_WS
                b[i + 2] = 3
                b[i + 3] = pcb.rcv_ws
            return
        if pcb.ts_ok:
            b[i] = 1
            b[i + 1] = 1
            self._put_ts(pcb, b, i + 2)
            i += 12
        k = self._sack_k                    # what _opt_len made room for
        if k:
            # RFC 2018 4: one block per contiguous run of out-of-order data we
            # hold, the run of the newest segment first, then by recency
            q = pcb.ooseq
            b[i] = 1
            b[i + 1] = 1
            b[i + 2] = OPT_SACK
            b[i + 3] = 2 + 8 * k
            i += 4
            below = pcb.ooseq_n + 1
            while k > 0:
                below = self._sack_pick(q, below)
                seq_add(b, i, pcb.rcv_nxt, 0, self._sack_s)
                seq_add(b, i + 4, pcb.rcv_nxt, 0, self._sack_e)
                i += 8
                k -= 1

    def _sack_runs(self, q):
        """Contiguous runs in the out-of-order queue (sorted, disjoint)."""
        n = 0
        end = 0
        for f in q:
            if n == 0 or f[0] != end:
                n += 1
            end = f[1]
        return n

    def _sack_pick(self, q, below):
        """The run whose newest segment is the newest of those older than
        `below` (an arrival stamp): its edges in self._sack_s/_sack_e (no
        tuple: this is on every ACK); returns its stamp."""
        best = -1
        rs = re = 0
        rt = -1
        for f in q:
            if rt >= 0 and f[0] != re:
                if best < rt < below:
                    best = rt
                    self._sack_s = rs
                    self._sack_e = re
                rt = -1
            if rt < 0:
                rs = f[0]
            re = f[1]
            if f[3] > rt:
                rt = f[3]
        if best < rt < below:
            best = rt
            self._sack_s = rs
            self._sack_e = re
        return best

    def _segment(self, pcb, off, flags, data_off, n, syn_opts=False):
        """Send one segment: sequence UNA + off, n data bytes from data_off of
        the send queue (as views, no copy). True when handed on."""
        st = self.st
        hl = TCP_HLEN + self._opt_len(pcb, syn_opts, n)
        h = pbuf.hdr(pool.H_TX, hl)
        if h is None:
            self.ctr["tcp_tx_no_buffer"] += 1
            return False
        b = h.buf
        o = h.off
        put16(b, o, pcb.lport)
        put16(b, o + 2, pcb.rport)
        seq_add(b, o + 4, pcb.una, 0, off)
        if flags & ACK:
            copy_field(b, o + 8, pcb.rcv_nxt, 0, 4)
        else:
            put16(b, o + 8, 0)
            put16(b, o + 10, 0)
        b[o + 12] = (hl >> 2) << 4
        b[o + 13] = flags
        put16(b, o + 14, self._wnd_field(pcb, syn_opts))
        put16(b, o + 16, 0)
        put16(b, o + 18, 0)
        if hl > TCP_HLEN:
            self._put_opts(pcb, b, o + TCP_HLEN, syn_opts)
        if n:
            t = pbuf.views(pcb.sq, data_off, n)
            if t is None:
                pbuf.free(h)
                self.ctr["tcp_tx_no_buffer"] += 1
                return False
            pbuf.cat(h, t)
        tl = h.tot
        if not st.netif.tx_csum or tl + IPV4_HLEN > st.netif.mtu:
            # (a MAC that inserts it gets the field at 0; never for a
            # segment IP will fragment: no MAC sums fragments)
            s = sum16(st.ip_addr, 0, 4, sum16(pcb.rip, 0, 4, PROTO_TCP + tl))
            put16(b, o + 16, finish(pbuf_sum(h, 0, tl, s)))
        if flags & ACK:
            pcb.ack_at = _NO_TIMER
            pcb.unacked_segs = 0
            pcb.ack_due = False
            copy_field(pcb.last_ack, 0, pcb.rcv_nxt, 0, 4)
        e = pcb.l2_e
        if e is None or e[E_MAC] is not pcb.l2_mac or tl + IPV4_HLEN > st.netif.mtu:
            ok = st.ip.output(h, None, pcb.rip, PROTO_TCP, tag=TX_TCP)
            self._l2_learn(pcb)
            return ok
        # The route and the neighbour are known (the ARP entry is still the one
        # we saw): the IP header straight into the header block, then Ethernet.
        ip = st.ip
        pbuf.header(h, IPV4_HLEN)
        ident = ip.ident
        ip.ident = (ident + 1) & 0xFFFF
        fill_header(h.buf, h.off, h.tot, 0, ident, 0, config.IP_DEFAULT_TTL, PROTO_TCP,
                    st.ip_addr, pcb.rip)
        if st.netif.output(h, pcb.l2_mac, ETHERTYPE_IPV4):
            count_tx(self.ctr, TX_IPV4 | TX_TCP)
            return True
        return False

    def _l2_learn(self, pcb):
        """Keep the ARP entry of the connection's next hop, once resolved, so
        later segments skip the route and ARP lookups; the entry's MAC turns
        None (or another object) when ARP forgets or relearns it."""
        ip = self.st.ip
        nh = ip.route(pcb.rip)
        e = None
        if nh is not None and not ip.is_bcast(nh) and nh[0] >> 4 != 14:
            e = self.st.arp.entry(nh)
        if e is not None and e[E_MAC] is not None:
            pcb.l2_e = e
            pcb.l2_mac = e[E_MAC]
        else:
            pcb.l2_e = None

    def _send_syn(self, pcb):
        flags = SYN | ACK if pcb.state == SYN_RCVD else SYN
        self._segment(pcb, 0, flags, 0, 0, True)
        pcb.nxt = 1
        if pcb.high < 1:
            pcb.high = 1
        if pcb.rto_at == _NO_TIMER:
            pcb.rto_at = ticks_add(self.st.now, pcb.rto)

    def send_ack(self, pcb):
        self._segment(pcb, pcb.nxt, ACK, 0, 0)

    def _send_rst_for(self, pcb):
        self._segment(pcb, pcb.nxt, RST | ACK, 0, 0)
        self.ctr["tcp_rst_tx"] += 1

    def output(self, pcb):
        """Send what the peer's window, the congestion window and Nagle allow."""
        state = pcb.state
        if state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK):
            return
        netif = self.st.netif
        sent = False
        while True:
            if netif.tx_room() == 0:
                pcb.blocked = True
                self._mark(pcb)
                break
            pcb.blocked = False
            base = pcb.syn_unacked
            if pcb.sk_n and pcb.nxt < pcb.high:
                x = self._skip_sacked(pcb, pcb.nxt)     # going back over what the peer holds
                if x != pcb.nxt:
                    pcb.nxt = x
            done = pcb.nxt - base           # data bytes (and FIN) already sent
            unsent = pcb.sq_len - done
            fin_off = base + pcb.sq_len
            want_fin = pcb.fin_queued and not pcb.fin_acked and pcb.nxt <= fin_off
            wnd = pcb.snd_wnd if pcb.snd_wnd < pcb.cwnd else pcb.cwnd
            room = wnd - pcb.nxt
            if pcb.sk_n:
                room += self._sacked_below(pcb, pcb.nxt)   # what the peer holds is not in flight
            if unsent > 0:
                n = unsent
                if n > pcb.mss:
                    n = pcb.mss
                if n > room:
                    n = room
                if n <= 0:
                    if pcb.snd_wnd == 0 and pcb.nxt == 0 and pcb.persist_at == _NO_TIMER:
                        pcb.persist_at = ticks_add(self.st.now, pcb.rto)
                    break
                if n < pcb.mss and n < unsent:
                    # window-limited small segment: wait for the window (SWS, RFC 9293 3.8.6.2.1)
                    if pcb.nxt > 0:
                        break
                elif n < pcb.mss and pcb.nagle and pcb.nxt > 0 and not want_fin:
                    break                   # Nagle: one small segment in flight at most
                flags = ACK
                if n == unsent:
                    flags |= PSH
                    if want_fin:
                        flags |= FIN
                if not self._segment(pcb, pcb.nxt, flags, done, n):
                    break
                self._sent(pcb, n + (1 if flags & FIN else 0))
                sent = True
            elif want_fin and pcb.nxt == fin_off:
                if not self._segment(pcb, pcb.nxt, ACK | FIN, 0, 0):
                    break
                self._sent(pcb, 1)
                sent = True
            else:
                break
        return sent

    def _sent(self, pcb, k):
        now = self.st.now
        start = pcb.nxt
        pcb.nxt += k
        if pcb.nxt > pcb.high:
            if pcb.rtt_end < 0 and start >= pcb.high:
                pcb.rtt_end = pcb.nxt       # time new data only (Karn)
                pcb.rtt_t0 = now
            pcb.high = pcb.nxt
        if pcb.rto_at == _NO_TIMER:
            pcb.rto_at = ticks_add(now, pcb.rto)
        pcb.persist_at = _NO_TIMER

    def close(self, pcb):
        state = pcb.state
        if state == LISTEN:
            self.listeners.pop(pcb.lport, None)
            pcb.state = CLOSED
            return
        if state in (CLOSED,):
            return
        if state in (SYN_SENT,):
            self._free(pcb)
            return
        if pcb.fin_queued:
            return
        pcb.fin_queued = True
        if state in (SYN_RCVD, ESTABLISHED):
            pcb.state = FIN_WAIT_1
        elif state == CLOSE_WAIT:
            pcb.state = LAST_ACK
        self.output(pcb)

    def abort(self, pcb):
        if pcb.state == LISTEN:
            self.close(pcb)
            return
        if pcb.state not in (CLOSED, SYN_SENT, TIME_WAIT, LISTEN):
            self._send_rst_for(pcb)
        self._free(pcb)

    def recved(self, pcb, n):
        w = pcb.rcv_wnd + n
        if w > config.TCP_WND_BYTES:
            w = config.TCP_WND_BYTES
        pcb.rcv_wnd = w
        # receiver SWS avoidance (RFC 9293 3.8.6.2.2): announce a larger
        # window only once it grew by a segment or half the buffer
        w = self._wnd_now(pcb)
        grow = w - pcb.rcv_ann_w
        half = config.TCP_WND_BYTES >> 1
        if pcb.state in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2) and \
                (grow >= pcb.mss or grow >= half or (pcb.rcv_ann_w == 0 and w > 0)):
            self.send_ack(pcb)

    # --- input ------------------------------------------------------------------------
    def input(self, p, hl, cast, flags):
        ctr = self.ctr
        if cast:
            ctr["tcp_not_unicast"] += 1     # TCP is unicast only
            pbuf.free(p)
            return
        n = p.tot - hl
        if n < TCP_HLEN or p.len < hl + TCP_HLEN:
            ctr["tcp_truncated"] += 1
            pbuf.free(p)
            return
        b = p.buf
        ip = p.off
        o = ip + hl
        doff = (b[o + 12] >> 4) << 2
        if doff < TCP_HLEN or doff > n or p.len < hl + doff:
            ctr["tcp_bad_offset"] += 1
            pbuf.free(p)
            return
        if not (flags & 1) and pbuf_sum(p, hl, n, sum16(b, ip + 12, 8, PROTO_TCP + n)) != 0xFFFF:
            ctr["tcp_bad_checksum"] += 1
            pbuf.free(p)
            return
        ctr["tcp_rx"] += 1
        sport = be16(b, o)
        dport = be16(b, o + 2)
        sh = be16(b, ip + 12)
        sl = be16(b, ip + 14)
        for pcb in self.active:
            if pcb.lport == dport and pcb.rport == sport and pcb.rip_hi == sh and pcb.rip_lo == sl:
                self._process(pcb, p, hl, o, doff, n - doff)
                return
        fl = b[o + 13]
        lst = self.listeners.get(dport)
        if lst is not None and fl & (SYN | ACK | RST) == SYN:
            self._syn_in(lst, p, hl, o, doff)
            return
        ctr["tcp_no_pcb"] += 1
        self._reset_reply(p, hl, o, n - doff)
        pbuf.free(p)

    def _reset_reply(self, p, hl, o, dlen):
        """RFC 9293 3.10.7.1: a segment for no connection gets a reset (never
        a reset for a reset)."""
        b = p.buf
        fl = b[o + 13]
        if fl & RST:
            return
        h = pbuf.hdr(pool.H_TX, TCP_HLEN)
        if h is None:
            self.ctr["tcp_tx_no_buffer"] += 1
            return
        hb = h.buf
        ho = h.off
        put16(hb, ho, be16(b, o + 2))
        put16(hb, ho + 2, be16(b, o))
        if fl & ACK:
            copy_field(hb, ho + 4, b, o + 8, 4)
            put16(hb, ho + 8, 0)
            put16(hb, ho + 10, 0)
            hb[ho + 13] = RST
        else:
            put16(hb, ho + 4, 0)
            put16(hb, ho + 6, 0)
            k = dlen + (1 if fl & SYN else 0) + (1 if fl & FIN else 0)
            seq_add(hb, ho + 8, b, o + 4, k)
            hb[ho + 13] = RST | ACK
        hb[ho + 12] = 5 << 4
        put16(hb, ho + 14, 0)
        put16(hb, ho + 16, 0)
        put16(hb, ho + 18, 0)
        src = self.st.ip.src
        s = sum16(self.st.ip_addr, 0, 4, sum16(src, 0, 4, PROTO_TCP + TCP_HLEN))
        put16(hb, ho + 16, finish(pbuf_sum(h, 0, TCP_HLEN, s)))
        self.ctr["tcp_rst_tx"] += 1
        self.st.ip.output(h, None, src, PROTO_TCP, tag=TX_TCP)

    def _find_opt(self, b, o, doff, want):
        """Offset of option `want` in the segment's options, or -1. A
        malformed list (a length of 0 or 1, or past the header) is counted
        and read no further."""
        i = o + TCP_HLEN
        end = o + doff
        while i < end:
            kind = b[i]
            if kind == 0:
                return -1
            if kind == 1:
                i += 1
                continue
            if i + 1 >= end:
                self.ctr["tcp_bad_options"] += 1
                return -1
            ln = b[i + 1]
            if ln < 2 or i + ln > end:
                self.ctr["tcp_bad_options"] += 1
                return -1
            if kind == want:
                return i
            i += ln
        return -1

    def _ts_opt(self, b, o, doff):
        """Offset of a segment's TSval, or -1 (Linux's NOP NOP TS layout first)."""
        if doff >= 32 and b[o + 20] == 1 and b[o + 21] == 1 and b[o + 22] == OPT_TS and b[o + 23] == 10:
            return o + 24
        if doff == TCP_HLEN:
            return -1
        i = self._find_opt(b, o, doff, OPT_TS)
        return i + 2 if i >= 0 and b[i + 1] == 10 else -1

    def _syn_options(self, pcb, b, o, doff):
        """What the peer's SYN offers, in one walk of its options: MSS (536
        without one, RFC 9293 3.7.1), window scaling, timestamps (RFC 7323),
        SACK (RFC 2018). Returns the MSS. A malformed list (a length of 0 or
        1, or past the header) is counted once and read no further."""
        mss = 536
        ws = -1
        ts = -1
        sack = False
        i = o + TCP_HLEN
        end = o + doff
        while i < end:
            kind = b[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            ln = b[i + 1] if i + 1 < end else 0
            if ln < 2 or i + ln > end:
                self.ctr["tcp_bad_options"] += 1
                break
            if kind == OPT_MSS:
                if ln == 4 and be16(b, i + 2) > 0:
                    mss = be16(b, i + 2)
                else:
                    self.ctr["tcp_bad_options"] += 1
            elif kind == OPT_WS and ln == 3:
                ws = b[i + 2]
            elif kind == OPT_TS and ln == 10:
                ts = i + 2
            elif kind == OPT_SACK_OK and ln == 2:
                sack = True
            i += ln
        if ws >= 0 and config.TCP_WINDOW_SCALING and pcb.state != SYN_SENT or \
                ws >= 0 and pcb.state == SYN_SENT and pcb.snd_ws_offered:
            pcb.snd_ws = ws if ws <= 14 else 14     # RFC 7323 2.3: at most 14
            pcb.snd_ws_offered = True
            pcb.rcv_ws = _our_wscale()
        else:
            pcb.snd_ws_offered = False
            pcb.snd_ws = pcb.rcv_ws = 0             # both or neither (RFC 7323 2.2)
        # as the passive side: what the SYN offers and we allow; as the
        # active side: what our SYN offered and the SYN-ACK took up
        pcb.ts_ok = ts >= 0 and (pcb.ts_ok if pcb.state == SYN_SENT else bool(config.TCP_TIMESTAMPS))
        if pcb.ts_ok:
            copy_field(pcb.ts_recent, 0, b, ts, 4)
        pcb.sack_ok = sack and (pcb.sack_ok if pcb.state == SYN_SENT else bool(config.TCP_SACK))
        return mss

    def _syn_in(self, lst, p, hl, o, doff):
        ctr = self.ctr
        if lst.pending >= lst.backlog:
            ctr["tcp_backlog_full"] += 1    # a SYN flood stops here
            pbuf.free(p)
            return
        if not self._room_for_pcb():
            ctr["tcp_no_pcb_room"] += 1
            pbuf.free(p)
            return
        b = p.buf
        pcb = Pcb(self)
        pcb.lport = lst.lport
        self._set_remote(pcb, b, p.off + 12, be16(b, o))
        pcb.listener = lst
        pcb.err_cb = None
        seq_add(pcb.rcv_nxt, 0, b, o + 4, 1)
        self._init_send(pcb, self._syn_options(pcb, b, o, doff))
        self._win_from(pcb, b, o, 0)
        self._isn(pcb)
        pcb.state = SYN_RCVD
        lst.pending += 1
        self._attach(pcb)
        pbuf.free(p)
        self._send_syn(pcb)

    def _win_from(self, pcb, b, o, shift):
        w = be16(b, o + 14) << shift
        pcb.snd_wnd = w
        if w > pcb.max_snd_wnd:
            pcb.max_snd_wnd = w
        copy_field(pcb.wl1, 0, b, o + 4, 4)
        copy_field(pcb.wl2, 0, b, o + 8, 4)

    def _syn_sent(self, pcb, p, o, doff, fl):
        b = p.buf
        if fl & ACK:
            a = seq_diff(b, o + 8, pcb.una, 0)
            if a != 1:
                if not fl & RST:
                    self._rst_seq_ack(p, o)
                pbuf.free(p)
                return
            if fl & RST:
                pbuf.free(p)
                self.ctr["tcp_rst_rx"] += 1
                self._gone(pcb, ECONNRESET)
                return
        elif fl & RST:
            pbuf.free(p)
            return
        if not fl & SYN:
            pbuf.free(p)
            return
        seq_add(pcb.rcv_nxt, 0, b, o + 4, 1)
        mss = self._syn_options(pcb, b, o, doff)
        self._init_send(pcb, mss)
        self._win_from(pcb, b, o, 0)
        pbuf.free(p)
        if fl & ACK:
            self._acked(pcb, 1)
            pcb.state = ESTABLISHED
            self.ctr["tcp_connected"] += 1
            self.send_ack(pcb)
            cb = pcb.connected_cb
            if cb is not None:
                cb(pcb)
            self.output(pcb)
        else:
            # simultaneous open (RFC 9293 3.5, figure 8)
            pcb.state = SYN_RCVD
            pcb.nxt = 0
            self._send_syn(pcb)

    def _rst_seq_ack(self, p, o):
        """A reset for an unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>."""
        self._reset_reply(p, o - p.off, o, 0)

    def _acceptable(self, pcb, rel, seglen):
        wnd = pcb.rcv_wnd
        if seglen == 0:
            return rel == 0 if wnd == 0 else 0 <= rel < wnd
        if wnd == 0:
            return False
        return 0 <= rel < wnd or 0 <= rel + seglen - 1 < wnd

    def _challenge_ack(self, pcb):
        """RFC 5961: answer a suspicious RST or SYN with an ACK, so a blind
        attacker cannot tear the connection down; at most
        TCP_CHALLENGE_ACK_PER_S per second (a burst of as many), section 7.
        The bucket is per connection: a budget shared by all of them is an
        off-path side channel (CVE-2016-5696) and lets one connection's
        attacker silence the others' challenges."""
        rate = config.TCP_CHALLENGE_ACK_PER_S
        if rate > 0:
            now = self.st.now
            d = ticks_diff(now, pcb.ca_at)
            if d < 0 or d >= 1000:
                pcb.ca_tokens = rate        # idle for a second (or longer): a full bucket
                pcb.ca_at = now
            else:
                gained = d * rate // 1000
                if gained > 0:
                    t = pcb.ca_tokens + gained
                    pcb.ca_tokens = t if t < rate else rate
                    pcb.ca_at = ticks_add(pcb.ca_at, gained * 1000 // rate)
            if pcb.ca_tokens <= 0:
                self.ctr["tcp_challenge_ack_limited"] += 1
                return
            pcb.ca_tokens -= 1
        self.ctr["tcp_challenge_ack"] += 1
        self.send_ack(pcb)

    def _process(self, pcb, p, hl, o, doff, dlen):
        ctr = self.ctr
        b = p.buf
        fl = b[o + 13]
        state = pcb.state
        if state == SYN_SENT:
            self._syn_sent(pcb, p, o, doff, fl)
            return
        rel = seq_diff(b, o + 4, pcb.rcv_nxt, 0)
        if state == TIME_WAIT and fl & (SYN | ACK | RST) == SYN and rel > 0:
            # RFC 1122 4.2.2.13: a new incarnation may reopen from TIME_WAIT
            lst = self.listeners.get(pcb.lport)
            if lst is not None:
                ctr["tcp_timewait_reopened"] += 1
                self._free(pcb)
                self._syn_in(lst, p, hl, o, doff)
                return
        if state == SYN_RCVD and fl & (SYN | RST) == SYN and rel == -1:
            if not fl & ACK:
                pcb.nxt = 0
                self._send_syn(pcb)         # the peer's SYN again: our SYN-ACK was lost
                pbuf.free(p)
                return
            if dlen == 0 and seq_diff(b, o + 8, pcb.una, 0) == 1:
                fl &= ~SYN                  # simultaneous open: the peer's SYN-ACK acks ours
                rel = 0
        ts = -1
        if pcb.ts_ok:
            ts = self._ts_opt(b, o, doff)
            if ts >= 0 and not fl & RST and seq_lt(b, ts, pcb.ts_recent, 0):
                # RFC 7323 5.3 R1 (PAWS): an old duplicate from a wrapped sequence space
                ctr["tcp_paws"] += 1
                self.send_ack(pcb)
                pbuf.free(p)
                return
        seglen = dlen + (1 if fl & SYN else 0) + (1 if fl & FIN else 0)
        if not self._acceptable(pcb, rel, seglen):
            if fl & SYN and not fl & RST and state != TIME_WAIT:
                # RFC 5961 4.2: a SYN earns a challenge ACK whatever its sequence number
                self._challenge_ack(pcb)
                pbuf.free(p)
                return
            ctr["tcp_out_of_window"] += 1
            if not fl & RST:
                self.send_ack(pcb)
                if state == TIME_WAIT and fl & FIN and rel + seglen == 0:
                    # the peer's FIN again (our ACK was lost): 2 MSL from now (RFC 9293 3.10.7.4)
                    pcb.tw_at = ticks_add(self.st.now, 2 * config.TCP_MSL_MS)
            pbuf.free(p)
            return
        if ts >= 0 and not seq_lt(pcb.last_ack, 0, b, o + 4):
            # RFC 7323 5.3 R3: SEG.SEQ <= Last.ACK.sent, so one ACK for
            # several segments echoes the first one's TSval (4.3 (A))
            copy_field(pcb.ts_recent, 0, b, ts, 4)
        if pcb._ka:
            pcb.ka_at = ticks_add(self.st.now, config.TCP_KEEPIDLE_MS)
            pcb.ka_probes = 0
        if pcb.ooseq:
            self._ooseq_timer(pcb)          # the peer is still there
        if fl & RST:
            pbuf.free(p)
            if state == TIME_WAIT:
                # RFC 1337 (as lwIP): a reset does not cut TIME_WAIT short
                # (TIME-WAIT assassination); the 2 MSL run out as they would
                ctr["tcp_timewait_rst_ignored"] += 1
                return
            ctr["tcp_rst_rx"] += 1
            if rel == 0:
                if state == SYN_RCVD:
                    self._free(pcb)         # back to the listener's care: forget it
                elif state in (CLOSING, LAST_ACK):
                    self._free(pcb)
                else:
                    self._gone(pcb, ECONNRESET)
            else:
                self._challenge_ack(pcb)
            return
        if fl & SYN:
            if state == SYN_RCVD and rel == -1:
                pcb.nxt = 0
                self._send_syn(pcb)         # our SYN-ACK was lost: again
            else:
                self._challenge_ack(pcb)
            pbuf.free(p)
            return
        if not fl & ACK:
            pbuf.free(p)
            return
        a = seq_diff(b, o + 8, pcb.una, 0)
        if state == SYN_RCVD:
            if a < 1 or a > pcb.high:
                self._rst_seq_ack(p, o)
                pbuf.free(p)
                return
            pcb.state = ESTABLISHED
            lst = pcb.listener
            if lst is not None:
                lst.pending -= 1
            pcb.listener = None
            self._win_from(pcb, b, o, pcb.snd_ws)
            if lst is None:
                # simultaneous open (RFC 9293 figure 8): our connect() completes
                ctr["tcp_connected"] += 1
                cb = pcb.connected_cb
                if cb is not None:
                    cb(pcb)
            else:
                ctr["tcp_accepted"] += 1
                cb = lst.accept_cb
                if cb is None or cb(pcb) is False:
                    pbuf.free(p)
                    self.abort(pcb)
                    return
            state = pcb.state
            if state == CLOSED:
                pbuf.free(p)
                return
        if a > pcb.high:
            ctr["tcp_ack_unsent"] += 1
            self.send_ack(pcb)
            pbuf.free(p)
            return
        if a < -pcb.max_snd_wnd:
            self._challenge_ack(pcb)        # RFC 5961 5.2: too old to be true
            pbuf.free(p)
            return
        wnd = be16(b, o + 14) << pcb.snd_ws
        if pcb.persist_at != _NO_TIMER:
            pcb.retries = 0                 # it answers our probes: alive (RFC 1122 4.2.2.17)
        if pcb.sack_ok and doff > TCP_HLEN and pcb.high > 0:
            self._sack_in(pcb, b, o, doff)
        if a > 0:
            self._acked(pcb, a)
        elif a == 0 and dlen == 0 and not fl & FIN and pcb.nxt > 0 and wnd == pcb.snd_wnd:
            self._dupack(pcb)
        # window update (RFC 9293 3.10.7.4)
        if seq_lt(pcb.wl1, 0, b, o + 4) or (same(pcb.wl1, 0, b, o + 4, 4) and
                                              not seq_lt(b, o + 8, pcb.wl2, 0)):
            pcb.snd_wnd = wnd
            if wnd > pcb.max_snd_wnd:
                pcb.max_snd_wnd = wnd
            copy_field(pcb.wl1, 0, b, o + 4, 4)
            copy_field(pcb.wl2, 0, b, o + 8, 4)
            if wnd:
                pcb.persist_at = _NO_TIMER
                pcb.persist_backoff = 0
        state = pcb.state
        if pcb.fin_acked:
            if state == FIN_WAIT_1:
                pcb.state = state = FIN_WAIT_2
            elif state == CLOSING:
                self._time_wait(pcb)
                state = TIME_WAIT
            elif state == LAST_ACK:
                ctr["tcp_closed"] += 1
                self._free(pcb)
                pbuf.free(p)
                return
        if state == TIME_WAIT:
            if fl & FIN:
                self.send_ack(pcb)          # the peer's FIN again: our ACK was lost
                pcb.tw_at = ticks_add(self.st.now, 2 * config.TCP_MSL_MS)
            pbuf.free(p)
            return
        if dlen and state in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2):
            self._data_in(pcb, p, hl + doff, rel, dlen, fl)
        else:
            if fl & FIN and rel == 0 and not dlen:
                self._fin_in(pcb)
            pbuf.free(p)
        if pcb.state != CLOSED:
            self.output(pcb)

    def _data_in(self, pcb, p, hdr, rel, dlen, fl):
        """Payload of an acceptable segment (hdr: IP + TCP header bytes before
        it; rel: its offset from RCV.NXT). In order, it goes up with what the
        out-of-order queue now continues; ahead of a gap, it waits there."""
        ctr = self.ctr
        fin = fl & FIN
        start = -rel if rel < 0 else 0      # bytes of it we already have
        end = dlen
        room = pcb.rcv_wnd - (rel + start)  # rel + start: where the new bytes go
        if end - start > room:
            end = start + room              # beyond the window: not ours yet
            fin = 0
        if end <= start:
            pbuf.free(p)
            if fin and rel + dlen == 0:
                self._fin_in(pcb)
            else:
                self._ack_now(pcb)
            return
        if start == 0 and p.len >= hdr:
            pbuf.header(p, -hdr)            # the segment's own blocks, as they came
            if p.tot > end:
                pbuf.trim(p, end)
            d = p
        else:
            d = pbuf.views(p, hdr + start, end - start)
            pbuf.free(p)
            if d is None:
                ctr["tcp_drop_no_buffer"] += 1
                return
        if not pbuf.charge(d, pool.H_TCP):
            ctr["tcp_drop_no_buffer"] += 1  # not acknowledged: the peer sends it again
            pbuf.free(d)
            return
        off = rel + start
        if off > 0:
            self._ooseq_add(pcb, off, off + (end - start), d)
            self._ack_now(pcb)              # a duplicate ACK tells the sender at once
            return
        self._deliver(pcb, d)
        # what the out-of-order queue holds next
        q = pcb.ooseq
        filled = False
        while q and q[0][0] <= 0 and pcb.state != CLOSED:
            f = q.pop(0)
            d = f[2]
            if f[1] <= 0:
                pbuf.free(d)                # all of it came again meanwhile
                continue
            if f[0] < 0:
                v = pbuf.views(d, -f[0], f[1])
                pbuf.free(d)
                if v is None:
                    continue
                d = v
            filled = True
            self._deliver(pcb, d)
        if pcb.state == CLOSED:
            return
        if fin and not q:
            self._fin_in(pcb)
        elif q or filled:
            self._ack_now(pcb)
        else:
            self._ack_later(pcb)

    def _deliver(self, pcb, d):
        """In-order bytes (chain d) to the application."""
        n = d.tot
        seq_add(pcb.rcv_nxt, 0, pcb.rcv_nxt, 0, n)
        pcb.rcv_ann -= n                    # the announced right edge stays where it was
        if pcb.rcv_ann < 0:
            pcb.rcv_ann = 0
        pcb.rcv_wnd -= n
        if pcb.rcv_wnd < 0:
            pcb.rcv_wnd = 0
        for f in pcb.ooseq:
            f[0] -= n
            f[1] -= n
        pcb.unacked_segs += 1
        self.ctr["tcp_rx_bytes"] += n
        k = 0
        q = d
        while q is not None:
            if q.blk >= 0 and q.done is None:
                q.done = pcb.rx_done        # the window reopens as the application lets go
                k += 1
            q = q.next
        pcb.rx_blocks += k
        cb = pcb.recv_cb
        if cb is None:
            pbuf.free(d)
            pcb.rcv_wnd += n                    # nobody reads: discard, keep the window
        else:
            cb(pcb, d)

    def _ooseq_add(self, pcb, s, e, d):
        q = pcb.ooseq
        for f in q:
            if not (e <= f[0] or s >= f[1]):
                self.ctr["tcp_ooseq_overlap"] += 1
                pbuf.free(d)                    # overlaps what we hold: keep the first
                return
        if len(q) >= config.TCP_OOSEQ_MAX:
            self.ctr["tcp_ooseq_full"] += 1
            pbuf.free(d)
            return
        i = 0
        while i < len(q) and q[i][0] < s:
            i += 1
        pcb.ooseq_n = pcb.ooseq_n + 1 if q else 1
        q.insert(i, [s, e, d, pcb.ooseq_n])
        self.ctr["tcp_ooseq"] += 1
        self._ooseq_timer(pcb)

    def _ooseq_timer(self, pcb):
        """Out-of-order data is kept TCP_OOSEQ_TIMEOUT_RTOS RTOs after the
        peer's last acceptable segment (as lwIP's TCP_OOSEQ_TIMEOUT): a peer
        that went away leaves no blocks held for good (a few such
        connections would hold TCP's whole block quota)."""
        pcb.ooseq_at = ticks_add(self.st.now, config.TCP_OOSEQ_TIMEOUT_RTOS * pcb.rto)

    def _ooseq_expire(self, pcb):
        """Free what the out-of-order queue holds (RFC 2018 allows reneging
        on SACKed data: the peer sends it again)."""
        for f in pcb.ooseq:
            pbuf.free(f[2])
            self.ctr["tcp_ooseq_expired"] += 1
        pcb.ooseq = []
        pcb.ooseq_at = _NO_TIMER

    def _ack_now(self, pcb):
        self.send_ack(pcb)

    def _ack_later(self, pcb):
        if pcb.unacked_segs >= 2:
            # every second segment (RFC 5681 4.2), but once per poll round: a
            # batch of segments taken in one round gets one ACK at its end
            # (unless a reply of ours carries it first)
            pcb.ack_due = True
            self._mark(pcb)
        elif pcb.ack_at == _NO_TIMER:
            pcb.ack_at = ticks_add(self.st.now, config.TCP_DELACK_MS)

    def _fin_in(self, pcb):
        if pcb.fin_rcvd:
            self.send_ack(pcb)
            return
        pcb.fin_rcvd = True
        seq_add(pcb.rcv_nxt, 0, pcb.rcv_nxt, 0, 1)
        state = pcb.state
        if state in (SYN_RCVD, ESTABLISHED):
            pcb.state = CLOSE_WAIT
        elif state == FIN_WAIT_1:
            if pcb.fin_acked:
                self._time_wait(pcb)
            else:
                pcb.state = CLOSING
        elif state == FIN_WAIT_2:
            self._time_wait(pcb)
        self.send_ack(pcb)
        cb = pcb.recv_cb
        if cb is not None:
            cb(pcb, None)

    def _time_wait(self, pcb):
        pcb.state = TIME_WAIT
        pcb.tw_at = ticks_add(self.st.now, 2 * config.TCP_MSL_MS)
        pcb.rto_at = pcb.persist_at = pcb.ack_at = _NO_TIMER
        q = pcb.sq
        if q is not None:
            pbuf.free(q)
        pcb.sq = pcb.sq_tail = None
        pcb.sq_len = 0
        for f in pcb.ooseq:
            pbuf.free(f[2])
        pcb.ooseq = []

    def _acked(self, pcb, a):
        """a more sequence numbers acknowledged (SYN, data, FIN)."""
        now = self.st.now
        total = a
        if pcb.syn_unacked:
            pcb.syn_unacked = 0
            a -= 1
        data = a if a < pcb.sq_len else pcb.sq_len
        if data:
            self._trim_sq(pcb, data)
        a -= data
        if a > 0 and pcb.fin_queued:
            pcb.fin_acked = True
        seq_add(pcb.una, 0, pcb.una, 0, total)
        pcb.nxt -= total
        if pcb.nxt < 0:
            pcb.nxt = 0
        pcb.high -= total
        if pcb.sk_n:
            self._sack_shift(pcb, total)
        pcb.rexmit -= total
        if pcb.rexmit < 0:
            pcb.rexmit = 0
        if pcb.recover >= 0:
            pcb.recover -= total
        # RTT (RFC 6298), from new data only (Karn)
        if pcb.rtt_end >= 0:
            pcb.rtt_end -= total
            if pcb.rtt_end <= 0:
                r = ticks_diff(now, pcb.rtt_t0)
                if r < 1:
                    r = 1
                if pcb.srtt == 0:
                    pcb.srtt = r
                    pcb.rttvar = r >> 1
                else:
                    d = pcb.srtt - r
                    if d < 0:
                        d = -d
                    pcb.rttvar = (3 * pcb.rttvar + d) >> 2
                    pcb.srtt = (7 * pcb.srtt + r) >> 3
                k = 4 * pcb.rttvar
                if k < config.TIMER_TICK_MS:
                    k = config.TIMER_TICK_MS
                self._set_rto(pcb, pcb.srtt + k)
                pcb.rtt_end = -1
        pcb.retries = 0
        # congestion control (RFC 5681, NewReno RFC 6582)
        mss = pcb.mss
        if pcb.recover >= 0:
            if pcb.recover <= 0:
                pcb.recover = -1            # full ACK: recovery is over
                pcb.cwnd = pcb.ssthresh
            else:
                # partial ACK: the next hole is lost too
                self._retransmit_first(pcb)
                pcb.cwnd -= data
                if pcb.cwnd < mss:
                    pcb.cwnd = mss
                pcb.cwnd += mss
        elif pcb.cwnd < pcb.ssthresh:
            pcb.cwnd += data if data < mss else mss
        else:
            inc = (mss * mss) // pcb.cwnd
            pcb.cwnd += inc if inc > 0 else 1
        if pcb.cwnd > 0x3FFFFFF:
            pcb.cwnd = 0x3FFFFFF
        pcb.dupacks = 0
        pcb.rto_at = ticks_add(now, pcb.rto) if pcb.nxt > 0 else _NO_TIMER
        if data:
            cb = pcb.sent_cb
            if cb is not None:
                cb(pcb, data)

    def _set_rto(self, pcb, v):
        if v < config.TCP_RTO_MIN_MS:
            v = config.TCP_RTO_MIN_MS
        if v > config.TCP_RTO_MAX_MS:
            v = config.TCP_RTO_MAX_MS
        pcb.rto = v

    def _dupack(self, pcb):
        self.ctr["tcp_dup_ack"] += 1
        pcb.dupacks += 1
        mss = pcb.mss
        if pcb.dupacks == 3 and pcb.recover < 0:
            self.ctr["tcp_fast_retransmit"] += 1
            flight = pcb.high
            ss = flight >> 1
            pcb.ssthresh = ss if ss > 2 * mss else 2 * mss
            pcb.recover = pcb.high
            self._retransmit_first(pcb)
            pcb.cwnd = pcb.ssthresh + 3 * mss
        elif pcb.dupacks > 3:
            pcb.cwnd += mss                 # each further duplicate: a segment left the network
            if pcb.recover >= 0 and pcb.sk_n:
                self._retransmit_hole(pcb)  # RFC 6675: the next hole the SACKs show

    # --- SACK scoreboard (RFC 2018, RFC 6675) ---------------------------------------------
    def _sack_in(self, pcb, b, o, doff):
        """Note the SACK blocks of an ACK (offsets from SND.UNA; a D-SACK or a
        block beyond what we sent is ignored)."""
        i = self._find_opt(b, o, doff, OPT_SACK)
        if i < 0:
            return
        ln = b[i + 1]
        if ln < 10 or (ln - 2) & 7:
            self.ctr["tcp_bad_options"] += 1
            return
        k = i + 2
        end = i + ln
        while k + 8 <= end:
            s = seq_diff(b, k, pcb.una, 0)
            e = seq_diff(b, k + 4, pcb.una, 0)
            if 0 < s < e <= pcb.high:
                self._sack_add(pcb, s, e)
            k += 8

    def _sack_add(self, pcb, s, e):
        sk = pcb.sk
        n = pcb.sk_n
        i = 0
        while i < n:                        # absorb the ranges it touches
            a0 = sk[2 * i]
            a1 = sk[2 * i + 1]
            if e < a0 or s > a1:
                i += 1
                continue
            if a0 < s:
                s = a0
            if a1 > e:
                e = a1
            j = i
            while j < n - 1:
                sk[2 * j] = sk[2 * j + 2]
                sk[2 * j + 1] = sk[2 * j + 3]
                j += 1
            n -= 1
        if n == SACK_RANGES:
            if s < sk[0]:
                pcb.sk_n = n                # full: keep the ranges nearest UNA
                return
            n -= 1                          # the highest range makes way
        i = n
        while i > 0 and sk[2 * i - 2] > s:
            sk[2 * i] = sk[2 * i - 2]
            sk[2 * i + 1] = sk[2 * i - 1]
            i -= 1
        sk[2 * i] = s
        sk[2 * i + 1] = e
        pcb.sk_n = n + 1

    def _sack_shift(self, pcb, total):
        """SND.UNA moved by total: ranges follow it; acknowledged ones go."""
        sk = pcb.sk
        m = 0
        for i in range(pcb.sk_n):
            s = sk[2 * i] - total
            e = sk[2 * i + 1] - total
            if e <= 0:
                continue
            sk[2 * m] = s if s > 0 else 0
            sk[2 * m + 1] = e
            m += 1
        pcb.sk_n = m

    def _sacked_below(self, pcb, x):
        sk = pcb.sk
        n = 0
        for i in range(pcb.sk_n):
            s = sk[2 * i]
            if s < x:
                e = sk[2 * i + 1]
                n += (e if e < x else x) - s
        return n

    def _skip_sacked(self, pcb, x):
        """The first offset at or after x that the peer has not SACKed."""
        sk = pcb.sk
        for i in range(pcb.sk_n):
            if sk[2 * i] <= x < sk[2 * i + 1]:
                x = sk[2 * i + 1]
        return x

    def _retransmit_hole(self, pcb):
        """Send the next segment the peer lacks below its highest SACKed byte."""
        base = pcb.syn_unacked
        sk = pcb.sk
        top = sk[2 * pcb.sk_n - 1]
        x = self._skip_sacked(pcb, pcb.rexmit if pcb.rexmit > base else base)
        if x >= top:
            return
        n = top - x
        for i in range(pcb.sk_n):
            if sk[2 * i] > x and sk[2 * i] - x < n:
                n = sk[2 * i] - x
        if n > pcb.mss:
            n = pcb.mss
        if x - base + n > pcb.sq_len:
            n = pcb.sq_len - (x - base)
        if n <= 0:
            return
        self.ctr["tcp_retransmit"] += 1
        self.ctr["tcp_sack_retransmit"] += 1
        self._segment(pcb, x, ACK, x - base, n)
        pcb.rexmit = x + n
        pcb.rtt_end = -1

    def _retransmit_first(self, pcb):
        """Send the first unacknowledged segment again (fast retransmit)."""
        base = pcb.syn_unacked
        n = pcb.sq_len
        if n > pcb.mss:
            n = pcb.mss
        if n <= 0:
            return
        flags = ACK | (PSH if n == pcb.sq_len else 0)
        self.ctr["tcp_retransmit"] += 1
        self._segment(pcb, base, flags, 0, n)
        pcb.rexmit = base + n
        if pcb.rtt_end >= 0:
            pcb.rtt_end = -1                # Karn: no sample across a retransmission

    # --- timers -----------------------------------------------------------------------
    def tick(self, now):
        self._ts_clock()
        for pcb in list(self.active):
            if pcb.state == CLOSED:
                continue
            if pcb.tw_at != _NO_TIMER:
                if ticks_diff(now, pcb.tw_at) >= 0:
                    self.ctr["tcp_timewait_expired"] += 1
                    self._free(pcb)
                continue
            if pcb.rto_at != _NO_TIMER and ticks_diff(now, pcb.rto_at) >= 0:
                self._rto(pcb, now)
                if pcb.state == CLOSED:
                    continue
            if pcb.persist_at != _NO_TIMER and ticks_diff(now, pcb.persist_at) >= 0:
                self._probe(pcb, now)
            if pcb.ack_at != _NO_TIMER and ticks_diff(now, pcb.ack_at) >= 0:
                self.send_ack(pcb)
            if pcb.ooseq and ticks_diff(now, pcb.ooseq_at) >= 0:
                self._ooseq_expire(pcb)
            if pcb._ka:
                self._keepalive(pcb, now)
            if pcb.blocked:
                self.output(pcb)

    def poll(self):
        """After a poll round's reap: resume output a full TX ring stopped,
        announce a window that blocks given back reopened, and reap again if
        that sent anything (a driver may only put frames on the wire at reap:
        TAP's writev), so it leaves in this poll, not at the next one (up to
        a timer tick later)."""
        n = self.todo_n
        if not n:
            return
        todo = self.todo
        sent = False
        for i in range(n):
            pcb = todo[i]
            todo[i] = None
            pcb.in_todo = False
            if pcb.state == CLOSED:
                continue
            if pcb.ack_due:
                pcb.ack_due = False
                if pcb.unacked_segs:
                    self.send_ack(pcb)
                    sent = True
            if pcb.blocked and self.output(pcb):
                sent = True
            if pcb.wnd_check:
                pcb.wnd_check = False
                if pcb.state in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2) and \
                        self._wnd_now(pcb) - pcb.rcv_ann_w >= pcb.mss:
                    self.send_ack(pcb)
                    sent = True
        # those marked again meanwhile (output still stopped) wait for the next round
        k = 0
        for i in range(n, self.todo_n):
            todo[k] = todo[i]
            todo[i] = None
            k += 1
        self.todo_n = k
        if sent:
            self.st.netif.reap()

    def _mark(self, pcb):
        """pcb has something for the next poll() (at most once on the list)."""
        if pcb.in_todo:
            return
        pcb.in_todo = True
        n = self.todo_n
        if n == len(self.todo):
            self.todo.append(None)      # more than TCP_MAX_PCBS (changed since): grow once
        self.todo[n] = pcb
        self.todo_n = n + 1

    def _rto(self, pcb, now):
        ctr = self.ctr
        pcb.retries += 1
        limit = config.TCP_SYN_RETRIES if pcb.state in (SYN_SENT, SYN_RCVD) else config.TCP_MAX_RETRIES
        if pcb.retries > limit:
            ctr["tcp_timeout"] += 1
            if pcb.state == SYN_RCVD:
                self._free(pcb)
            else:
                if pcb.state not in (SYN_SENT,):
                    self._send_rst_for(pcb)
                self._gone(pcb, ETIMEDOUT)
            return
        ctr["tcp_rto"] += 1
        # RFC 6298 5.5-5.7: back off, go back to UNA, one segment at a time
        self._set_rto(pcb, pcb.rto * 2)
        pcb.rtt_end = -1
        mss = pcb.mss
        flight = pcb.high
        ss = flight >> 1
        pcb.ssthresh = ss if ss > 2 * mss else 2 * mss
        pcb.cwnd = mss
        pcb.recover = -1
        pcb.dupacks = 0
        pcb.rto_at = _NO_TIMER
        if pcb.retries >= 2:
            pcb.sk_n = 0                    # the peer may have reneged on its SACKs (RFC 2018 8)
        pcb.nxt = 0
        if pcb.state in (SYN_SENT, SYN_RCVD):
            ctr["tcp_retransmit"] += 1
            self._send_syn(pcb)
            return
        if pcb.syn_unacked:
            pcb.nxt = 1
        ctr["tcp_retransmit"] += 1
        self.output(pcb)
        if pcb.rto_at == _NO_TIMER and pcb.high > 0 and pcb.persist_at == _NO_TIMER:
            pcb.rto_at = ticks_add(now, pcb.rto)

    def _keepalive(self, pcb, now):
        """RFC 9293 3.8.4 / RFC 1122 4.2.3.6: after TCP_KEEPIDLE_MS of silence,
        a probe (one sequence number below SND.NXT) every TCP_KEEPINTVL_MS;
        TCP_KEEPCNT unanswered probes end the connection."""
        if pcb.state not in (ESTABLISHED, CLOSE_WAIT):
            return
        if pcb.high > 0:
            pcb.ka_at = ticks_add(now, config.TCP_KEEPIDLE_MS)   # the RTO watches a busy connection
            pcb.ka_probes = 0
            return
        if pcb.ka_at == _NO_TIMER:
            pcb.ka_at = ticks_add(now, config.TCP_KEEPIDLE_MS)
            return
        if ticks_diff(now, pcb.ka_at) < 0:
            return
        if pcb.ka_probes >= config.TCP_KEEPCNT:
            self.ctr["tcp_timeout"] += 1
            self._send_rst_for(pcb)
            self._gone(pcb, ETIMEDOUT)
            return
        self.ctr["tcp_keepalive_probe"] += 1
        self._segment(pcb, pcb.nxt - 1, ACK, 0, 0)
        pcb.ka_probes += 1
        pcb.ka_at = ticks_add(now, config.TCP_KEEPINTVL_MS)

    def _probe(self, pcb, now):
        """Zero window (RFC 9293 3.8.6.1): one byte beyond the window, backing
        off. The probe is not in flight (no RTO, SND.NXT stays): the persist
        timer alone repeats it, and the connection lives as long as the peer
        answers (RFC 1122 4.2.2.17); unanswered, it gives up like the RTO."""
        pcb.retries += 1
        if pcb.retries > config.TCP_MAX_RETRIES:
            self.ctr["tcp_timeout"] += 1
            self._send_rst_for(pcb)
            self._gone(pcb, ETIMEDOUT)
            return
        self.ctr["tcp_window_probe"] += 1
        base = pcb.syn_unacked
        if pcb.sq_len > 0 and pcb.snd_wnd == 0 and pcb.nxt == base:
            self._segment(pcb, base, ACK, 0, 1)
            if pcb.high < base + 1:
                pcb.high = base + 1         # the peer may take it: its ACK is no ACK of unsent data
        if pcb.persist_backoff < 6:
            pcb.persist_backoff += 1
        pcb.persist_at = ticks_add(now, pcb.rto << pcb.persist_backoff)

    def flush(self):
        """Shutdown: every connection and listener forgotten, blocks freed."""
        for pcb in list(self.active):
            self._free(pcb)
        self.listeners = {}
