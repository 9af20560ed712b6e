# THE driver-contract suite (docs/internals.md, "Driver contract"; DESIGN.md:
# "One driver-contract test suite, parametrised by NETIF"): hold-until-reap,
# ENOBUFS, drop-and-recycle on an empty pool, descriptor wrap, counters,
# checked from inside MicroPython against every MAC driver.
#
# NETIF comes from the environment variable ZC_NETIF (default "tap");
# host_tests/conftest.py runs this module once per NETIF in CONTRACT_NETIFS,
# each in its own MicroPython process inside a private network namespace.
# The other end of the cable is a "wire" (host_tests/mpy/contract_wires.py):
#   drv, wire = make_driver(rx_ring, tx_ring)
#   wire.send(frame)        a frame into the driver's RX side
#   wire.recv(timeout_ms)   the next frame the driver transmitted, or None
# for tap it is the kernel (a packet socket on the TAP interface, plus a UDP
# socket on 198.51.100.1 that must see every UDP frame sent to it); for memif
# it is inject()/take_sent(). A new MAC plugs in with one factory there.
# A test that only some NETIFs can do is marked @needs(capability).
#
# Run by hand (root, /dev/net/tun for tap):
#   unshare -n sh -c 'ip link set lo up; ZC_NETIF=memif build/unix/micropython host_tests/mpy/test_driver_contract.py'
# Every test leaves the pool at its starting state: all blocks free once the
# driver is closed.
import os
import sys
import time
import array
import errno
import gc
import select
import struct

import zcpool

from stack import pbuf
from contract_wires import (SkipTest, current, host_udp_payload, ip4,
                            HOST_IP, PEER_IP, HOST_MAC, PEER_MAC, HOST_PORT, PEER_PORT)

WAIT_MS = 1000
FO = zcpool.FRAME_OFFSET
RX_MAX = zcpool.BLOCK_SIZE - zcpool.FRAME_OFFSET   # the largest frame a block takes

_netif = []


def netif():
    """The NETIF factory under test (raises NetifMissing: the test fails)."""
    if not _netif:
        _netif.append(current())
    return _netif[0]


def make_driver(rx_ring=16, tx_ring=32, wire=True):
    """(driver, wire) for ZC_NETIF; wire is None with wire=False."""
    return netif().make_driver(rx_ring, tx_ring, wire)


def needs(cap):
    """Run the test only on NETIFs with this capability (skipped elsewhere)."""
    def deco(fn):
        def run():
            nf = netif()
            if cap not in nf.CAPS:
                raise SkipTest("NETIF %s has no %s" % (nf.name, cap))
            fn()
        return run
    return deco


def close_all(drv, wire):
    if wire is not None:
        wire.close()
    drv.close()


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError("did not raise %s" % exc_type.__name__)


# ---- pool helpers ---------------------------------------------------------------

def at_baseline():
    return (zcpool.nfree() + zcpool.held(zcpool.H_RXPOST) == zcpool.NBLOCKS
            and zcpool.hnfree() == zcpool.HNBLOCKS)


def check_closed_baseline():
    assert zcpool.nfree() == zcpool.NBLOCKS, "leak: %d of %d free" % (zcpool.nfree(), zcpool.NBLOCKS)
    assert zcpool.hnfree() == zcpool.HNBLOCKS, "header leak: %d of %d free" % (
        zcpool.hnfree(), zcpool.HNBLOCKS)


def block_bytes(b, n):
    return bytes(zcpool.block(b)[FO:FO + n])


def posted_blocks():
    """The blocks posted in RX rings (holder H_RXPOST), sorted."""
    return [i for i in range(zcpool.NBLOCKS)
            if zcpool.refcnt(i) > 0 and zcpool.holder(i) == zcpool.H_RXPOST]


# ---- frames ---------------------------------------------------------------------

def ip_csum(hdr):
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) | hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _udp(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload, ident):
    eth = dst_mac + src_mac + b"\x08\x00"
    ulen = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident & 0xFFFF, 0,
                               64, 17, 0, ip4(src_ip), ip4(dst_ip)))
    struct.pack_into("!H", ip, 10, ip_csum(ip))
    udp = struct.pack("!HHHH", sport, dport, ulen, 0)  # no UDP checksum
    return eth + bytes(ip) + udp + payload


def udp_frame(payload, ident=1):
    """A frame for the driver to transmit: peer -> the host socket."""
    return _udp(PEER_MAC, HOST_MAC, PEER_IP, HOST_IP, PEER_PORT, HOST_PORT, payload, ident)


def rx_frame(payload, ident=1):
    """A frame for the wire to send into the driver: host -> peer."""
    return _udp(HOST_MAC, PEER_MAC, HOST_IP, PEER_IP, HOST_PORT, PEER_PORT, payload, ident)


def frame_payload(fr):
    """Payload of a host->peer UDP frame, or None for any other frame."""
    if len(fr) < 42 or fr[12:14] != b"\x08\x00" or fr[23] != 17:
        return None
    if fr[30:34] != ip4(PEER_IP) or struct.unpack("!H", fr[36:38])[0] != PEER_PORT:
        return None
    ulen = struct.unpack("!H", fr[38:40])[0]
    return fr[42:34 + ulen]


def pattern(n, seed=0):
    """n bytes of a counting pattern (any bytes will do as a frame)."""
    b = bytearray(n)
    for i in range(n):
        b[i] = (i + seed) & 0xFF
    return bytes(b)


# ---- driver helpers -------------------------------------------------------------

def rx_out(budget):
    return array.array("i", [0] * (3 * budget))


def wait_readable(drv, timeout_ms=WAIT_MS):
    p = select.poll()
    p.register(netif().poll_target(drv), select.POLLIN)
    return bool(p.poll(timeout_ms))


def rx_collect(drv, want, budget=8, timeout_ms=WAIT_MS):
    """Poll until `want` peer-bound UDP payloads came in (or time is up).
    Frees every block; returns (payloads, [(block, length, flags, frame), ...])."""
    out = rx_out(budget)
    got, seen = [], []
    t0 = time.ticks_ms()
    for _ in range(10000):
        if len(got) >= want or time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            break
        n = drv.rx_poll(budget, out)
        assert 0 <= n <= budget
        if n == 0:
            wait_readable(drv, 20)
            continue
        for k in range(n):
            b, ln, fl = out[3 * k], out[3 * k + 1], out[3 * k + 2]
            assert zcpool.holder(b) == zcpool.H_RX, "handed-up block not H_RX"
            assert zcpool.refcnt(b) == 1
            fr = block_bytes(b, ln)
            seen.append((b, ln, fl, fr))
            pl = frame_payload(fr)
            assert zcpool.free(b) == 0
            if pl is not None:
                got.append(pl)
    return got, seen


def rx_hold(drv, want, budget=8, timeout_ms=WAIT_MS):
    """Poll until `want` frames came in, keeping them: [(block, length, flags)]."""
    out = rx_out(budget)
    held = []
    t0 = time.ticks_ms()
    for _ in range(10000):
        if len(held) >= want or time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            break
        n = drv.rx_poll(min(budget, want - len(held)), out)
        if n == 0:
            wait_readable(drv, 20)
        for k in range(n):
            held.append((out[3 * k], out[3 * k + 1], out[3 * k + 2]))
    return held


def tx_reap_all(drv, want, timeout_ms=WAIT_MS):
    out = array.array("i", [0] * 64)
    cookies = []
    t0 = time.ticks_ms()
    for _ in range(10000):
        if len(cookies) >= want or time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            break
        m = drv.tx_reap(out)
        cookies.extend(out[:m])
        if m == 0:
            time.sleep_ms(1)
    return cookies


def wait_rx_no_buffer(drv, want, budget=8):
    """Poll (every call must hand up nothing) until rx_no_buffer reaches want."""
    out = rx_out(budget)
    t0 = time.ticks_ms()
    for _ in range(100):
        assert drv.rx_poll(budget, out) == 0
        if drv.stats()["rx_no_buffer"] >= want or time.ticks_diff(time.ticks_ms(), t0) > WAIT_MS:
            break
        wait_readable(drv, 20)


class PoolLimits:
    """Open the pool for H_APP (no reserve, full quota); restore on exit."""

    def __enter__(self):
        st = zcpool.stats()
        self.reserve = st["reserve"]
        self.quota = st["quota"][zcpool.H_APP]
        zcpool.set_reserve(0)
        zcpool.set_quota(zcpool.H_APP, zcpool.NBLOCKS)
        self.taken = []
        return self

    def exhaust(self):
        for _ in range(zcpool.NBLOCKS):
            b = zcpool.alloc(zcpool.H_APP)
            if b < 0:
                break
            self.taken.append(b)
        assert zcpool.nfree() == 0

    def give_back(self):
        while self.taken:
            zcpool.free(self.taken.pop())

    def __exit__(self, *exc):
        self.give_back()
        zcpool.set_reserve(self.reserve)
        zcpool.set_quota(zcpool.H_APP, self.quota)
        return False


# ---- tests: open, close, readiness --------------------------------------------------

def test_open_link_poll_close():
    drv, wire = make_driver(rx_ring=8, tx_ring=4)
    name = drv.name
    try:
        assert isinstance(name, str) and name
        up, speed, fd = drv.link()
        assert up is True and speed > 0 and fd is True
        assert isinstance(drv.fileno(), int) and drv.fileno() >= 0
        assert zcpool.held(zcpool.H_RXPOST) == 8
        assert zcpool.nfree() == zcpool.NBLOCKS - 8
        assert at_baseline()
        st = drv.stats()
        for k in ("rx_frames", "rx_bytes", "rx_no_buffer", "rx_oversize", "rx_errors",
                  "tx_frames", "tx_bytes", "tx_ring_full", "tx_errors"):
            assert st[k] == 0, k
        # select.poll waits on the driver: the object itself where the NETIF
        # answers MP_STREAM_GET_FILENO (poll_object), else its fileno().
        assert ("poll_object" not in netif().CAPS) or netif().poll_target(drv) is drv
        assert not wait_readable(drv, 10)
        wire.send(rx_frame(b"wake"))
        assert wait_readable(drv, WAIT_MS)
    finally:
        close_all(drv, wire)
    drv.close()  # idempotent
    check_closed_baseline()
    for call in (lambda: drv.rx_poll(1, array.array("i", [0] * 3)),
                 lambda: drv.tx(1, [b"x" * 60, 0, 60], 1),
                 lambda: drv.tx_reap(array.array("i", [0])),
                 drv.stats, drv.link, drv.fileno):
        try:
            call()
            assert False, "method worked after close"
        except OSError as e:
            assert e.errno == errno.EBADF


@needs("kernel_iface")
def test_interface_goes_with_close():
    drv, _ = make_driver(rx_ring=4, tx_ring=4, wire=False)
    name = drv.name
    try:
        assert os.system("ip link show dev %s >/dev/null 2>&1" % name) == 0, "no interface"
    finally:
        drv.close()
    # Not persistent: the interface went away with the fd.
    assert os.system("ip link show dev %s >/dev/null 2>&1" % name) != 0, "interface survived close()"
    check_closed_baseline()


def test_bad_ring_sizes():
    for rx, tx in ((0, 4), (4, 0)):
        try:
            drv, _ = make_driver(rx_ring=rx, tx_ring=tx, wire=False)
        except ValueError:
            continue
        drv.close()
        assert False, "accepted rx_ring=%d tx_ring=%d" % (rx, tx)
    check_closed_baseline()


def test_fileno_readable_while_frames_wait():
    drv, wire = make_driver(rx_ring=4)
    try:
        assert not wait_readable(drv, 0)
        wire.send(pattern(60, 1))
        wire.send(pattern(60, 2))
        assert wait_readable(drv, WAIT_MS)
        out = rx_out(1)
        assert drv.rx_poll(1, out) == 1
        zcpool.free(out[0])
        assert wait_readable(drv, 0), "one frame still waits"
        assert drv.rx_poll(1, out) == 1
        zcpool.free(out[0])
        assert not wait_readable(drv, 0), "readable with nothing waiting"
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


# ---- tests: RX ------------------------------------------------------------------------

def test_rx_frames_and_counters():
    drv, wire = make_driver(rx_ring=8)
    try:
        sent = [b"rx-%d-" % i + bytes(range(i * 7 % 200)) for i in range(6)]
        for p in sent:
            wire.send(rx_frame(p))
        got, seen = rx_collect(drv, len(sent))
        assert got == sent, got
        for b, ln, fl, fr in seen:
            assert fl == 0 and 0 < ln <= zcpool.BLOCK_SIZE - zcpool.FRAME_OFFSET
        # The frames arrived byte for byte, at FRAME_OFFSET in their blocks.
        assert [fr for _, _, _, fr in seen] == [rx_frame(p) for p in sent]
        st = drv.stats()
        assert st["rx_frames"] == len(seen)
        assert st["rx_bytes"] == sum(ln for _, ln, _, _ in seen)
        assert st["rx_no_buffer"] == 0 and st["rx_oversize"] == 0 and st["rx_errors"] == 0
        # Each slot was refilled before its block went up: the ring stays full.
        assert zcpool.held(zcpool.H_RXPOST) == 8
        assert zcpool.held(zcpool.H_RX) == 0
        assert at_baseline()
        # A short out array is refused.
        try:
            drv.rx_poll(4, array.array("i", [0] * 11))
            assert False
        except ValueError:
            pass
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_rx_hands_up_block_refilled_first():
    drv, wire = make_driver(rx_ring=4)
    try:
        posted = zcpool.held(zcpool.H_RXPOST)
        f = pattern(60, 3)
        wire.send(f)
        assert wait_readable(drv)
        out = rx_out(4)
        assert drv.rx_poll(4, out) == 1
        blk, ln, flags = out[0], out[1], out[2]
        assert ln == 60 and flags == 0
        assert zcpool.holder(blk) == zcpool.H_RX and zcpool.refcnt(blk) == 1
        assert block_bytes(blk, 60) == f                   # the frame at FRAME_OFFSET
        assert zcpool.held(zcpool.H_RXPOST) == posted      # the slot was refilled
        assert not at_baseline()                           # the stack owns blk now
        st = drv.stats()
        assert st["rx_frames"] == 1 and st["rx_bytes"] == 60
        assert drv.rx_poll(4, out) == 0
        p = pbuf.rx(blk, ln)
        assert pbuf.to_bytes(p) == f
        pbuf.free(p)
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_rx_budget_and_order():
    drv, wire = make_driver(rx_ring=8)
    try:
        for k in range(5):
            wire.send(pattern(64, k))
        assert wait_readable(drv)
        out = rx_out(2)
        assert drv.rx_poll(2, out) == 2                    # never more than the budget
        blocks = [out[0], out[3]]
        out = rx_out(8)
        for _ in range(100):
            if len(blocks) >= 5:
                break
            n = drv.rx_poll(8, out)                        # the rest, in order
            for k in range(n):
                blocks.append(out[3 * k])
            if n == 0:
                wait_readable(drv, 20)
        assert len(blocks) == 5, blocks
        for k in range(5):
            assert block_bytes(blocks[k], 64) == pattern(64, k)
        assert drv.rx_poll(0, out) == 0
        raises(ValueError, drv.rx_poll, 3, rx_out(2))     # out too short for the budget
        raises(ValueError, drv.rx_poll, -1, out)
        for b in blocks:
            zcpool.free(b)
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_rx_drop_and_recycle_on_empty_pool():
    drv, wire = make_driver(rx_ring=4)
    try:
        with PoolLimits() as lim:
            posted = zcpool.held(zcpool.H_RXPOST)
            ring_before = posted_blocks()
            lim.exhaust()
            for i in range(6):
                wire.send(rx_frame(b"dropped %d" % i))
            assert wait_readable(drv)
            wait_rx_no_buffer(drv, 6)                      # never stalls
            st = drv.stats()
            assert st["rx_no_buffer"] == 6 and st["rx_frames"] == 0, st
            # The descriptors were recycled, not lost: the same blocks stay posted.
            assert zcpool.held(zcpool.H_RXPOST) == posted
            assert posted_blocks() == ring_before
            assert not wait_readable(drv, 0), "frames left in the fd"
            lim.give_back()
            sent = [b"after %d" % i for i in range(3)]
            for p in sent:
                wire.send(rx_frame(p))
            got, _ = rx_collect(drv, 3)
            assert got == sent, got
            assert drv.stats()["rx_frames"] == 3
            assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_rx_no_posted_block_at_start():
    with PoolLimits() as lim:
        lim.exhaust()
        drv, wire = make_driver(rx_ring=4)
        try:
            assert zcpool.held(zcpool.H_RXPOST) == 0
            for i in range(2):
                wire.send(rx_frame(b"nobody home %d" % i))
            assert wait_readable(drv)
            wait_rx_no_buffer(drv, 2, budget=4)
            assert drv.stats()["rx_no_buffer"] == 2
            lim.give_back()
            wire.send(rx_frame(b"now"))
            got, _ = rx_collect(drv, 1)
            assert got == [b"now"], got
            assert zcpool.held(zcpool.H_RXPOST) == 4, "ring not reposted"
            assert at_baseline()
        finally:
            close_all(drv, wire)
    check_closed_baseline()


def test_rx_starts_short_and_reposts():
    with PoolLimits() as lim:
        lim.exhaust()
        zcpool.free(lim.taken.pop())
        zcpool.free(lim.taken.pop())
        drv, wire = make_driver(rx_ring=4)                 # only two blocks to post
        try:
            assert zcpool.held(zcpool.H_RXPOST) == 2
            lim.give_back()
            assert zcpool.held(zcpool.H_RXPOST) == 2       # nothing reposts behind our back
            f = pattern(70)
            wire.send(f)
            held = rx_hold(drv, 1, budget=1)
            assert len(held) == 1
            assert zcpool.held(zcpool.H_RXPOST) == 4       # reposted the empty slots first
            assert held[0][1] == 70 and block_bytes(held[0][0], 70) == f
            zcpool.free(held[0][0])
            assert at_baseline()
        finally:
            close_all(drv, wire)
    check_closed_baseline()


def test_rx_quota_of_input_path_counts_no_buffer():
    drv, wire = make_driver(rx_ring=4)
    q = zcpool.stats()["quota"][zcpool.H_RX]
    zcpool.set_quota(zcpool.H_RX, 0)
    try:
        wire.send(rx_frame(b"over quota"))
        assert wait_readable(drv)
        wait_rx_no_buffer(drv, 1, budget=1)
        assert drv.stats()["rx_no_buffer"] == 1
        assert zcpool.held(zcpool.H_RXPOST) == 4           # the refill went back
        assert at_baseline()
    finally:
        zcpool.set_quota(zcpool.H_RX, q)
        close_all(drv, wire)
    check_closed_baseline()


def test_rx_oversize_dropped():
    drv, wire = make_driver(rx_ring=4)
    try:
        wire.send(rx_frame(b"O" * 2000))                    # a 2042-byte frame
        wire.send(rx_frame(b"o" * (RX_MAX + 1 - 42)))       # one byte too many
        exact = rx_frame(b"M" * (RX_MAX - 42))              # fills a block exactly
        wire.send(exact)
        wire.send(rx_frame(b"fits"))
        got, seen = rx_collect(drv, 2)
        assert got == [b"M" * (RX_MAX - 42), b"fits"], got
        assert seen[0][1] == RX_MAX and seen[0][3] == exact
        st = drv.stats()
        assert st["rx_oversize"] == 2, st
        assert st["rx_frames"] == 2 and st["rx_no_buffer"] == 0
        assert zcpool.held(zcpool.H_RXPOST) == 4
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_rx_ring_wrap_blocks_cycle():
    drv, wire = make_driver(rx_ring=3)
    try:
        out = rx_out(1)
        seen = set()
        for k in range(20):
            wire.send(pattern(60 + k, k))
            held = rx_hold(drv, 1, budget=1)
            assert len(held) == 1, "frame %d" % k
            b, ln, _ = held[0]
            assert ln == 60 + k
            assert block_bytes(b, ln) == pattern(60 + k, k)
            seen.add(b)
            zcpool.free(b)
            assert zcpool.held(zcpool.H_RXPOST) == 3
        assert len(seen) > 3                               # blocks cycle through the ring
        # Hand up more frames than the ring has slots, holding them all.
        for k in range(7):
            wire.send(pattern(60, k))
        held = rx_hold(drv, 7, budget=7)
        assert len(held) == 7
        for k in range(7):
            assert block_bytes(held[k][0], 60) == pattern(60, k)
        assert len(set(b for b, _, _ in held)) == 7
        for b, _, _ in held:
            zcpool.free(b)
        assert drv.stats()["rx_frames"] == 27
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


# ---- tests: TX ------------------------------------------------------------------------

def test_tx_hold_until_reap():
    drv, wire = make_driver()
    try:
        b = zcpool.alloc(zcpool.H_TX)
        assert b >= 0
        fr = udp_frame(b"held until reaped")
        zcpool.block(b)[FO:FO + len(fr)] = fr
        assert drv.tx(1, [b, FO, len(fr)], 42) == 0
        assert zcpool.refcnt(b) == 2
        # The stack lets go; the ring still holds the block.
        assert zcpool.free(b) == 1
        assert zcpool.holder(b) == zcpool.H_TX
        # Nothing is written behind the stack's back: only tx_reap sends.
        assert wire.recv(50) is None
        assert drv.stats()["tx_frames"] == 0
        out = array.array("i", [0] * 4)
        assert drv.tx_reap(out) == 1
        assert out[0] == 42
        assert zcpool.refcnt(b) == 0, "block not returned at reap"
        got = wire.recv()
        assert got == fr
        assert host_udp_payload(got) == b"held until reaped"
        st = drv.stats()
        assert st["tx_frames"] == 1 and st["tx_bytes"] == len(fr) and st["tx_errors"] == 0
        assert drv.tx_reap(out) == 0
        assert wire.recv(50) is None
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_pbuf_not_writable_until_reap():
    drv, wire = make_driver(tx_ring=4)
    try:
        p = pbuf.alloc(zcpool.H_TX, 60, 0)
        data = pattern(60, 5)
        p.buf[p.off:p.off + 60] = data
        g = [0] * 24
        assert pbuf.gather(p, g) == 1
        assert drv.tx(1, g, 77) == 0
        assert zcpool.refcnt(p.blk) == 2                   # the ring's reference
        assert not pbuf.writable(p)                        # invariant 1
        blk = p.blk
        pbuf.free(p)                                       # the stack lets go
        assert zcpool.refcnt(blk) == 1                     # still held by the ring
        assert wire.recv(50) is None                       # nothing sent behind our back
        out = array.array("i", [0] * 4)
        assert drv.tx_reap(out) == 1
        assert out[0] == 77
        assert zcpool.refcnt(blk) == 0
        assert wire.recv() == data
        st = drv.stats()
        assert st["tx_frames"] == 1 and st["tx_bytes"] == 60
        assert drv.tx_reap(out) == 0
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_enobufs_and_recovery():
    drv, wire = make_driver(tx_ring=4)
    try:
        frames = [udp_frame(b"ring %d" % i, i) for i in range(6)]
        for i in range(4):
            assert drv.tx(1, [frames[i], 0, len(frames[i])], 100 + i) == 0
        b = zcpool.alloc(zcpool.H_TX)
        zcpool.block(b)[0:len(frames[4])] = frames[4]
        assert drv.tx(1, [b, 0, len(frames[4])], 104) == errno.ENOBUFS
        assert zcpool.refcnt(b) == 1, "ENOBUFS took a reference"
        assert drv.stats()["tx_ring_full"] == 1
        # Reap two; room for two more.
        out = array.array("i", [0] * 2)
        assert drv.tx_reap(out) == 2
        assert list(out) == [100, 101]
        assert drv.tx(1, [b, 0, len(frames[4])], 104) == 0
        zcpool.free(b)
        assert drv.tx(1, [frames[5], 0, len(frames[5])], 105) == 0
        assert tx_reap_all(drv, 4) == [102, 103, 104, 105]
        assert zcpool.refcnt(b) == 0
        got = [wire.recv() for _ in range(6)]
        assert got == frames
        assert [host_udp_payload(f) for f in got] == [b"ring %d" % i for i in range(6)], got
        st = drv.stats()
        assert st["tx_frames"] == 6 and st["tx_ring_full"] == 1
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_enobufs_one_block_many_descriptors():
    drv, wire = make_driver(tx_ring=2)
    try:
        p = pbuf.alloc(zcpool.H_TX, 64, 0)
        p.buf[p.off:p.off + 64] = pattern(64, 7)
        g = [p.blk, p.off, 64]
        assert drv.tx(1, g, 1) == 0
        assert drv.tx(1, g, 2) == 0
        assert zcpool.refcnt(p.blk) == 3
        assert drv.tx(1, g, 3) == errno.ENOBUFS == 105
        assert zcpool.refcnt(p.blk) == 3                   # nothing taken
        assert drv.stats()["tx_ring_full"] == 1
        out = array.array("i", [0])
        assert drv.tx_reap(out) == 1 and out[0] == 1       # one slot frees up
        assert zcpool.refcnt(p.blk) == 2
        assert drv.tx(1, g, 3) == 0                        # and the retry goes in
        out = array.array("i", [0] * 4)
        assert drv.tx_reap(out) == 2
        assert list(out[:2]) == [2, 3]
        assert zcpool.refcnt(p.blk) == 1
        assert [wire.recv() for _ in range(3)] == [pattern(64, 7)] * 3
        assert wire.recv(50) is None
        st = drv.stats()
        assert st["tx_frames"] == 3 and st["tx_ring_full"] == 1
        pbuf.free(p)
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_ring_wrap_both_rings():
    ring = 4
    drv, wire = make_driver(rx_ring=ring, tx_ring=ring)
    try:
        count = 3 * ring + 1
        # RX: more frames than slots, taken a few at a time.
        sent = [b"%03d:" % i + b"r" * (i * 37 % 900) for i in range(count)]
        for p in sent:
            wire.send(rx_frame(p))
        got, _ = rx_collect(drv, count, budget=3)
        assert got == sent, "rx wrap lost or reordered frames"
        # TX: more frames than descriptors, queued and reaped in rounds.
        frames = [udp_frame(b"%03d:" % i + b"t" * (i * 53 % 1400), i) for i in range(count)]
        reaped = []
        i = 0
        for _ in range(10 * count):
            if i >= count:
                break
            err = drv.tx(1, [frames[i], 0, len(frames[i])], i)
            if err == errno.ENOBUFS:
                reaped += tx_reap_all(drv, 1)
                continue
            assert err == 0
            i += 1
        reaped += tx_reap_all(drv, count - len(reaped))
        assert reaped == list(range(count)), reaped
        for k in range(count):
            fr = wire.recv()
            assert fr == frames[k], "tx frame %d" % k
            assert host_udp_payload(fr) == frames[k][42:], "tx frame %d" % k
        st = drv.stats()
        assert st["tx_frames"] == count
        assert st["tx_bytes"] == sum(len(f) for f in frames)
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_ring_wrap_keeps_order():
    drv, wire = make_driver(tx_ring=3)
    try:
        out = array.array("i", [0] * 2)
        cookie = 0
        reaped = []
        for rnd in range(7):
            for _ in range(10):
                if drv.tx(1, [pattern(20, cookie), 0, 20], cookie) != 0:
                    break
                cookie += 1
            n = drv.tx_reap(out)                           # at most len(out) per call
            assert n == 2
            reaped.extend(out[:n])
        for _ in range(10):
            n = drv.tx_reap(out)
            if not n:
                break
            reaped.extend(out[:n])
        assert reaped == list(range(cookie))
        sent = [wire.recv() for _ in range(cookie)]
        assert sent == [pattern(20, c) for c in range(cookie)]
        assert wire.recv(50) is None
        assert drv.stats()["tx_ring_full"] == 7
        assert drv.stats()["tx_frames"] == cookie
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def _queue_external(drv, fr, plen, b):
    """Queue `fr` as header (bytearray) + payload (bytes) + a memoryview slice
    of a bigger bytearray + a pool block tail; no reference survives here."""
    hdr = bytearray(fr[:42])                      # mutable header (REF)
    rom = bytes(fr[42:42 + plen])                 # immutable bytes (ROM)
    ref = fr[42 + plen:42 + plen + 9]
    tail = fr[42 + plen + 9:]
    zcpool.block(b)[100:100 + len(tail)] = tail
    # A memoryview with an offset inside a larger buffer.
    big = bytearray(b"....") + ref + bytearray(b"....")
    g = [hdr, 0, len(hdr), rom, 0, len(rom), memoryview(big), 4, len(ref), b, 100, len(tail)]
    return drv.tx(4, g, 7)


def _churn_heap():
    keep = []
    for i in range(3000):
        keep.append(bytearray(b"\xaa" * (8 + i % 120)))
        if len(keep) > 400:
            keep = keep[200:]
            gc.collect()
    gc.collect()


def test_tx_external_buffers():
    drv, wire = make_driver()
    try:
        payload = b"ROM part|" * 20
        fr = udp_frame(payload + b"REF part|" + b"pool tail")
        b = zcpool.alloc(zcpool.H_TX)
        assert _queue_external(drv, fr, len(payload), b) == 0
        assert zcpool.refcnt(b) == 2
        zcpool.free(b)
        # The driver alone keeps the buffers alive (invariant 6): a heap
        # churn must not recycle them under the TX ring.
        gc.collect()
        _churn_heap()
        assert tx_reap_all(drv, 1) == [7]
        assert zcpool.refcnt(b) == 0
        got = wire.recv()
        assert got == fr
        assert host_udp_payload(got) == fr[42:]
        # A tuple works as the gather table too.
        assert drv.tx(1, (fr, 0, len(fr)), 8) == 0
        assert tx_reap_all(drv, 1) == [8]
        assert wire.recv() == fr
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_gather_of_a_chain_is_zero_copy():
    drv, wire = make_driver()
    try:
        payload = pattern(200, 1)
        h = pbuf.alloc(zcpool.H_TX, 14, 0)
        h.buf[h.off:h.off + 14] = pattern(14, 9)
        pbuf.cat(h, pbuf.rom(payload, 10, 150))
        r = pbuf.ram(9)
        r.buf[0:9] = b"ram-piece"
        pbuf.cat(h, r)
        want = pbuf.to_bytes(h)
        c0 = pbuf.copied()
        g = [0] * 24
        n = pbuf.gather(h, g)
        assert n == 3
        assert drv.tx(n, g, 1) == 0
        pbuf.free(h)                                       # ROM/RAM objects kept by the ring
        del r
        for j in range(len(g)):
            g[j] = 0                                       # the table is reused by the stack
        gc.collect()
        out = array.array("i", [0])
        assert drv.tx_reap(out) == 1
        assert wire.recv() == want
        assert pbuf.copied() == c0                         # the wire is not a stack copy
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_room_follows_the_ring():
    drv, wire = make_driver(tx_ring=4)
    try:
        fr = udp_frame(b"room")
        assert drv.tx_room() == 4
        for i in range(3):
            assert drv.tx(1, [fr, 0, len(fr)], i) == 0
            assert drv.tx_room() == 3 - i
        assert drv.tx(1, [fr, 0, len(fr)], 3) == 0
        assert drv.tx_room() == 0
        assert drv.tx(1, [fr, 0, len(fr)], 4) == errno.ENOBUFS
        assert drv.tx_room() == 0
        raises(ValueError, drv.tx, 1, [fr, 0, 5], 5)      # a refused frame takes no room
        out = array.array("i", [0] * 2)
        assert drv.tx_reap(out) == 2 and list(out) == [0, 1]
        assert drv.tx_room() == 2
        assert tx_reap_all(drv, 2) == [2, 3]
        assert drv.tx_room() == 4
        assert [wire.recv() for _ in range(4)] == [fr] * 4
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()
    raises(OSError, drv.tx_room)                          # closed


def _sixteen_pieces(fr, f, h):
    """fr cut into 16 gather entries of every kind: frame block f, header
    block h (by index and, at another offset, through its view), bytes,
    bytearray, memoryview. Returns the gather table."""
    cuts = [0, 14, 20, 34, 38, 42, 50, 61, 70, 80, 95, 100, 120, 130, 150, 170, len(fr)]
    assert len(cuts) == 17 and len(fr) > 170
    g = []
    hv = zcpool.block(h)
    at = 0                                                # header block cursor
    for k in range(16):
        a, b = cuts[k], cuts[k + 1]
        piece = fr[a:b]
        n = b - a
        kind = k % 5
        if kind == 0:                                     # frame block, by index
            zcpool.block(f)[100 + a:100 + b] = piece
            g += [f, 100 + a, n]
        elif kind == 1:                                   # header block, by index
            o = at + 1
            at = o + n
            hv[o:o + n] = piece
            g += [h, o, n]
        elif kind == 2:
            g += [bytes(piece), 0, n]
        elif kind == 3:
            g += [bytearray(b"##") + piece, 2, n]
        else:                                             # a view of the header block
            o = at + 1
            at = o + n
            hv[o:o + n] = piece
            g += [hv, o, n]
    assert at <= zcpool.HDR_SIZE
    return g


def test_tx_sixteen_entries_exact_and_seventeen_refused():
    drv, wire = make_driver(tx_ring=4)
    f = zcpool.alloc(zcpool.H_TX)
    h = zcpool.alloc_hdr(zcpool.H_TX)
    try:
        fr = udp_frame(pattern(200, 11))
        g = _sixteen_pieces(fr, f, h)
        # 17 entries: refused before anything is taken or queued
        g17 = g + [fr, 0, 1]
        raises(ValueError, drv.tx, 17, g17, 99)
        assert zcpool.refcnt(f) == 1 and zcpool.refcnt(h) == 1
        assert drv.tx_room() == 4
        assert drv.tx(16, g, 16) == 0
        refs_f = zcpool.refcnt(f)
        assert refs_f == 1 + 4                            # entries 0, 5, 10, 15
        views = 3 if "pool_views" in netif().CAPS else 0  # entries 4, 9, 14
        assert zcpool.refcnt(h) == 1 + 3 + views          # entries 1, 6, 11 (+ views)
        assert tx_reap_all(drv, 1) == [16]
        assert zcpool.refcnt(f) == 1 and zcpool.refcnt(h) == 1
        got = wire.recv()
        assert got == fr, "16-entry frame not exact on the wire"
        assert host_udp_payload(got) == pattern(200, 11)
        st = drv.stats()
        assert st["tx_frames"] == 1 and st["tx_bytes"] == len(fr)
        assert wire.recv(50) is None                      # the refused one never went
    finally:
        close_all(drv, wire)
        zcpool.free(f)
        zcpool.free(h)
    check_closed_baseline()


def test_tx_header_block_held_until_reap():
    # The shape TCP uses: headers in a header block, payload by reference.
    drv, wire = make_driver(tx_ring=4)
    try:
        payload = pattern(300, 4)
        fr = udp_frame(payload)
        h = zcpool.alloc_hdr(zcpool.H_TX)
        assert zcpool.is_hdr(h)
        zcpool.block(h)[32:32 + 42] = fr[:42]
        assert drv.tx(2, [h, 32, 42, payload, 0, len(payload)], 3) == 0
        assert zcpool.refcnt(h) == 2
        assert zcpool.free(h) == 1                        # the stack lets go
        assert zcpool.hnfree() == zcpool.HNBLOCKS - 1     # the ring keeps it
        assert not at_baseline()
        assert tx_reap_all(drv, 1) == [3]
        assert zcpool.refcnt(h) == 0 and zcpool.hnfree() == zcpool.HNBLOCKS
        assert wire.recv() == fr
        # the end of a header block, and past it
        h = zcpool.alloc_hdr(zcpool.H_TX)
        raises(ValueError, drv.tx, 1, [h, zcpool.HDR_SIZE - 13, 14], 4)
        raises(ValueError, drv.tx, 1, [zcpool.NBLOCKS + zcpool.HNBLOCKS, 0, 14], 4)
        assert zcpool.refcnt(h) == 1
        zcpool.free(h)
        raises(ValueError, drv.tx, 1, [h, 0, 60], 4)     # a free header block
        assert drv.tx_room() == 4
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_moved_bytearray_not_sent():
    # The application lends a bytearray, then grows it before the driver
    # read it: its old storage may be freed memory by then. The frame must
    # not go out (the old TAP driver writev'd the freed memory), it still
    # completes (cookie reported, refs dropped), tx_ref_moved counts it, and
    # the frames around it go out in order.
    drv, wire = make_driver(tx_ring=8)
    b = zcpool.alloc(zcpool.H_TX)
    try:
        before = udp_frame(b"before", 1)
        fr = udp_frame(pattern(100, 2), 2)
        after = udp_frame(b"after", 3)
        zcpool.block(b)[FO:FO + len(fr) - 42] = fr[42:]
        hdr = bytearray(fr[:42])
        grown = bytearray(fr[:42])
        assert drv.tx(1, [before, 0, len(before)], 10) == 0
        assert drv.tx(2, [hdr, 0, 42, b, FO, len(fr) - 42], 11) == 0
        assert drv.tx(2, [grown, 0, 42, b, FO, len(fr) - 42], 12) == 0
        assert drv.tx(1, [after, 0, len(after)], 13) == 0
        assert zcpool.refcnt(b) == 3
        hdr.append(0)                                     # size changed (may not move)
        grown.extend(b"x" * 4000)                         # moved: a new allocation
        gc.collect()
        _churn_heap()                                     # the old storage is reused
        assert tx_reap_all(drv, 4) == [10, 11, 12, 13], "cookies lost or reordered"
        assert zcpool.refcnt(b) == 1                      # the ring let go of both
        assert wire.recv() == before
        assert wire.recv() == after, "a frame with moved storage was sent"
        assert wire.recv(50) is None
        st = drv.stats()
        assert st["tx_ref_moved"] == 2 and st["tx_frames"] == 2, st
        assert st["tx_errors"] == 0
        # unchanged storage still goes out
        assert drv.tx(2, [bytearray(fr[:42]), 0, 42, b, FO, len(fr) - 42], 14) == 0
        assert tx_reap_all(drv, 1) == [14]
        assert wire.recv() == fr
        assert drv.stats()["tx_ref_moved"] == 2
        assert at_baseline() is False                     # we still hold b
    finally:
        close_all(drv, wire)
        zcpool.free(b)
    check_closed_baseline()


@needs("view_base_check")
def test_tx_view_of_resized_bytearray_not_sent():
    # A memoryview points at its base's storage, not at the base: growing
    # the bytearray frees that storage while the view looks unchanged.
    drv, wire = make_driver(tx_ring=4)
    try:
        fr = udp_frame(b"view of a bytearray")
        base = bytearray(fr)
        mv = memoryview(base)
        assert drv.tx(1, [mv, 0, len(fr)], 1) == 0
        keep = bytearray(fr)
        assert drv.tx(1, [memoryview(keep)[2:], 0, len(fr) - 2], 2) == 0
        base.extend(b"x" * 4000)                          # storage reallocated, old freed
        assert tx_reap_all(drv, 2) == [1, 2]
        assert wire.recv() == fr[2:], "a view of freed storage was sent"
        assert wire.recv(50) is None
        st = drv.stats()
        assert st["tx_ref_moved"] == 1 and st["tx_frames"] == 1
        assert at_baseline()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_tx_saturated_block_refused():
    # A block's count is 8 bits: a frame whose refs would not fit is refused
    # loudly, before a single ref is taken.
    drv, wire = make_driver(tx_ring=4)
    b = zcpool.alloc(zcpool.H_TX)
    h = zcpool.alloc_hdr(zcpool.H_TX)
    try:
        zcpool.block(b)[0:60] = pattern(60, 8)
        for _ in range(249):
            zcpool.ref(b)
        assert zcpool.refcnt(b) == 250
        six = [b, 0, 10] * 6                              # 250 + 6 > 255
        e = raises(ValueError, drv.tx, 6, six, 1)
        assert "saturated" in str(e)
        assert zcpool.refcnt(b) == 250 and drv.tx_room() == 4
        # the good entry before the saturating one is not taken either
        e = raises(ValueError, drv.tx, 7, [h, 0, 10] + six, 1)
        assert zcpool.refcnt(h) == 1 and zcpool.refcnt(b) == 250
        assert drv.tx(5, [b, 0, 10] * 5, 2) == 0          # exactly 255
        assert zcpool.refcnt(b) == 255
        raises(ValueError, drv.tx, 1, [b, 0, 60], 3)
        if "pool_views" in netif().CAPS:                  # a view is held like the block
            raises(ValueError, drv.tx, 1, [zcpool.block(b), 0, 60], 3)
        assert zcpool.refcnt(b) == 255 and drv.tx_room() == 3
        assert tx_reap_all(drv, 1) == [2]
        assert zcpool.refcnt(b) == 250
        assert wire.recv() == pattern(60, 8)[0:10] * 5
    finally:
        close_all(drv, wire)
        while zcpool.refcnt(b) > 0:
            zcpool.free(b)
        zcpool.free(h)
    check_closed_baseline()


def _open_and_drop(name_out):
    """Open a driver, queue TX refs, and drop it without close()."""
    drv, _ = make_driver(rx_ring=4, tx_ring=4, wire=False)
    name_out.append(drv.name)
    b = zcpool.alloc(zcpool.H_TX)
    h = zcpool.alloc_hdr(zcpool.H_TX)
    zcpool.block(b)[0:60] = pattern(60)
    assert drv.tx(2, [b, 0, 46, h, 0, 14], 1) == 0
    assert drv.tx(1, [bytearray(60), 0, 60], 2) == 0
    zcpool.free(b)
    zcpool.free(h)
    assert zcpool.held(zcpool.H_RXPOST) == 4
    assert zcpool.refcnt(b) == 1 and zcpool.refcnt(h) == 1   # only the ring holds them


def _clobber_stack(n=40):
    # Overwrite the C stack below us, where a stale pointer to the dropped
    # driver could keep it alive under the conservative GC.
    a = [0] * 8
    if n:
        _clobber_stack(n - 1)
    return a


@needs("finaliser")
def test_dropped_driver_collected_gives_everything_back():
    names = []
    _open_and_drop(names)
    for _ in range(10):
        _clobber_stack()
        gc.collect()
        if zcpool.nfree() == zcpool.NBLOCKS and zcpool.hnfree() == zcpool.HNBLOCKS:
            break
    check_closed_baseline()                               # RX posts and TX refs back
    assert zcpool.held(zcpool.H_RXPOST) == 0
    if "kernel_iface" in netif().CAPS:
        assert os.system("ip link show dev %s >/dev/null 2>&1" % names[0]) != 0, \
            "the interface outlived its collected driver"


def test_bad_gather_takes_nothing():
    drv, _ = make_driver(tx_ring=4, wire=False)
    try:
        good = zcpool.alloc(zcpool.H_TX)
        dead = zcpool.alloc(zcpool.H_TX)
        zcpool.free(dead)
        frame = bytes(60)
        bs = zcpool.BLOCK_SIZE
        bad = [
            (0, [frame, 0, 60]),                                  # no entries
            (17, [frame, 0, 60] * 17),                            # too many entries
            (2, [frame, 0, 60]),                                  # table too short
            (1, [dead, 0, 60]),                                   # free block
            (1, [zcpool.NBLOCKS, 0, 60]),                         # no such block
            (1, [-1, 0, 60]),
            (1, [good, bs - 10, 60]),                             # past the block end
            (1, [good, -2, 60]),                                  # negative offset
            (1, [good, 0, -60]),                                  # negative length
            (1, [frame, 10, 60]),                                 # past the bytes end
            (2, [good, 0, 30, frame, 0, 61]),                     # 2nd entry bad, 1st good
            (2, [good, 0, 30, dead, 0, 30]),
            (1, [frame, 0, 10]),                                  # shorter than a header
            (1, [good, FO, 13]),                                  # (a block, one short)
            (2, [good, 0, bs, frame, 0, 60]),                     # longer than a frame
        ]
        for n, g in bad:
            try:
                drv.tx(n, g, 1)
                assert False, "accepted n=%d %r" % (n, g[:6])
            except ValueError:
                pass
            assert zcpool.refcnt(good) == 1, "a ref was taken"
        for n, g in ((1, [3.5, 0, 60]), (1, [object(), 0, 60])):
            try:
                drv.tx(n, g, 1)
                assert False, "accepted a non-buffer"
            except (TypeError, ValueError):
                pass
        assert drv.stats()["tx_ring_full"] == 0
        out = array.array("i", [0] * 4)
        assert drv.tx_reap(out) == 0, "a bad frame was queued"
        # The ring is intact: all four descriptors are still usable.
        for i in range(4):
            assert drv.tx(1, [good, 0, 60], i) == 0
        assert zcpool.refcnt(good) == 5
        # A bad frame is refused before the ring-full check, a good one after it.
        raises(ValueError, drv.tx, 1, [good, FO, 13], 9)
        assert drv.stats()["tx_ring_full"] == 0
        assert drv.tx(1, [good, 0, 60], 9) == errno.ENOBUFS
        assert drv.stats()["tx_ring_full"] == 1
        zcpool.free(good)
        # No wire (and no address on a TAP): the frames may be dropped out
        # there, but the driver completes every frame either way.
        assert tx_reap_all(drv, 4) == [0, 1, 2, 3]
        assert zcpool.refcnt(good) == 0
        assert at_baseline()
    finally:
        drv.close()
    check_closed_baseline()


def test_counters_are_a_snapshot():
    drv, wire = make_driver(rx_ring=4)
    try:
        st = drv.stats()
        wire.send(rx_frame(b"count me"))
        got, _ = rx_collect(drv, 1)
        assert got == [b"count me"]
        assert st["rx_frames"] == 0 and drv.stats()["rx_frames"] == 1
        assert drv.stats() is not drv.stats()
    finally:
        close_all(drv, wire)
    check_closed_baseline()


def test_close_returns_queued_tx():
    drv, wire = make_driver(rx_ring=4, tx_ring=8)
    b = zcpool.alloc(zcpool.H_TX)
    try:
        for i in range(3):
            assert drv.tx(2, [b, 0, 30, b"x" * 40, 0, 40], i) == 0
        assert zcpool.refcnt(b) == 4
        wire.send(rx_frame(b"never read"))                 # left on the wire at close
    finally:
        drv.close()
    try:
        assert zcpool.refcnt(b) == 1, "close() kept TX refs"
        assert wire.recv(50) is None, "close() sent the queued frames"
    finally:
        wire.close()
    zcpool.free(b)
    check_closed_baseline()


def _main():
    g = globals()
    names = sorted(n for n in g if n.startswith("test_"))
    failed = skipped = 0
    for n in names:
        try:
            g[n]()
            print("PASS", n)
        except SkipTest as e:
            skipped += 1
            print("SKIP", n, e)
        except Exception as e:
            failed += 1
            print("FAIL %s: %r" % (n, e))
            sys.print_exception(e)
    print("%d failed, %d skipped of %d" % (failed, skipped, len(names)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    _main()
