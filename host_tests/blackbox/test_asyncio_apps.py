"""asyncio on the stack over TAP (`make run APP=prog.py`, docs/socket.md
"select.poll and asyncio"): the example asyncio echo server serves 50 Linux
clients at once (sha256 of every echo checked), the stack back at baseline
afterwards; the loop sleeps when idle (the process's CPU time over an idle
second); an asyncio client (open_connection) against a Linux echo server,
and a connection refused; a program's own select.poll drives the stack."""
import hashlib
import os
import socket
import tempfile
import threading
import time

import pytest

from conftest import BINARIES, DEFAULT_SETTINGS, HOST_IP, ROOT, STACK_IP, Stack, pool_at_baseline

pytestmark = pytest.mark.blackbox

ECHO_APP = os.path.join(ROOT, "examples", "asyncio_echo.py")
NCLIENTS = 50
CLIENT_BYTES = 6 * 1024


def _line(st, tag, timeout=20):
    return st.next_line(lambda s: s.startswith(tag), timeout, tag).strip()


def _cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (/proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _echo_client(stack, i, results):
    data = os.urandom(CLIENT_BYTES)
    try:
        with stack.ns():
            s = socket.socket()
        s.settimeout(15)
        try:
            s.connect((STACK_IP, 7007))
            s.sendall(data)
            got = bytearray()
            while len(got) < len(data):
                d = s.recv(65536)
                if not d:
                    break
                got += d
            s.shutdown(socket.SHUT_WR)
            tail = s.recv(1)            # the server closes after our FIN
        finally:
            s.close()
        results[i] = (hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), tail)
    except Exception as e:              # reported by the assertion below
        results[i] = (False, repr(e))


@pytest.mark.stack_args("--app", ECHO_APP)
@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
def test_asyncio_echo_50_clients_and_idle_sleep(stack):
    assert _line(stack, "listening") == "listening on port 7007"
    pid = stack.ready["pid"]
    results = [None] * NCLIENTS
    ts = [threading.Thread(target=_echo_client, args=(stack, i, results))
          for i in range(NCLIENTS)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    took = time.monotonic() - t0
    assert results == [(True, b"")] * NCLIENTS, (took, results)
    # SIGUSR1 answered from inside the asyncio loop; every block back
    snap = stack.wait_baseline()
    assert pool_at_baseline(snap["pool"]), snap["pool"]
    assert snap["pool"]["hdr_free"] == 256, snap["pool"]
    # idle: the loop sleeps in the kernel until the stack's next deadline
    # (a loop that polled every millisecond would use ~100 ticks in a second)
    c0 = _cpu_ticks(pid)
    time.sleep(1.0)
    c1 = _cpu_ticks(pid)
    assert c1 - c0 <= 3, "idle asyncio loop used %d ticks of CPU in 1 s" % (c1 - c0)
    # the fixture stops it (SIGTERM inside the asyncio loop) and checks STOPPED


CLIENT_APP = """
import asyncio, hashlib, binascii, select, socket

async def main():
    r, w = await asyncio.open_connection("%(host)s", 9200)
    blob = bytes((i * 13 + 5) & 255 for i in range(1000)) * 40
    h = hashlib.sha256()
    n = 0
    w.write(blob)
    await w.drain()
    while n < len(blob):
        d = await r.read(4096)
        if not d:
            break
        h.update(d)
        n += len(d)
    w.close()
    await w.wait_closed()
    print("ECHOED", n, binascii.hexlify(h.digest()).decode())
    try:
        r2, w2 = await asyncio.open_connection("%(host)s", 9201)
        w2.write(b"x")
        await w2.drain()
        print("REFUSED none")
    except OSError as e:
        print("REFUSED", e.errno)

asyncio.run(main())

# the program's own select.poll drives the stack while it sleeps
srv = socket.socket()
srv.bind(("0.0.0.0", 9202))
srv.listen(1)
p = select.poll()
p.register(srv, select.POLLIN)
print("POLLING")
ev = p.poll(10000)
c, a = srv.accept()
p.register(c, select.POLLIN)
got = b""
while not got.endswith(b"\\n"):
    if not p.poll(10000):
        break
    got += c.recv(100)
c.send(got.upper())
c.close()
srv.close()
print("POLLED", len(ev), got.strip().decode())
"""


def _linux_echo(lst, stop):
    lst.settimeout(10)
    try:
        c, _ = lst.accept()
    except OSError:
        return
    c.settimeout(10)
    with c:
        while not stop.is_set():
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)


def test_asyncio_client_and_select_poll(netns):
    app = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    app.write(CLIENT_APP % {"host": HOST_IP})
    app.close()
    with netns.enter():
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("0.0.0.0", 9200))
        lst.listen(1)
    stop = threading.Event()
    th = threading.Thread(target=_linux_echo, args=(lst, stop))
    th.start()
    # every frame from the wire 30 ms late: open_connection must wait for
    # the handshake (an eventfd's POLLOUT alone would say "connected" at
    # once), and the delay line's deadlines must wake the loop
    st = Stack(netns, dict(DEFAULT_SETTINGS, IMPAIR_RX_DELAY_MS=30), BINARIES["64"])
    st.args += ["--app", app.name]
    blob = bytes((i * 13 + 5) & 255 for i in range(1000)) * 40
    try:
        st.start()
        assert _line(st, "ECHOED").split()[1:] == [str(len(blob)),
                                                   hashlib.sha256(blob).hexdigest()]
        # nothing listens on 9201: Linux resets the SYN; the write reports it
        assert _line(st, "REFUSED") == "REFUSED 104"
        assert _line(st, "POLLING") == "POLLING"
        time.sleep(0.3)                 # the program sleeps in its poll
        with st.ns():
            s = socket.create_connection((STACK_IP, 9202), timeout=10)
        time.sleep(0.3)
        s.sendall(b"hello poll\n")
        assert s.recv(100) == b"HELLO POLL\n"
        s.close()
        assert _line(st, "POLLED") == "POLLED 1 hello poll"
        assert _line(st, "APP") == 'APP {"status": "ok"}'
        assert st.stop() == 0
        assert st.stopped["baseline"] is True
    finally:
        stop.set()
        st.kill()
        lst.close()
        th.join(10)
        os.unlink(app.name)
