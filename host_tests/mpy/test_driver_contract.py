# The driver contract (docs/internals.md, "Driver contract"), checked against
# a real MAC driver from inside MicroPython. NETIF comes from the environment
# variable ZC_NETIF (default "tap").
#
# The wire side is the kernel: the TAP interface gets the host address
# 198.51.100.1/24 and a static neighbour 198.51.100.2 (the "peer", i.e. us),
# so a UDP datagram the host sends to the peer arrives in the driver's RX
# ring as one Ethernet frame, with no ARP in between; frames we build by hand
# and transmit arrive on a UDP socket bound to the host address.
#
# Needs root and /dev/net/tun; run it inside a private network namespace:
#   unshare -n sh -c 'ip link set lo up; build/unix/micropython host_tests/mpy/test_driver_contract.py'
# Every test leaves the pool at its starting state: all blocks free once the
# driver is closed.
import os
import sys
import time
import array
import errno
import gc
import select
import socket
import struct

import zcpool

HOST_IP = "198.51.100.1"
PEER_IP = "198.51.100.2"
PEER_MAC = b"\x02\x00\x00\x00\x00\x02"
HOST_MAC = b"\x02\x00\x00\x00\x00\x01"
HOST_PORT = 40001
PEER_PORT = 40002
WAIT_MS = 1000


class SkipTest(Exception):
    pass


def netif():
    return os.getenv("ZC_NETIF") or "tap"


_seq = [0]


def _sh(cmd):
    rc = os.system(cmd + " >/dev/null 2>&1")
    if rc != 0:
        raise OSError("command failed (%d): %s" % (rc, cmd))


def _write(path, text):
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass


def make_driver(rx_ring=16, tx_ring=32, wire=True):
    """Build the driver under test. With wire=True the host side gets its
    address and the static neighbour, so traffic can flow."""
    kind = netif()
    if kind != "tap":
        raise SkipTest("no factory for ZC_NETIF=%s" % kind)
    try:
        import zctap
    except ImportError:
        raise SkipTest("zctap not built in")
    # No IPv6 chatter (DAD, MLD, RS) on the new interface: its frames would
    # land in the RX ring between ours.
    _write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")
    name = "zct%d" % _seq[0]
    _seq[0] += 1
    try:
        drv = zctap.TAP(name=name, rx_ring=rx_ring, tx_ring=tx_ring)
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES, errno.ENOENT, errno.ENODEV):
            raise SkipTest("cannot open a TAP device: %s" % e)
        raise
    if wire:
        try:
            # A known host MAC (sysfs may show another namespace).
            _sh("ip link set dev %s address 02:00:00:00:00:01" % drv.name)
            _sh("ip addr add %s/24 dev %s" % (HOST_IP, drv.name))
            _sh("ip neigh replace %s lladdr 02:00:00:00:00:02 nud permanent dev %s"
                % (PEER_IP, drv.name))
        except BaseException:
            drv.close()
            raise
    return drv


# ---- pool helpers ---------------------------------------------------------------

def at_baseline():
    return zcpool.nfree() + zcpool.held(zcpool.H_RXPOST) == zcpool.NBLOCKS


def check_closed_baseline():
    assert zcpool.nfree() == zcpool.NBLOCKS, "leak: %d of %d free" % (zcpool.nfree(), zcpool.NBLOCKS)


def block_bytes(b, n):
    off = zcpool.FRAME_OFFSET
    return bytes(zcpool.block(b)[off:off + n])


# ---- frames ---------------------------------------------------------------------

def ip_csum(hdr):
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) | hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def udp_frame(payload, ident=1):
    """Ethernet + IPv4 + UDP frame from the peer to the host socket."""
    eth = HOST_MAC + PEER_MAC + b"\x08\x00"
    ulen = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident & 0xFFFF, 0,
                               64, 17, 0, ip4(PEER_IP), ip4(HOST_IP)))
    struct.pack_into("!H", ip, 10, ip_csum(ip))
    udp = struct.pack("!HHHH", PEER_PORT, HOST_PORT, ulen, 0)  # no UDP checksum
    return eth + bytes(ip) + udp + payload


def frame_payload(fr):
    """Payload of a host->peer UDP frame, or None for any other frame."""
    if len(fr) < 42 or fr[12:14] != b"\x08\x00" or fr[23] != 17:
        return None
    if fr[30:34] != ip4(PEER_IP) or struct.unpack("!H", fr[36:38])[0] != PEER_PORT:
        return None
    ulen = struct.unpack("!H", fr[38:40])[0]
    return fr[42:34 + ulen]


class Host:
    """The kernel's side: a UDP socket on the host address."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(socket.getaddrinfo(HOST_IP, HOST_PORT)[0][-1])
        self.peer = socket.getaddrinfo(PEER_IP, PEER_PORT)[0][-1]
        self.p = select.poll()
        self.p.register(self.s, select.POLLIN)

    def send(self, payload):
        self.s.sendto(payload, self.peer)

    def recv(self, timeout_ms=WAIT_MS):
        if not self.p.poll(timeout_ms):
            return None
        return self.s.recv(4096)

    def close(self):
        self.s.close()


def wait_readable(drv, timeout_ms=WAIT_MS):
    p = select.poll()
    p.register(drv, select.POLLIN)
    return bool(p.poll(timeout_ms))


def rx_collect(drv, want, budget=8, timeout_ms=WAIT_MS):
    """Poll until `want` peer-bound UDP payloads came in (or time is up).
    Frees every block; returns (payloads, [(block, length, flags), ...])."""
    out = array.array("i", [0] * (3 * budget))
    got, seen = [], []
    t0 = time.ticks_ms()
    for _ in range(10000):
        if len(got) >= want or time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            break
        n = drv.rx_poll(budget, out)
        if n == 0:
            wait_readable(drv, 20)
            continue
        for k in range(n):
            b, ln, fl = out[3 * k], out[3 * k + 1], out[3 * k + 2]
            assert zcpool.holder(b) == zcpool.H_RX, "handed-up block not H_RX"
            assert zcpool.refcnt(b) == 1
            seen.append((b, ln, fl))
            pl = frame_payload(block_bytes(b, ln))
            assert zcpool.free(b) == 0
            if pl is not None:
                got.append(pl)
    return got, seen


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


# ---- tests ------------------------------------------------------------------------

def test_open_link_poll_close():
    drv = make_driver(rx_ring=8, tx_ring=4)
    name = drv.name
    try:
        assert isinstance(name, str) and name
        up, speed, fd = drv.link()
        assert up is True and speed > 0 and fd is True
        assert isinstance(drv.fileno(), int) and drv.fileno() >= 0
        assert zcpool.held(zcpool.H_RXPOST) == 8
        assert at_baseline()
        st = drv.stats()
        for k in ("rx_frames", "rx_bytes", "rx_no_buffer", "rx_oversize", "rx_errors",
                  "tx_frames", "tx_bytes", "tx_ring_full", "tx_errors"):
            assert st[k] == 0, k
        # select.poll takes the driver object itself (MP_STREAM_GET_FILENO).
        assert not wait_readable(drv, 10)
        h = Host()
        try:
            h.send(b"wake")
            assert wait_readable(drv, WAIT_MS)
        finally:
            h.close()
    finally:
        drv.close()
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
    # Not persistent: the interface went away with the fd.
    assert os.system("ip link show dev %s >/dev/null 2>&1" % name) != 0, "interface survived close()"


def test_rx_frames_and_counters():
    drv = make_driver(rx_ring=8)
    h = Host()
    try:
        sent = [b"rx-%d-" % i + bytes(range(i * 7 % 200)) for i in range(6)]
        for p in sent:
            h.send(p)
        got, seen = rx_collect(drv, len(sent))
        assert got == sent, got
        for b, ln, fl in seen:
            assert fl == 0 and 0 < ln <= zcpool.BLOCK_SIZE - zcpool.FRAME_OFFSET
        st = drv.stats()
        assert st["rx_frames"] == len(seen)
        assert st["rx_bytes"] == sum(ln for _, ln, _ in seen)
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
        h.close()
        drv.close()
    check_closed_baseline()


def test_tx_hold_until_reap():
    drv = make_driver()
    h = Host()
    try:
        b = zcpool.alloc(zcpool.H_TX)
        assert b >= 0
        fr = udp_frame(b"held until reaped")
        off = zcpool.FRAME_OFFSET
        zcpool.block(b)[off:off + len(fr)] = fr
        assert drv.tx(1, [b, off, len(fr)], 42) == 0
        assert zcpool.refcnt(b) == 2
        # The stack lets go; the ring still holds the block.
        assert zcpool.free(b) == 1
        assert zcpool.holder(b) == zcpool.H_TX
        # Nothing is written behind the stack's back: only tx_reap sends.
        assert h.recv(50) is None
        assert drv.stats()["tx_frames"] == 0
        out = array.array("i", [0] * 4)
        assert drv.tx_reap(out) == 1
        assert out[0] == 42
        assert zcpool.refcnt(b) == 0, "block not returned at reap"
        assert h.recv() == b"held until reaped"
        st = drv.stats()
        assert st["tx_frames"] == 1 and st["tx_bytes"] == len(fr) and st["tx_errors"] == 0
        assert drv.tx_reap(out) == 0
        assert at_baseline()
    finally:
        h.close()
        drv.close()
    check_closed_baseline()


def test_tx_enobufs_and_recovery():
    drv = make_driver(tx_ring=4)
    h = Host()
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
        got = [h.recv() for _ in range(6)]
        assert got == [b"ring %d" % i for i in range(6)], got
        st = drv.stats()
        assert st["tx_frames"] == 6 and st["tx_ring_full"] == 1
        assert at_baseline()
    finally:
        h.close()
        drv.close()
    check_closed_baseline()


def test_rx_drop_and_recycle_on_empty_pool():
    drv = make_driver(rx_ring=4)
    h = Host()
    try:
        with PoolLimits() as lim:
            posted = zcpool.held(zcpool.H_RXPOST)
            lim.exhaust()
            for i in range(3):
                h.send(b"dropped %d" % i)
            assert wait_readable(drv)
            out = array.array("i", [0] * 24)
            t0 = time.ticks_ms()
            for _ in range(100):
                assert drv.rx_poll(8, out) == 0
                if drv.stats()["rx_no_buffer"] >= 3 or time.ticks_diff(time.ticks_ms(), t0) > WAIT_MS:
                    break
                wait_readable(drv, 20)
            assert drv.stats()["rx_no_buffer"] >= 3
            # The descriptors were recycled, not lost.
            assert zcpool.held(zcpool.H_RXPOST) == posted
            assert not wait_readable(drv, 0), "frames left in the fd"
            lim.give_back()
            sent = [b"after %d" % i for i in range(3)]
            for p in sent:
                h.send(p)
            got, _ = rx_collect(drv, 3)
            assert got == sent, got
            assert drv.stats()["rx_frames"] >= 3
            assert at_baseline()
    finally:
        h.close()
        drv.close()
    check_closed_baseline()


def test_rx_no_posted_block_at_start():
    with PoolLimits() as lim:
        lim.exhaust()
        drv = make_driver(rx_ring=4)
        h = Host()
        try:
            assert zcpool.held(zcpool.H_RXPOST) == 0
            for i in range(2):
                h.send(b"nobody home %d" % i)
            assert wait_readable(drv)
            out = array.array("i", [0] * 12)
            t0 = time.ticks_ms()
            for _ in range(100):
                assert drv.rx_poll(4, out) == 0
                if drv.stats()["rx_no_buffer"] >= 2 or time.ticks_diff(time.ticks_ms(), t0) > WAIT_MS:
                    break
                wait_readable(drv, 20)
            assert drv.stats()["rx_no_buffer"] >= 2
            lim.give_back()
            h.send(b"now")
            got, _ = rx_collect(drv, 1)
            assert got == [b"now"], got
            assert zcpool.held(zcpool.H_RXPOST) == 4, "ring not reposted"
            assert at_baseline()
        finally:
            h.close()
            drv.close()
    check_closed_baseline()


def test_ring_wrap_both_rings():
    ring = 4
    drv = make_driver(rx_ring=ring, tx_ring=ring)
    h = Host()
    try:
        count = 3 * ring + 1
        # RX: more frames than slots, taken a few at a time.
        sent = [b"%03d:" % i + b"r" * (i * 37 % 900) for i in range(count)]
        for p in sent:
            h.send(p)
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
            assert h.recv() == frames[k][42:], "tx frame %d" % k
        st = drv.stats()
        assert st["tx_frames"] == count
        assert st["tx_bytes"] == sum(len(f) for f in frames)
        assert at_baseline()
    finally:
        h.close()
        drv.close()
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
    drv = make_driver()
    h = Host()
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
        assert h.recv() == fr[42:]
        # A tuple works as the gather table too.
        assert drv.tx(1, (fr, 0, len(fr)), 8) == 0
        assert tx_reap_all(drv, 1) == [8]
        assert h.recv() == fr[42:]
        assert at_baseline()
    finally:
        h.close()
        drv.close()
    check_closed_baseline()


def test_bad_gather_takes_nothing():
    drv = make_driver(tx_ring=4, wire=False)
    try:
        good = zcpool.alloc(zcpool.H_TX)
        dead = zcpool.alloc(zcpool.H_TX)
        zcpool.free(dead)
        frame = bytes(60)
        bs = zcpool.BLOCK_SIZE
        bad = [
            (0, [frame, 0, 60]),                                  # no entries
            (9, [frame, 0, 60] * 9),                              # too many entries
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
        assert drv.tx(1, [good, 0, 60], 9) == errno.ENOBUFS
        zcpool.free(good)
        # No address on the host side: the kernel may drop them, but the
        # driver completes every frame either way.
        assert tx_reap_all(drv, 4) == [0, 1, 2, 3]
        assert zcpool.refcnt(good) == 0
        assert at_baseline()
    finally:
        drv.close()
    check_closed_baseline()


def test_rx_oversize_dropped():
    drv = make_driver(rx_ring=4)
    h = Host()
    try:
        _sh("ip link set dev %s mtu 3000" % drv.name)
        h.send(b"O" * 2000)                         # a 2042-byte frame
        h.send(b"fits")
        got, _ = rx_collect(drv, 1)
        assert got == [b"fits"], got
        st = drv.stats()
        assert st["rx_oversize"] == 1, st
        assert zcpool.held(zcpool.H_RXPOST) == 4
        assert at_baseline()
    finally:
        h.close()
        drv.close()
    check_closed_baseline()


def test_close_returns_queued_tx():
    drv = make_driver(rx_ring=4, tx_ring=8, wire=False)
    b = zcpool.alloc(zcpool.H_TX)
    try:
        for i in range(3):
            assert drv.tx(2, [b, 0, 30, b"x" * 40, 0, 40], i) == 0
        assert zcpool.refcnt(b) == 4
    finally:
        drv.close()
    assert zcpool.refcnt(b) == 1, "close() kept TX refs"
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
