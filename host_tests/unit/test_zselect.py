# stack/zselect.py (a program's `select` under make run APP=): its poll
# drives the stack while it waits, and POLLOUT on our sockets is the stack's
# (send-queue room), not the eventfd's (always writable). Two Stacks on
# memifs with a ManualRunner (test_socket.Pair); CPython and MicroPython.
import select

from test_socket import Pair, _connected


def test_poll_drives_the_stack_and_pollout_is_send_room():
    from stack import zselect
    with Pair() as pr:
        z = pr.socket
        c, s = _connected(pr)
        p = zselect.poll()
        p.register(c, zselect.POLLIN)
        assert p.poll(0) == []
        t0 = pr.ra.now()
        assert p.poll(20) == []                 # the timeout on the stack's clock
        assert 20 <= pr.ra.now() - t0 <= 22
        s.send(b"ping")
        ev = p.poll(50)                         # no pr.run: the poll itself drives
        assert len(ev) == 1 and ev[0][0] is c and ev[0][1] & zselect.POLLIN
        assert c.recv(10) == b"ping"
        # fill c's send queue against a reader that does not read
        c.setblocking(False)
        blob = b"x" * 20000
        n = 0
        for _ in range(100):
            try:
                n += c.send(blob)
            except OSError as e:
                assert e.errno == z.EAGAIN
                break
        assert n > 0
        raw = select.poll()                     # the system's: the eventfd is always writable
        raw.register(c, select.POLLOUT)
        assert len(raw.poll(0)) == 1
        p.modify(c, zselect.POLLOUT)
        assert p.poll(0) == [] and p.poll(5) == []
        got = 0
        for _ in range(2000):                   # the reader reads: room again
            d = s.recv(65536)
            got += len(d)
            if got == n:
                break
        assert got == n
        ev = p.poll(100)
        assert ev == [(c, zselect.POLLOUT)]
        p.unregister(c)
        raw.unregister(c)
        c.close()
        s.close()
        pr.run(50)
