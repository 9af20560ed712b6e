# stack/socket.py: MicroPython's socket API on two Stacks joined back to
# back by memifs, driven by a ManualRunner (a clock that moves 1 ms a step,
# no sleeping). Runs on CPython and on MicroPython (both widths).
import hashlib

from support import MICROPYTHON, PEER_MAC, US_MAC, raises, skip

A_IP = "198.51.100.2"
B_IP = "198.51.100.1"


class Pair:
    """Stacks a (A_IP) and b (B_IP) on connected memifs; ra/rb the runners
    whose sockets live on a/b; `socket` the module, attached to ra."""

    def __init__(self, tx_ring=32):
        from stack import memif, pbuf
        from stack import socket as zsock
        from stack.core import Stack
        from stack.pool import pool
        from stack.runner import ManualRunner
        self.pool = pool
        self.pbuf = pbuf
        ps = pool.stats()
        self.limits = (list(ps["quota"]), ps["reserve"], list(ps["hdr_quota"]))
        ma = memif.Memif("a", tx_ring=tx_ring, wire_queue=256)
        mb = memif.Memif("b", tx_ring=tx_ring, wire_queue=256)
        memif.connect(ma, mb)
        self.a = Stack(ma, US_MAC, A_IP, 24)
        self.b = Stack(mb, PEER_MAC, B_IP, 24)
        self.ra = ManualRunner([self.a, self.b])
        self.rb = self.ra.for_stack(self.b)
        self.socket = zsock
        zsock.attach(self.ra)
        self.done = False

    def on_b(self, *args):
        """A socket on stack b."""
        z = self.socket
        z.attach(self.rb)
        try:
            return z.socket(*args)
        finally:
            z.attach(self.ra)

    def run(self, ms):
        for _ in range(ms):
            self.ra.step()

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if not self.done:
            self.done = True
            self.socket.close_all()     # what a failed test left open
            self.a.shutdown()
            self.b.shutdown()
            self.socket.attach(None)
            quota, reserve, hquota = self.limits
            for h in range(len(hquota)):
                self.pool.set_hquota(h, hquota[h])
            for h in range(len(quota)):
                self.pool.set_quota(h, quota[h])
            self.pool.set_reserve(reserve)
            if et is None:
                from stack.pool import at_baseline
                assert at_baseline(), self.pool.stats()
                assert self.pbuf.in_use() == 0
        return False


def _server(pr, port=8080, backlog=2):
    z = pr.socket
    srv = pr.on_b(z.AF_INET, z.SOCK_STREAM)
    srv.setsockopt(z.SOL_SOCKET, z.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(backlog)
    return srv


def _connected(pr, port=8080):
    """(client on a, server-side socket on b)."""
    z = pr.socket
    srv = _server(pr, port)
    c = z.socket(z.AF_INET, z.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect((B_IP, port))         # may complete at once (ARP known, the peer answers in the same pump)
    except OSError as e:
        assert e.errno == z.EINPROGRESS
        e = raises(OSError, c.connect, (B_IP, port))
        assert e.errno == z.EALREADY
    s, addr = srv.accept()          # blocking: drives both stacks
    assert addr[0] == A_IP
    pr.run(5)
    c.connect((B_IP, port)) if False else None
    e = raises(OSError, c.connect, (B_IP, port))
    assert e.errno == z.EISCONN
    c.setblocking(True)
    srv.close()
    return c, s


def test_constants_and_getaddrinfo():
    from stack import socket as z
    assert (z.AF_INET, z.SOCK_STREAM, z.SOCK_DGRAM, z.SOL_SOCKET) == (2, 1, 2, 1)
    assert (z.SO_REUSEADDR, z.SO_BROADCAST, z.IPPROTO_TCP, z.TCP_NODELAY) == (4, 0x20, 6, 0x40)
    ai = z.getaddrinfo("198.51.100.1", 80)
    assert ai[0][0] == z.AF_INET and ai[0][-1] == ("198.51.100.1", 80)
    assert raises(OSError, z.getaddrinfo, "example.invalid", 80).args[0] == -2


def test_tcp_both_ways_and_counted_copies():
    with Pair() as pr:
        c, s = _connected(pr)
        pb = pr.pbuf
        data = bytes(range(256)) * 40           # 10240 bytes, sent by reference
        k0 = pb.copied()
        c.sendall(data)
        assert pb.copied() == k0                # bytes: not copied
        got = bytearray()
        while len(got) < len(data):
            got.extend(s.recv(3000))            # copying receive: counted
        assert bytes(got) == data
        assert pb.copied() - k0 == len(data)
        # a read-only view of bytes (asyncio's drain writes memoryview(out)[off:])
        # is as immutable as the bytes: by reference too
        k0 = pb.copied()
        c.sendall(memoryview(data)[1000:])
        assert pb.copied() == k0
        n = 1000
        while n < len(data):
            d = s.recv(3000)
            assert d and d == data[n:n + len(d)]
            n += len(d)
        # a bytearray is copied into blocks (counted), read back with readinto
        ba = bytearray(b"xyz" * 1000)
        k0 = pb.copied()
        assert s.write(ba) == 3000
        buf = bytearray(3000)
        assert c.readinto(buf) == 3000 and buf == ba
        assert pb.copied() - k0 == 6000
        # lines
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\nrest")
        f = c.makefile("rb")
        assert f is c
        assert f.readline() == b"GET / HTTP/1.0\r\n"
        assert f.readline() == b"Host: x\r\n"
        assert f.readline() == b"\r\n"
        s.close()
        assert c.read() == b"rest"              # until the peer's FIN
        assert c.recv(10) == b""
        c.close()
        assert raises(OSError, c.recv, 1).errno == pr.socket.EBADF
        pr.run(50)


def test_zero_copy_receive_and_send_ref():
    with Pair() as pr:
        c, s = _connected(pr)
        pb = pr.pbuf
        data = "".join("%05d" % i for i in range(2000)).encode()     # 10000 bytes
        k0 = pb.copied()
        c.sendall(data)
        h = hashlib.sha256()
        n = 0
        while n < len(data):
            v = s.recv_view()
            assert len(v) > 0
            assert raises(OSError, s.recv, 1).errno == pr.socket.EALREADY   # not released yet
            h.update(v)
            n += len(v)
            s.release()
        assert pb.copied() == k0               # nothing copied either way
        assert h.digest() == hashlib.sha256(data).digest()
        # a bytearray lent under the promise: done once acknowledged and reaped
        lent = bytearray(b"L" * 5000)
        done = []
        assert s.send_ref(lent, done=done.append) == 5000
        got = bytearray(5000)
        assert c.readinto(got) == 5000 and got == lent
        pr.run(300)
        assert done == [lent]
        assert pb.copied() == k0 + 5000        # only the readinto copied
        c.close()
        s.close()
        pr.run(50)


def test_nonblocking_eagain_timeout_and_no_data_lost():
    with Pair() as pr:
        z = pr.socket
        c, s = _connected(pr)
        c.setblocking(False)
        assert raises(OSError, c.recv, 10).errno == z.EAGAIN
        assert c.read(10) is None               # a stream read: None, as MicroPython
        c.settimeout(0.05)
        t0 = pr.ra.now()
        assert raises(OSError, c.recv, 10).errno == z.ETIMEDOUT
        assert 50 <= pr.ra.now() - t0 <= 52
        # a stream read that times out returns what it read (nothing lost)
        s.send(b"part")
        pr.run(3)
        assert c.read(10) == b"part"
        s.send(b"line without end")
        pr.run(3)
        assert c.readline() == b"line without end"
        # a non-blocking sender against a reader that does not read: the send
        # queue fills (EAGAIN), nothing is dropped
        c.setblocking(False)
        blob = bytes((i * 7) & 0xFF for i in range(4096)) * 64      # 256 KiB
        off = 0
        eagain = 0
        while off < len(blob):
            try:
                off += c.send(blob[off:off + 20000])
            except OSError as e:
                assert e.errno == z.EAGAIN
                eagain += 1
                break
        assert eagain == 1 and 0 < off < len(blob)
        # now the reader reads in the runner's hook; blocking sendall finishes
        h = hashlib.sha256()
        got = [0]
        s.setblocking(False)

        def drain():
            try:
                while True:
                    d = s.recv(4096)
                    if not d:
                        return
                    h.update(d)
                    got[0] += len(d)
            except OSError as e:
                assert e.errno == z.EAGAIN

        pr.ra.hooks.append(drain)
        c.setblocking(True)
        c.sendall(blob[off:])
        while got[0] < len(blob):
            pr.ra.step()
        pr.ra.hooks.remove(drain)
        assert h.digest() == hashlib.sha256(blob).digest()
        c.close()
        s.close()
        pr.run(50)


def test_connect_refused_reset_and_notconn():
    with Pair() as pr:
        z = pr.socket
        c = z.socket(z.AF_INET, z.SOCK_STREAM)
        assert raises(OSError, c.recv, 1).errno == z.ENOTCONN
        assert raises(OSError, c.send, b"x").errno == z.ENOTCONN
        assert raises(OSError, c.connect, (B_IP, 81)).errno == z.ECONNRESET   # lwIP: ERR_RST
        c.close()
        c, s = _connected(pr)
        s.pcb.abort()                           # the peer resets
        pr.run(5)
        assert raises(OSError, c.recv, 1).errno == z.ECONNRESET
        assert raises(OSError, c.send, b"x").errno == z.ECONNRESET
        c.close()
        s.close()
        # a full accept queue: the next connection is reset once established
        srv = _server(pr, 8081, backlog=1)
        c1 = z.socket(z.AF_INET, z.SOCK_STREAM)
        c1.connect((B_IP, 8081))
        c2 = z.socket(z.AF_INET, z.SOCK_STREAM)
        c2.connect((B_IP, 8081))                # the SYN-ACK comes before the accept
        pr.run(5)
        assert raises(OSError, c2.recv, 1).errno == z.ECONNRESET
        srv.close()                             # the queued one is reset
        pr.run(5)
        assert raises(OSError, c1.recv, 1).errno == z.ECONNRESET
        c1.close()
        c2.close()
        pr.run(50)


def test_udp_sendto_recvfrom_and_icmp_on_connected():
    with Pair() as pr:
        z = pr.socket
        u = pr.on_b(z.AF_INET, z.SOCK_DGRAM)
        u.bind(("", 5000))
        c = z.socket(z.AF_INET, z.SOCK_DGRAM)
        assert c.sendto(b"hello", (B_IP, 5000)) == 5
        data, addr = u.recvfrom(100)
        assert data == b"hello" and addr[0] == A_IP
        assert u.sendto(bytearray(b"back!"), addr) == 5
        assert c.recv(3) == b"bac"              # a datagram's rest is discarded
        c.setblocking(False)
        assert raises(OSError, c.recvfrom, 10).errno == z.EAGAIN
        c.close()
        # SO_BROADCAST: refused without it
        c = z.socket(z.AF_INET, z.SOCK_DGRAM)
        assert raises(OSError, c.sendto, b"x", ("198.51.100.255", 5000)).errno == z.EACCES
        c.setsockopt(z.SOL_SOCKET, z.SO_BROADCAST, 1)
        assert c.sendto(b"x", ("198.51.100.255", 5000)) == 1
        c.close()
        # a connected socket hears of the port unreachable; a datagram from
        # anyone but its peer is not delivered
        c = z.socket(z.AF_INET, z.SOCK_DGRAM)
        c.connect((B_IP, 5001))
        c.send(b"anyone?")
        pr.run(5)
        c.settimeout(0.02)
        assert raises(OSError, c.recv, 10).errno == z.ECONNREFUSED
        u.sendto(b"not from the peer", (A_IP, c.pcb.port))
        assert raises(OSError, c.recv, 10).errno == z.ETIMEDOUT
        c.close()
        u.close()
        pr.run(5)


def test_poll_wakes_on_data():
    import select
    with Pair() as pr:
        c, s = _connected(pr)
        p = select.poll()
        p.register(c, select.POLLIN)
        assert p.poll(0) == []
        s.send(b"ping")
        pr.run(3)
        ev = p.poll(0)
        assert len(ev) == 1 and ev[0][1] & select.POLLIN
        assert c.recv(10) == b"ping"
        assert p.poll(0) == []
        s.close()                               # EOF is readable too
        pr.run(3)
        assert len(p.poll(0)) == 1 and c.recv(1) == b""
        p.unregister(c)
        c.close()
        pr.run(50)


def test_poll_does_not_spin_mpy():
    """select.poll on a socket sleeps in the kernel on its eventfd: during an
    idle half second the unix port never calls the socket's MP_STREAM_POLL
    (no wake-ups). An fd-less stream object in the set makes it wake every
    millisecond (MICROPY_PY_SELECT_IOCTL_CALL_PERIOD_MS): the control shows
    the count can fail."""
    if not MICROPYTHON:
        skip("MicroPython's select.poll (CPython's needs a fileno anyway)")
    import io
    import select

    calls = [0, 0]

    class NoFd(io.IOBase):
        def ioctl(self, req, arg):
            if req == 3:
                calls[1] += 1
                return 0
            return -1

    with Pair() as pr:
        z = pr.socket
        c, s = _connected(pr)
        real = z.socket.ioctl

        def counting(self, req, arg):
            if req == 3:
                calls[0] += 1
            return real(self, req, arg)

        z.socket.ioctl = counting
        try:
            p = select.poll()
            p.register(c, select.POLLIN)
            assert p.poll(500) == []
            alone = calls[0]
            p.register(NoFd(), select.POLLIN)
            assert p.poll(500) == []
        finally:
            z.socket.ioctl = real
        assert alone == 0, calls                # asleep: no wake-up at all
        assert calls[1] >= 100, calls           # the control woke about every ms
        s.send(b"x")                            # and data does wake it
        pr.run(3)
        p = select.poll()
        p.register(c, select.POLLIN)
        assert len(p.poll(500)) == 1
        c.close()
        s.close()
        pr.run(50)
