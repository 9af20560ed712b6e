# Zero copy and allocation on the echo paths, measured inside MicroPython:
# the stack runs over the in-memory driver with the collector off, and the
# heap taken by the stack's own work per echoed datagram (RX, demux, the reply
# built in the request's block, TX enqueue) must not depend on the datagram's
# size, while the copy counter stays at zero. The driver's "wire" (memif turning
# a sent gather list into bytes) is outside the measured span.
import gc

from stack import config, pbuf
from stack.core import Stack
from stack.memif import Memif
from stack.pool import at_baseline, pool

STACK_MAC = b"\x02\x00\x00\x00\x00\x02"
PEER_MAC = b"\x02\x00\x00\x00\x00\x01"
STACK_IP = b"\xc6\x33\x64\x02"   # 198.51.100.2
PEER_IP = b"\xc6\x33\x64\x01"    # 198.51.100.1


def _csum(b):
    s = 0
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    if len(b) & 1:
        s += b[-1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ip(proto, payload):
    h = bytearray(20)
    h[0] = 0x45
    n = 20 + len(payload)
    h[2] = n >> 8
    h[3] = n & 255
    h[8] = 64
    h[9] = proto
    h[12:16] = PEER_IP
    h[16:20] = STACK_IP
    c = _csum(h)
    h[10] = c >> 8
    h[11] = c & 255
    return bytes(STACK_MAC + PEER_MAC + b"\x08\x00" + h + payload)


def _udp(size):
    data = bytes((i * 7) & 255 for i in range(size))
    u = bytearray(8) + data
    u[0:2] = b"\x30\x39"
    u[2:4] = b"\x00\x07"
    u[4] = (8 + size) >> 8
    u[5] = (8 + size) & 255
    return _ip(17, bytes(u))        # checksum 0: none (RFC 768)


def _icmp(size):
    m = bytearray(8) + bytes((i * 3) & 255 for i in range(size))
    m[0] = 8
    m[4:8] = b"\x12\x34\x00\x01"
    c = _csum(m)
    m[2] = c >> 8
    m[3] = c & 255
    return _ip(1, bytes(m))


def _arp_request():
    a = bytearray(b"\x00\x01\x08\x00\x06\x04\x00\x01")
    a += PEER_MAC + PEER_IP + b"\x00" * 6 + STACK_IP
    return bytes(b"\xff" * 6 + PEER_MAC + b"\x08\x06" + a)


def _setup():
    drv = Memif(rx_ring=8, tx_ring=32)
    st = Stack(drv, STACK_MAC, "198.51.100.2", 24)
    st.udp.bind_echo(config.UDP_ECHO_PORT)
    drv.inject(_arp_request())     # the peer's ARP entry, so replies go straight out
    st.poll(0)
    drv.take_sent()
    return drv, st


def _per_datagram(drv, st, frame, rounds):
    """Heap bytes the stack's echo path took per datagram, and replies seen."""
    for _ in range(3):             # warm up (first-time dict/attribute growth)
        drv.inject(frame)
        st.netif.poll_rx(1)
        st.netif.reap()
    drv.take_sent()
    used = 0
    replies = 0
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            drv.inject(frame)
            a = gc.mem_alloc()
            st.netif.poll_rx(1)
            used += gc.mem_alloc() - a
            st.netif.reap()
            replies += len(drv.take_sent())
    finally:
        gc.enable()
    return used // rounds, replies


def _check(make, sizes):
    drv, st = _setup()
    c0 = pbuf.copied()
    per = []
    for size in sizes:
        used, replies = _per_datagram(drv, st, make(size), 20)
        assert replies == 20, (size, replies)
        per.append(used)
    assert pbuf.copied() == c0, "payload bytes were copied on the echo path"
    st.shutdown()
    assert at_baseline() and pool.nfree() == pool.NBLOCKS
    return per


def test_udp_echo_heap_use_does_not_depend_on_size():
    per = _check(_udp, (1, 64, 512, 1472))
    assert max(per) == min(per), per


def test_icmp_echo_heap_use_does_not_depend_on_size():
    per = _check(_icmp, (0, 56, 512, 1472))
    assert max(per) == min(per), per
