"""`make run APP=prog.py` over TAP: users' programs on our socket module,
checked from the Linux side. The examples run unchanged (the HTTP server
answered by curl and a Python client, the HTTP client fetching from a Linux
HTTP server); a non-blocking sender sees EAGAIN when its send queue is full
and loses nothing (sha256 on the Linux side); `bytes` sent and data taken
through recv_view() are never copied (copy counter delta 0)."""
import hashlib
import os
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BINARIES, DEFAULT_SETTINGS, HOST_IP, ROOT, STACK_IP, Stack

pytestmark = pytest.mark.blackbox

SERVER = os.path.join(ROOT, "examples", "http_server.py")
CLIENT = os.path.join(ROOT, "examples", "http_client.py")
PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"


def _pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def _app_line(st, tag, timeout=20):
    line = st.next_line(lambda s: s.startswith(tag), timeout, tag)
    return line.strip()


def _http_get(stack, path, rcvbuf=None, slow=False):
    """A raw HTTP/1.0 GET from the host side; (request bytes, response bytes)."""
    req = ("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode()
    with stack.ns():
        s = socket.socket()
    try:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(10)
        s.connect((STACK_IP, 8080))
        s.sendall(req)
        out = bytearray()
        end = time.monotonic() + 20
        while time.monotonic() < end:
            d = s.recv(4096)
            if not d:
                break
            out += d
            if slow and len(out) < 200000:
                time.sleep(0.001)
        return req, bytes(out)
    finally:
        s.close()


@pytest.mark.stack_args("--app", SERVER)
@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
def test_example_http_server(stack):
    r = stack.run(["curl", "-sS", "--max-time", "10", "http://%s:8080/" % STACK_IP])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hello #0 from MicroPython!\n"
    before = stack.counters()
    # 1 MB by reference through a small receive window: the server's
    # blocking write waits on its full send queue again and again
    n = 1000000
    req, resp = _http_get(stack, "/bytes/%d" % n, rcvbuf=4096, slow=True)
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK") and b"Content-Length: %d" % n in head
    assert hashlib.sha256(body).digest() == hashlib.sha256(_pattern(n)).digest()
    d = stack.delta_since(before)
    # the only bytes copied: the request, read line by line (readline copies);
    # the megabyte of bytes went out by reference
    assert d["copied"] == len(req), d
    r = stack.run(["curl", "-sS", "--max-time", "10", "http://%s:8080/" % STACK_IP])
    assert r.stdout == "Hello #2 from MicroPython!\n"


def test_example_http_client(netns):
    d = tempfile.mkdtemp()
    body = os.urandom(300000)
    with open(os.path.join(d, "index.html"), "wb") as f:
        f.write(body)
    srv = netns.popen(["python3", "-m", "http.server", "-b", "0.0.0.0", "8000", "-d", d],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = Stack(netns, dict(DEFAULT_SETTINGS), BINARIES["64"])
    st.args += ["--app", CLIENT]
    try:
        time.sleep(0.3)                     # the Linux server listening
        st.start()
        status = _app_line(st, "STATUS")
        assert status.startswith("STATUS HTTP/1.0 200"), status
        got = _app_line(st, "BODY").split()
        assert got[1:] == [str(len(body)), hashlib.sha256(body).hexdigest()]
        assert _app_line(st, "APP") == 'APP {"status": "ok"}'
        assert st.alive()                   # the stack serves on after the program
        r = st.run(["ping", "-c", "1", "-W", "2", STACK_IP])
        assert r.returncode == 0
        assert st.stop() == 0
        assert st.stopped["baseline"] is True
    finally:
        st.kill()
        srv.kill()
        srv.wait(5)


NONBLOCK_APP = """
import socket, time
blob = bytes((i * 7) & 255 for i in range(4096)) * 128      # 512 KiB
s = socket.socket()
s.connect(("%s", 9100))
s.setblocking(False)
off = 0
eagain = 0
while off < len(blob):
    try:
        off += s.send(blob[off:off + 16384])
    except OSError as e:
        if e.errno != 11:
            raise
        eagain += 1
        time.sleep_ms(1)
s.setblocking(True)
s.close()
print("SENT", off, eagain)

srv = socket.socket()
srv.bind(("0.0.0.0", 9101))
srv.listen(1)
c, a = srv.accept()
import hashlib, binascii
h = hashlib.sha256()
n = 0
while True:
    v = c.recv_view()
    if not v:
        break
    h.update(v)
    n += len(v)
    c.release()
c.close()
print("VIEW", n, binascii.hexlify(h.digest()).decode())
"""


def test_nonblocking_eagain_and_zero_copy_over_tap(netns):
    app = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    app.write(NONBLOCK_APP % HOST_IP)
    app.close()
    blob = bytes((i * 7) & 255 for i in range(4096)) * 128
    with netns.enter():
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lst.bind(("0.0.0.0", 9100))
        lst.listen(1)
    st = Stack(netns, dict(DEFAULT_SETTINGS), BINARIES["64"])
    st.args += ["--app", app.name]
    try:
        st.start()
        lst.settimeout(10)
        c, _ = lst.accept()
        c.settimeout(10)
        h = hashlib.sha256()
        n = 0
        time.sleep(0.3)                     # let the stack's queue fill: EAGAIN
        while True:
            d = c.recv(65536)
            if not d:
                break
            h.update(d)
            n += len(d)
        c.close()
        sent = _app_line(st, "SENT").split()
        assert int(sent[1]) == len(blob) == n
        assert int(sent[2]) > 0             # the queue was full at least once
        assert h.digest() == hashlib.sha256(blob).digest()
        before = st.counters()
        # Linux sends 1 MB to the program, which reads it with recv_view()
        data = os.urandom(1 << 20)
        with st.ns():
            s = socket.create_connection((STACK_IP, 9101), timeout=10)
        s.sendall(data)
        s.close()
        view = _app_line(st, "VIEW").split()
        assert view[1:] == [str(len(data)), hashlib.sha256(data).hexdigest()]
        assert _app_line(st, "APP") == 'APP {"status": "ok"}'
        assert st.delta_since(before)["copied"] == 0
        assert st.stop() == 0
        assert st.stopped["baseline"] is True
    finally:
        st.kill()
        lst.close()
        os.unlink(app.name)
