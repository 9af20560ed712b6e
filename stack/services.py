# Demo TCP services on the raw API (what `make run` offers besides UDP echo):
#   echo    (RFC 862) on 7: every segment goes back from the blocks it came in;
#   discard (RFC 863) on 9: data freed as it comes; our side closes after the
#           peer's FIN;
#   source  on 19 (the chargen port, RFC 864): one immutable buffer sent by
#           reference again and again until the peer closes.
# Zero copy both ways: nothing here touches payload bytes.
from . import pbuf
from .tcp import EAGAIN

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
        if getattr(pcb, "fin_seen", False):
            pcb.close()

    def err(pcb, e):
        if pcb.pending is not None:
            pbuf.free(pcb.pending)
            pcb.pending = None

    def accept(pcb):
        pcb.pending = None
        pcb.recv_cb = recv
        pcb.sent_cb = sent
        pcb.err_cb = err
        return True

    return _listen(tcp, port, accept)


def discard(tcp, port):
    """RFC 863 over TCP: read and drop; close our side after the peer's FIN."""

    def recv(pcb, p):
        if p is None:
            pcb.close()
            return
        n = p.tot
        pbuf.free(p)
        pcb.recved(n)

    def accept(pcb):
        pcb.recv_cb = recv
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

    def recv(pcb, p):
        if p is None:
            pcb.close()
            return
        n = p.tot
        pbuf.free(p)
        pcb.recved(n)

    def accept(pcb):
        pcb.recv_cb = recv
        pcb.sent_cb = lambda pcb, n: fill(pcb)
        fill(pcb)
        return True

    return _listen(tcp, port, accept)


def _listen(tcp, port, accept):
    lst = tcp.new()
    lst.bind(port)
    lst.listen(8)
    lst.accept_cb = accept
    return lst
