# TCP's receive window counted in blocks as well as bytes (stack/tcp.py,
# TCP_WND_BLOCKS): a segment holds a whole frame block however few bytes it
# carries, so blocks the application still holds close the window, and
# giving them back reopens it (a window update once it grew by an MSS). The
# announced right edge never moves back (RFC 9293 3.8.6). Both lanes.
from tcpscript import run

from stack import pbuf

OPEN = """
0.000 app listen
0.000 < S 0:0(0) win 65535 <mss 1460>
0.000 > S. 0:0(0) ack 1 win 5840 <mss 1460>
0.010 < . 1:1(0) ack 1 win 65535
0.010 app state ESTABLISHED
"""

held = []


def _hold(sc):
    # the application keeps every chain it is given (and recved()s its bytes,
    # so only the blocks, not the byte count, close the window)
    def recv(pcb, p):
        if p is not None:
            held.append(p)
            pcb.recved(p.tot)
    sc.flow.pcb.recv_cb = recv


def _release(sc):
    while held:
        pbuf.free(held.pop())


def test_blocks_held_by_the_application_keep_the_window_from_growing():
    # four blocks of window (TCP_WND_BLOCKS=4: 4 * 1460 = 5840 bytes). The
    # application recved()s every byte but holds the chains: with bytes alone
    # the window would be back at 5840 after each segment; counted in blocks
    # it only shrinks towards the right edge announced first, and grows again
    # (a window update) once the blocks are given back.
    del held[:]
    run([OPEN, _hold, """
0.020 < P. 1:11(10) ack 1 win 65535
0.020 < P. 11:21(10) ack 1 win 65535
0.020 > . 1:1(0) ack 21 win 5820
0.030 < P. 21:31(10) ack 1 win 65535
0.030 < P. 31:41(10) ack 1 win 65535
0.030 > . 1:1(0) ack 41 win 5800
0.040 < . 41:1501(1460) ack 1 win 65535
0.040 < . 1501:2961(1460) ack 1 win 65535
0.040 > . 1:1(0) ack 2961 win 2880         // 6 blocks held: the right edge, not 5840
""", _release, """
0.050 > . 1:1(0) ack 2961 win 5840         // blocks back: the window update
0.060 < P. 2961:3961(1000) ack 1 win 65535
""", _release], TCP_WND_BLOCKS=4, TCP_WND_BYTES=5840, TCP_DELACK_MS=1000)
