# MicroPython's `socket` (modlwip's behaviour and errno values) on the
# stack's raw TCP and UDP APIs. See docs/socket.md.
#
# The module works on one running Stack through a runner (stack/runner.py):
# attach(runner) before making sockets. A blocking call runs runner.step()
# until the socket can proceed or its timeout passes; a non-blocking one
# raises EAGAIN (connect: EINPROGRESS). Every socket has an eventfd that is
# readable while the socket is (data, a connection to accept, the peer's
# FIN, an error), so select.poll sleeps on it.
#
# Copies: recv/recvfrom/read/readinto/readline copy out of the receive blocks
# and count the bytes (pbuf.copied()); recv_view()/release() lend the bytes in
# place (no copy). send/sendall/write of `bytes` queue the object by
# reference (pbuf.rom); send_ref(buf, done) lends a mutable buffer under the
# zero-copy promise; anything else is copied into pool blocks (counted).
import io

from micropython import const

from . import pbuf
from . import eventfd
from .pool import pool
from .tcp import SYN_SENT
from .wire import ip_parse, ip_str, ticks_add, ticks_diff

AF_INET = const(2)
AF_INET6 = const(10)
SOCK_STREAM = const(1)
SOCK_DGRAM = const(2)
SOCK_RAW = const(3)
SOL_SOCKET = const(1)
SO_REUSEADDR = const(0x04)
SO_KEEPALIVE = const(0x08)
SO_BROADCAST = const(0x20)
IPPROTO_IP = const(0)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)
TCP_NODELAY = const(0x40)

EBADF = const(9)
EAGAIN = const(11)
EWOULDBLOCK = const(11)
EACCES = const(13)
EINVAL = const(22)
EOPNOTSUPP = const(95)
EADDRINUSE = const(98)
ENETUNREACH = const(101)
ECONNRESET = const(104)
EISCONN = const(106)
ENOTCONN = const(107)
ETIMEDOUT = const(110)
ECONNREFUSED = const(111)
EHOSTUNREACH = const(113)
EALREADY = const(114)
EINPROGRESS = const(115)

# stream ioctl requests and poll flags (MicroPython's py/stream.h)
_MP_STREAM_POLL = const(3)
_MP_STREAM_CLOSE = const(4)
_MP_STREAM_GET_FILENO = const(10)
_POLL_RD = const(0x01)
_POLL_WR = const(0x04)
_POLL_ERR = const(0x08)
_POLL_HUP = const(0x10)
_POLL_NVAL = const(0x20)

# socket states
_NEW = const(0)
_LISTEN = const(1)
_CONNECTING = const(2)
_CONNECTED = const(3)
_ERROR = const(4)       # self.err holds the errno
_CLOSED = const(5)

_UDP_QUEUE = 8

_runner = [None]
_live = []          # sockets not closed yet (close_all() at the stack's shutdown)

try:
    from os import strerror as _strerror       # CPython: errno is set from two arguments
except ImportError:
    _strerror = None


def _err(n):
    """OSError(n) with e.errno == n on both runtimes (MicroPython's own form)."""
    return OSError(n) if _strerror is None else OSError(n, _strerror(n))


def attach(runner):
    """Sockets made from now on work on runner.st, driven by runner.step()."""
    _runner[0] = runner


def runner():
    return _runner[0]


def close_all():
    """Close every socket still open (what a program left behind holds
    blocks): run before Stack.shutdown()."""
    while _live:
        _live[-1].close()


def _addr(addr):
    """(host, port) -> (bytes(4), port); numeric addresses only."""
    try:
        host, port = addr
        if host == "":
            host = "0.0.0.0"
        return ip_parse(host), int(port)
    except (TypeError, ValueError):
        raise _err(EINVAL)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """Numeric addresses only (names come with DNS): one entry, as
    MicroPython's: (family, type, proto, canonname, (ip, port))."""
    if host in ("localhost",):
        host = "127.0.0.1"
    try:
        ip = ip_str(ip_parse(host))
    except (TypeError, ValueError):
        raise OSError(-2)       # no such name (lwIP's negative status, as MicroPython)
    t = type if type else SOCK_STREAM
    return [(AF_INET, t, proto if proto else (IPPROTO_UDP if t == SOCK_DGRAM else IPPROTO_TCP),
             "", (ip, int(port)))]


def _to_pbuf(buf, off, k):
    """A pbuf of buf[off:off+k]: bytes (or a read-only view of bytes) by
    reference, anything else copied into pool blocks (counted). None when
    the pool has no block for it."""
    if pool.readonly(buf):
        return pbuf.rom(buf, off, k)
    return pbuf.copy_from(buf, pool.H_APP, off, k)


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, _pcb=None):
        rt = _runner[0]
        if rt is None:
            raise _err(ENETUNREACH)      # no stack attached (socket.attach)
        if af != AF_INET or type not in (SOCK_STREAM, SOCK_DGRAM):
            raise _err(EINVAL)
        self._rt = rt
        self._st = rt.st
        self.type = type
        self.timeout = -1       # ms; -1 blocking, 0 non-blocking
        self.state = _NEW
        self.err = 0
        self.rq = None          # TCP: received chain; UDP: list of (p, ip, port)
        self.roff = 0
        self.eof = False
        self.aq = []            # accepted sockets not yet taken
        self.backlog = 0
        self.lent = 0           # bytes lent by recv_view()
        self.peer = None        # (bytes(4), port)
        self.reuse = False
        self.bcast_ok = False
        self.fd = eventfd.open()
        self._lit = False
        _live.append(self)
        self.pcb = None
        if type == SOCK_DGRAM:
            self.rq = []
        elif _pcb is not None:
            self._adopt(_pcb)
            self.state = _CONNECTED
            self.peer = (_pcb.remote_ip, _pcb.remote_port)
        else:
            self._adopt(self._st.tcp.new())

    def __repr__(self):
        return "<socket state=%d type=%d fd=%d>" % (self.state, self.type, self.fd)

    # ---- readiness --------------------------------------------------------------------
    def _readable(self):
        if self.state in (_ERROR, _CLOSED) or self.eof or self.aq:
            return True
        if self.type == SOCK_DGRAM:
            return len(self.rq) > 0 or self.err != 0
        return self.rq is not None

    def _writable(self):
        if self.type == SOCK_DGRAM:
            return self._st.netif.tx_room() > 0
        return self.state == _CONNECTED and self.pcb.sndbuf() > 0

    def _sig(self):
        r = self._readable()
        if r != self._lit and self.fd >= 0:
            if r:
                eventfd.set(self.fd)
            else:
                eventfd.clear(self.fd)
            self._lit = r

    def fileno(self):
        return self.fd

    def ioctl(self, req, arg):
        if req == _MP_STREAM_GET_FILENO:
            return self.fd
        if req == _MP_STREAM_POLL:
            if self.state == _CLOSED:
                return _POLL_NVAL
            r = 0
            if arg & _POLL_RD and self._readable():
                r |= _POLL_RD
            if arg & _POLL_WR and (self._writable() or self.eof):
                r |= _POLL_WR
            if self.state == _NEW and self.type == SOCK_STREAM:
                r |= _POLL_HUP
            elif self.state == _ERROR:
                r |= _POLL_HUP if self.err == ECONNRESET else _POLL_ERR
            return r
        if req == _MP_STREAM_CLOSE:
            self.close()
            return 0
        return -1

    # ---- waiting: the runner drives the stack -----------------------------------------
    def _wait(self, cond):
        """Return once cond() holds; EAGAIN (non-blocking) or ETIMEDOUT."""
        if cond():
            return
        rt = self._rt
        rt.pump()           # what arrived meanwhile (no one else drives the stack)
        if cond():
            return
        if self.timeout == 0:
            raise _err(EAGAIN)
        until = None if self.timeout < 0 else ticks_add(rt.now(), self.timeout)
        while not cond():
            if until is not None and ticks_diff(until, rt.now()) <= 0:
                raise _err(ETIMEDOUT)
            rt.step(until)

    def settimeout(self, t):
        if t is None:
            self.timeout = -1
        else:
            if t < 0:
                raise ValueError("timeout < 0")
            self.timeout = int(t * 1000)

    def setblocking(self, flag):
        self.timeout = -1 if flag else 0

    def setsockopt(self, level, opt, val):
        if not isinstance(val, int):
            val = int.from_bytes(bytes(val)[:4], "little") if len(val) else 0
        if level == SOL_SOCKET and opt == SO_REUSEADDR:
            self.reuse = bool(val)
        elif level == SOL_SOCKET and opt == SO_BROADCAST:
            self.bcast_ok = bool(val)
        elif level == SOL_SOCKET and opt == SO_KEEPALIVE and self.type == SOCK_STREAM:
            self.pcb.keepalive = bool(val)
        elif level == IPPROTO_TCP and opt == TCP_NODELAY and self.type == SOCK_STREAM:
            self.pcb.nagle = not val
        else:
            raise _err(EINVAL)

    # ---- TCP callbacks --------------------------------------------------------------------
    def _adopt(self, pcb):
        self.pcb = pcb
        pcb.recv_cb = self._on_recv
        pcb.sent_cb = self._on_sent
        pcb.err_cb = self._on_err

    def _on_recv(self, pcb, p):
        if p is None:
            self.eof = True
        elif self.rq is None:
            self.rq = p
        else:
            pbuf.cat(self.rq, p)
        self._sig()

    def _on_sent(self, pcb, n):
        self._sig()

    def _on_err(self, pcb, e):
        self.state = _ERROR
        self.err = e
        self._free_rq()
        self._sig()

    def _on_connected(self, pcb):
        if self.state == _CONNECTING:
            self.state = _CONNECTED
        self._sig()

    def _on_accept(self, pcb):
        if len(self.aq) >= self.backlog:
            return False        # refused: the peer sees a reset
        self.aq.append(socket(AF_INET, SOCK_STREAM, 0, pcb))
        self._sig()
        return True

    def _free_rq(self):
        if self.type == SOCK_DGRAM:
            for item in self.rq:
                pbuf.free(item[0])
            self.rq = []
        else:
            if self.rq is not None:
                pbuf.free(self.rq)
            self.rq = None
            self.roff = 0
            self.lent = 0

    # ---- setting up ---------------------------------------------------------------------------
    def bind(self, addr):
        ip, port = _addr(addr)
        if self.type == SOCK_DGRAM:
            if self.pcb is not None:
                raise _err(EINVAL)
            self._udp_bind(port)
            return
        tcp = self._st.tcp
        if self.reuse and port and port not in tcp.listeners and tcp._port_used(port):
            # SO_REUSEADDR: the port may be taken while only TIME_WAIT
            # connections (and connections of a closed listener) use it
            self.pcb.lport = port
            return
        self.pcb.bind(port)

    def listen(self, backlog=2):
        if self.type != SOCK_STREAM:
            raise _err(EOPNOTSUPP)
        if self.state != _NEW:
            raise _err(EINVAL)
        if backlog < 1:
            backlog = 1
        self.backlog = backlog
        self.pcb.listen(backlog)
        self.pcb.accept_cb = self._on_accept
        self.state = _LISTEN

    def accept(self):
        if self.state != _LISTEN:
            raise _err(EINVAL if self.state != _CLOSED else EBADF)
        self._wait(lambda: len(self.aq) > 0)
        s = self.aq.pop(0)
        self._sig()
        return s, (ip_str(s.peer[0]), s.peer[1])

    def connect(self, addr):
        ip, port = _addr(addr)
        if self.type == SOCK_DGRAM:
            self.peer = (ip, port)
            if self.pcb is None:
                self._udp_bind(0)
            self.err = 0
            return
        if self.state != _NEW:
            if self.state == _CONNECTED:
                raise _err(EISCONN)
            if self.state == _CLOSED:
                raise _err(EBADF)
            if self.state == _ERROR:
                raise _err(self.err)
            raise _err(EALREADY)     # still connecting
        self.pcb.connect(ip, port, self._on_connected)
        self.peer = (ip, port)
        self.state = _CONNECTING
        self._rt.pump()
        try:
            self._wait(lambda: self.state != _CONNECTING)
        except OSError as e:
            if e.errno == EAGAIN:
                raise _err(EINPROGRESS)
            raise
        if self.state == _ERROR:
            raise _err(self.err)

    # ---- receiving ----------------------------------------------------------------------
    def _check_read(self):
        if self.state == _CLOSED:
            raise _err(EBADF)
        if self.state in (_NEW, _LISTEN, _CONNECTING) and self.type == SOCK_STREAM:
            raise _err(ENOTCONN)

    def _ready_or_eof(self):
        return self.rq is not None or self.eof or self.state != _CONNECTED

    def _avail(self):
        return 0 if self.rq is None else self.rq.tot - self.roff

    def _consume(self, k):
        self.roff += k
        while self.rq is not None and self.roff >= self.rq.len:
            h = self.rq
            nxt = h.next
            self.roff -= h.len
            h.next = None
            h.tot = h.len
            pbuf.free(h)
            self.rq = nxt
        if self.rq is None:
            self.roff = 0
        if self.state in (_CONNECTED,) and k:
            self.pcb.recved(k)
        self._sig()

    def _stream_wait(self):
        """Wait for data, the peer's FIN or an error. True: data is there."""
        self._check_read()
        if self.lent:
            raise _err(EALREADY)     # recv_view() not released
        self._wait(self._ready_or_eof)
        if self.rq is not None:
            return True
        if self.state == _ERROR:
            raise _err(self.err)
        return False

    def recv(self, n):
        if self.type == SOCK_DGRAM:
            return self._udp_recv(n)[0]
        if not self._stream_wait():
            return b""
        k = self._avail()
        if k > n:
            k = n
        b = pbuf.copy_bytes(self.rq, self.roff, k)
        self._consume(k)
        return b

    def recvfrom(self, n):
        if self.type == SOCK_DGRAM:
            return self._udp_recv(n)
        data = self.recv(n)
        return data, (ip_str(self.peer[0]), self.peer[1])

    def recv_view(self):
        """Zero copy: a memoryview over the next received bytes as they lie in
        their block (one segment's worth), b"" at the end of the stream.
        Read only, by contract; valid until release(), which must come before
        any other receive call on this socket."""
        if self.type != SOCK_STREAM:
            raise _err(EOPNOTSUPP)
        if self.lent:
            raise _err(EALREADY)
        if not self._stream_wait():
            return b""
        p = self.rq
        a = p.off + self.roff
        k = p.len - self.roff
        self.lent = k
        return memoryview(p.buf)[a:a + k]

    def release(self):
        """Give back what recv_view() lent (opens the receive window)."""
        k = self.lent
        if k:
            self.lent = 0
            self._consume(k)

    def _read_into(self, dst, n):
        """Stream read as MicroPython's: until n bytes or the end of the
        stream; a non-blocking socket returns what it has (None: nothing)."""
        got = 0
        while got < n:
            try:
                if not self._stream_wait():
                    break
            except OSError as e:
                if got and e.errno in (EAGAIN, ETIMEDOUT):
                    break           # what was read is the caller's, not lost
                if e.errno == EAGAIN:
                    return None
                raise
            k = self._avail()
            if k > n - got:
                k = n - got
            pbuf.copy_out(self.rq, self.roff, dst, got, k)
            got += k
            self._consume(k)
        return got

    def readinto(self, buf, n=-1):
        if self.type == SOCK_DGRAM:
            data = self._udp_recv(len(buf) if n < 0 else n)[0]
            buf[:len(data)] = data
            return len(data)
        if n < 0 or n > len(buf):
            n = len(buf)
        return self._read_into(buf, n)

    def read(self, n=-1):
        if n is None or n < 0:
            out = bytearray()
            while True:
                try:
                    k = self._read_into_chunk(out)
                except OSError as e:
                    if out and e.errno == ETIMEDOUT:
                        return bytes(out)
                    raise
                if k is None:
                    return bytes(out) if out else None
                if k == 0:
                    return bytes(out)
        buf = bytearray(n)
        k = self._read_into(buf, n)
        if k is None:
            return None
        return bytes(memoryview(buf)[:k]) if k < n else bytes(buf)

    def _read_into_chunk(self, out):
        try:
            if not self._stream_wait():
                return 0
        except OSError as e:
            if e.errno == EAGAIN:
                return None
            raise
        k = self._avail()
        out.extend(pbuf.copy_bytes(self.rq, self.roff, k))
        self._consume(k)
        return k

    def readline(self):
        out = bytearray()
        while True:
            try:
                if not self._stream_wait():
                    break
            except OSError as e:
                if e.errno == EAGAIN or (out and e.errno == ETIMEDOUT):
                    break
                raise
            # look for the newline in the bytes we hold, one pbuf at a time
            p = self.rq
            off = self.roff
            k = 0
            found = False
            while p is not None and not found:
                b = p.buf
                i = p.off + off
                e = p.off + p.len
                while i < e:
                    k += 1
                    if b[i] == 10:
                        found = True
                        break
                    i += 1
                off = 0
                p = p.next
            out.extend(pbuf.copy_bytes(self.rq, self.roff, k))
            self._consume(k)
            if found:
                break
        return bytes(out)

    # ---- sending --------------------------------------------------------------------------
    def _check_write(self):
        if self.state == _CLOSED:
            raise _err(EBADF)
        if self.state == _ERROR:
            raise _err(self.err)
        if self.state != _CONNECTED:
            raise _err(ENOTCONN)

    def _can_write(self):
        return self.state != _CONNECTED or self.pcb.sndbuf() > 0

    def _send_some(self, buf, off, n, done=None):
        """Queue some of buf[off:off+n] (at least one byte): the count, or
        EAGAIN/ETIMEDOUT. With `done`, buf is lent (pbuf.ref_buf)."""
        while True:
            self._check_write()
            self._wait(self._can_write)
            self._check_write()
            k = self.pcb.sndbuf()
            if k > n:
                k = n
            if done is not None:
                p = pbuf.ref_buf(buf, off, k, done)
            else:
                p = _to_pbuf(buf, off, k)
            if p is not None:
                e = self.pcb.write(p)
                if e == 0:
                    self._rt.pump()
                    return k
                pbuf.free(p)
                if e != EAGAIN:
                    raise _err(e)
            # no block for a copy, or no quota: wait for acknowledgements
            if self.timeout == 0:
                raise _err(EAGAIN)
            self._rt.step(ticks_add(self._rt.now(), 10))

    @staticmethod
    def _buf(data):
        if isinstance(data, str):
            return data.encode()
        return data

    def send(self, data):
        data = self._buf(data)
        if self.type == SOCK_DGRAM:
            if self.peer is None:
                raise _err(ENOTCONN)
            return self._udp_send(data, self.peer[0], self.peer[1])
        if len(data) == 0:
            self._check_write()
            return 0
        return self._send_some(data, 0, len(data))

    def sendall(self, data):
        data = self._buf(data)
        if self.type == SOCK_DGRAM:
            self.send(data)
            return
        n = len(data)
        off = 0
        while off < n:
            off += self._send_some(data, off, n - off)

    def write(self, data):
        """Stream write as MicroPython's: all of it (blocking); a
        non-blocking socket writes what fits (None: nothing)."""
        data = self._buf(data)
        if self.type == SOCK_DGRAM:
            return self.send(data)
        n = len(data)
        off = 0
        while off < n:
            try:
                off += self._send_some(data, off, n - off)
            except OSError as e:
                if e.errno == EAGAIN:
                    return off if off else None
                raise
        return off

    def send_ref(self, buf, done=None):
        """Zero copy send of a mutable buffer under the promise: buf is
        neither written nor resized until done(buf) runs (every byte
        acknowledged and every frame that pointed at it reaped). Blocking:
        all of it is queued; non-blocking: what fits (EAGAIN: nothing).
        Returns the bytes queued."""
        if self.type != SOCK_STREAM:
            raise _err(EOPNOTSUPP)
        st = [0, False]         # pieces outstanding, all queued

        def piece(b):
            st[0] -= 1
            if st[0] == 0 and st[1] and done is not None:
                done(buf)

        n = len(buf)
        off = 0
        try:
            while off < n:
                st[0] += 1
                try:
                    off += self._send_some(buf, off, n - off, piece)
                except OSError:
                    st[0] -= 1
                    if off == 0 or self.timeout != 0:
                        raise
                    break
        finally:
            st[1] = True
            if st[0] == 0 and off and done is not None:
                done(buf)
        return off

    # ---- UDP ------------------------------------------------------------------------------------
    def _udp_bind(self, port):
        udp = self._st.udp
        if port == 0:
            import os
            for _ in range(64):
                r = os.urandom(2)
                port = 49152 + (((r[0] << 8) | r[1]) % 16384)
                if port not in udp.pcbs:
                    break
        try:
            self.pcb = udp.bind(port, self._on_udp, self._on_udp_err)
        except OSError:
            raise _err(EADDRINUSE)
        self.state = _CONNECTED

    def _on_udp(self, p, src, sport, cast):
        peer = self.peer
        if peer is not None and (sport != peer[1] or bytes(src) != peer[0]):
            pbuf.free(p)        # a connected socket takes only its peer's datagrams
            return
        if len(self.rq) >= _UDP_QUEUE or not pbuf.charge(p, pool.H_UDP):
            self._st.ctr["udp_queue_full"] += 1
            pbuf.free(p)
            return
        self.rq.append((p, bytes(src), sport))
        self._sig()

    def _on_udp_err(self, typ, code, dst, dport):
        peer = self.peer
        if peer is None or dport != peer[1] or bytes(dst) != peer[0]:
            return          # reported on connected sockets only (as Linux)
        if typ == 3:
            self.err = ECONNREFUSED if code == 3 else (ENETUNREACH if code == 0 else EHOSTUNREACH)
        else:
            self.err = EHOSTUNREACH
        self._sig()

    def _udp_error(self):
        e = self.err
        if e:
            self.err = 0
            self._sig()
            raise _err(e)

    def _udp_recv(self, n):
        if self.state == _CLOSED:
            raise _err(EBADF)
        if self.pcb is None:
            raise _err(ENOTCONN)
        self._udp_error()
        self._wait(lambda: len(self.rq) > 0 or self.err != 0)
        self._udp_error()
        p, ip, port = self.rq.pop(0)
        k = p.tot if p.tot < n else n
        b = pbuf.copy_bytes(p, 0, k)
        pbuf.free(p)
        self._sig()
        return b, (ip_str(ip), port)

    def sendto(self, data, addr):
        data = self._buf(data)
        if self.type != SOCK_DGRAM:
            raise _err(EOPNOTSUPP)
        ip, port = _addr(addr)
        return self._udp_send(data, ip, port)

    def _udp_send(self, data, ip, port):
        if self.state == _CLOSED:
            raise _err(EBADF)
        self._udp_error()
        st = self._st
        if not self.bcast_ok and (ip == b"\xff\xff\xff\xff" or (st.has_bcast and ip == st.bcast)):
            raise _err(EACCES)
        if self.pcb is None:
            self._udp_bind(0)
        n = len(data)
        while True:
            p = _to_pbuf(data, 0, n)
            if p is not None:
                e = st.udp.sendto(p, self.pcb.port, ip, port)
                if e == 0:
                    self._rt.pump()
                    return n
                if e != EAGAIN:
                    raise _err(e)
                pbuf.free(p)
            # the TX ring is full (or no block for the copy): wait for it
            self._wait(lambda: st.netif.tx_room() > 0 and pool.room(pool.H_APP) > 0)
            if self.timeout == 0:
                raise _err(EAGAIN)
            self._rt.step(ticks_add(self._rt.now(), 1))

    # ---- the end ----------------------------------------------------------------------------------
    def close(self):
        if self.state == _CLOSED:
            return
        try:
            _live.remove(self)
        except ValueError:
            pass
        self._free_rq()
        pcb = self.pcb
        if self.type == SOCK_DGRAM:
            if pcb is not None:
                pcb.close()
        else:
            for s in self.aq:
                s.pcb.abort()
                s.close()
            self.aq = []
            pcb.recv_cb = _drain
            pcb.sent_cb = None
            pcb.err_cb = None
            pcb.accept_cb = None
            if self.state == _ERROR:
                pass
            elif pcb.state == SYN_SENT:
                pcb.abort()
            else:
                pcb.close()
            self._rt.pump()
        self.state = _CLOSED
        self._close_fd()

    def _close_fd(self):
        if self.fd >= 0:
            eventfd.close(self.fd)
        self.fd = -1

    def makefile(self, mode="rb", buffering=0):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def getpeername(self):
        if self.peer is None:
            raise _err(ENOTCONN)
        return ip_str(self.peer[0]), self.peer[1]


def _drain(pcb, p):
    """A closed socket's connection: what still arrives is read and dropped."""
    if p is None:
        return
    n = p.tot
    pbuf.free(p)
    pcb.recved(n)


error = OSError
