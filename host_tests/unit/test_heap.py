# The stack's own code allocates nothing per echoed datagram (UDP echo and
# ICMP echo, with a UDP checksum, MAC and IP addresses whose high bits are
# set): measured inside MicroPython around Netif.input alone, so the driver's
# own work (memif building its frame list) is outside the span. On a 32-bit
# port an address or 32-bit field that becomes an int would show here.
# CPython has no gc.mem_alloc: skipped there.
import gc

import frames
from support import MICROPYTHON, Rig, skip

from stack import pbuf

HI_MAC = b"\x02\xc0\xc1\xc2\xc3\xc4"
HI_PEER_MAC = b"\x02\xd0\xd1\xd2\xd3\xd4"
US = "198.51.100.202"
PEER = "198.51.100.201"


def _measure(r, frame, rounds=10):
    drv = r.drv
    out = r.st.netif.rx_out
    used = 0
    for k in range(rounds + 3):
        r.inject(frame)
        n = drv.rx_poll(1, out)
        assert n == 1
        p = pbuf.rx(out[0], out[1])
        gc.collect()
        a = gc.mem_alloc()
        r.st.netif.input(p, out[2])
        b = gc.mem_alloc()
        if k >= 3:              # the first rounds may grow dicts once
            used += b - a
        r.st.netif.reap()
        assert len(r.sent()) == 1
    return used


def test_echo_paths_allocate_nothing():
    if not MICROPYTHON:
        skip("gc.mem_alloc is MicroPython's")
    with Rig(ip=US, mac=HI_MAC) as r:
        r.inject(frames.eth(b"\xff" * 6, HI_PEER_MAC, frames.ETH_ARP,
                            frames.arp(1, HI_PEER_MAC, PEER, frames.ZERO_MAC, US)))
        r.poll()
        r.sent()
        r.st.udp.bind_echo(7)
        udp = frames.eth(HI_MAC, HI_PEER_MAC, frames.ETH_IP,
                         frames.ipv4(PEER, US, frames.PROTO_UDP,
                                     frames.udp(40000, 7, frames.pattern(200), PEER, US)))
        ping = frames.eth(HI_MAC, HI_PEER_MAC, frames.ETH_IP,
                          frames.ipv4(PEER, US, frames.PROTO_ICMP, frames.icmp_echo(1, 2, frames.pattern(56))))
        c0 = pbuf.copied()
        gc.disable()
        try:
            got = (_measure(r, udp), _measure(r, ping))
        finally:
            gc.enable()
        assert got == (0, 0), got
        assert pbuf.copied() == c0
        r.finish()
