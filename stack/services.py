# Demo TCP services on the raw API (what `make run` offers besides UDP echo):
#   echo    (RFC 862) on 7: every segment goes back from the blocks it came in;
#   discard (RFC 863) on 9: data freed as it comes; our side closes after the
#           peer's FIN;
#   source  on 19 (the chargen port, RFC 864): one immutable buffer sent by
#           reference again and again until the peer closes;
#   qotd    (RFC 865) on 17: one quote, then our side closes first, so the
#           connection waits in TIME_WAIT here (what tests of TIME_WAIT and
#           of a SYN into it, RFC 1122 4.2.2.13, need).
# Zero copy both ways: nothing here touches payload bytes.
from . import pbuf
from .tcp import EAGAIN
from .wire import same, ticks_diff

SOURCE_CHUNK = 16 * 1024


def _pattern(n):
    b = bytearray(n)
    line = b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ \r\n"
    k = len(line)
    for i in range(n):
        b[i] = line[i % k]
    return bytes(b)


def echo(tcp, port):
    """RFC 862 over TCP. A segment the send queue cannot take yet waits (and
    the window stays closed for it) until acknowledged data makes room."""

    def recv(pcb, p):
        if p is None:
            if pcb.pending is None:
                pcb.close()
            else:
                pcb.fin_seen = True
            return
        if pcb.pending is not None:
            pbuf.cat(pcb.pending, p)
            return
        n = p.tot
        if pcb.write(p) == EAGAIN:
            pcb.pending = p             # flow control: not recved() until it is sent
            return
        pcb.recved(n)

    def sent(pcb, n):
        p = pcb.pending
        if p is None:
            return
        k = p.tot
        if pcb.write(p) == EAGAIN:
            return
        pcb.pending = None
        pcb.recved(k)
        if pcb.fin_seen:
            pcb.close()

    def err(pcb, e):
        if pcb.pending is not None:
            pbuf.free(pcb.pending)
            pcb.pending = None

    def accept(pcb):
        # what waits is at most a receive window (not recved() until written),
        # and TCP_WND_BYTES <= TCP_SND_QUEUE_BYTES: it always fits once drained
        pcb.pending = None
        pcb.fin_seen = False
        pcb.recv_cb = recv
        pcb.sent_cb = sent
        pcb.err_cb = err
        return True

    return _listen(tcp, port, accept)


def _drain(pcb, p):
    """Read and drop; close our side after the peer's FIN."""
    if p is None:
        pcb.close()
        return
    n = p.tot
    pbuf.free(p)
    pcb.recved(n)


def discard(tcp, port):
    """RFC 863 over TCP: read and drop; close our side after the peer's FIN."""

    def accept(pcb):
        pcb.recv_cb = _drain
        return True

    return _listen(tcp, port, accept)


def source(tcp, port, chunk=SOURCE_CHUNK):
    """Send one immutable buffer by reference, again and again, until the
    peer closes (its FIN, or a reset)."""
    data = _pattern(chunk)

    def fill(pcb):
        while pcb.state == 4 and pcb.sndbuf() >= chunk:     # ESTABLISHED
            p = pbuf.rom(data)
            if p is None or pcb.write(p) != 0:
                if p is not None:
                    pbuf.free(p)
                return

    def accept(pcb):
        pcb.recv_cb = _drain
        pcb.sent_cb = lambda pcb, n: fill(pcb)
        fill(pcb)
        return True

    return _listen(tcp, port, accept)


QUOTE = b"Be conservative in what you do, be liberal in what you accept from others.\r\n"


def qotd(tcp, port, quote=QUOTE):
    """RFC 865 over TCP: send the quote by reference and close at once
    (FIN after it); what the peer sends is read and dropped."""

    def accept(pcb):
        pcb.recv_cb = _drain            # our FIN is queued already: close() does nothing more
        p = pbuf.rom(quote)
        if p is None or pcb.write(p) != 0:
            if p is not None:
                pbuf.free(p)
            return False                # refused: reset
        pcb.close()
        return True

    return _listen(tcp, port, accept)


def _listen(tcp, port, accept):
    lst = tcp.new()
    lst.bind(port)
    lst.listen(8)
    lst.accept_cb = accept
    return lst


class Client:
    """A TCP client on the raw API (`make run` with --connect): `count`
    connections to ip:port, one after the other. Each sends `nbytes` of one
    immutable buffer by reference, closes its side, and reads what the server
    sends back until its FIN, checking it is those bytes again (an echo
    server). The stack closes first, so each connection ends in TIME_WAIT.

    run.py calls kick() after every poll; `done` is None until the last
    connection ended, then a dict: cycles, ok, bad (wrong or missing bytes
    back), errors (err_cb: reset, timeout), bytes (echoed back) and ms (from
    the first SYN to the last FIN, on the stack's clock)."""

    def __init__(self, tcp, ip, port, count, nbytes=4096):
        self.tcp = tcp
        self.ip = ip
        self.port = port
        self.left = count
        self.data = _pattern(nbytes)
        self.busy = False
        self.done = None
        self.res = {"cycles": 0, "ok": 0, "bad": 0, "errors": 0, "bytes": 0, "ms": 0}
        self.t0 = None

    def kick(self):
        """Start the next connection when none is open. True when it started
        one (its SYN waits in the TX ring: the caller should poll again now)."""
        if self.done is not None or self.busy:
            return False
        now = self.tcp.st.now
        if self.t0 is None:
            self.t0 = now
        if self.left <= 0:
            self.res["ms"] = ticks_diff(now, self.t0)
            self.done = self.res
            return False
        self.left -= 1
        self._start()
        return True

    def _start(self):
        data = self.data
        n = len(data)
        res = self.res
        pcb = self.tcp.new()
        pcb.got = 0
        pcb.ok = True
        self.busy = True

        def end(pcb, good):
            res["cycles"] += 1
            res["ok" if good else "bad"] += 1
            res["bytes"] += pcb.got
            self.busy = False

        def connected(pcb):
            p = pbuf.rom(data)
            if p is None or pcb.write(p) != 0:
                if p is not None:
                    pbuf.free(p)
                pcb.ok = False
            pcb.close()

        def recv(pcb, p):
            if p is None:
                end(pcb, pcb.ok and pcb.got == n)
                return
            k = p.tot
            q = p
            while q is not None:
                if pcb.got + q.len > n or not same(q.buf, q.off, data, pcb.got, q.len):
                    pcb.ok = False
                pcb.got += q.len
                q = q.next
            pbuf.free(p)
            pcb.recved(k)

        def err(pcb, e):
            res["errors"] += 1
            end(pcb, False)
            res["bad"] -= 1

        pcb.recv_cb = recv
        pcb.err_cb = err
        try:
            pcb.connect(self.ip, self.port, connected)
        except OSError:
            res["cycles"] += 1
            res["errors"] += 1
            self.busy = False
