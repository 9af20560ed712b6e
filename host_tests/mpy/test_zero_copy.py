# Zero copy and zero allocation on the echo paths, measured inside MicroPython
# on the stack AS FROZEN INTO THE BINARY (what `make run` runs; mpy-cross may
# store constants differently from the source compiler), on both widths
# (`::mpy::` 64-bit, `::mpy32::` 32-bit, where every int >= 2^30 is a heap
# object). Run `make build` (both widths: `make test` does) after editing
# stack/: this module measures the frozen copy, not the source tree.
#
# The stack runs over the in-memory driver (stack/memif.py) with the
# collector off. Per echoed datagram: inject the request (one frame, or its
# fragments) onto the wire, let the stack poll until the reply is on the
# wire, take the reply. The heap the stack's own code takes in that span
# must be 0 bytes, and the copy counter must not move. What the test wire
# allocates (memif's inject and take_sent, and memif._tx_wire turning a sent
# gather list into bytes) is measured on its own and subtracted; both
# figures are in every failure message.
#
# Addresses with high bits set: the stack's MAC 02:c0:ff:ee:c0:02 (unicast,
# locally administered), the peer's 02:c0:ff:ee:c0:01, IPs 198.51.100.x
# (>= 2^30 as a 32-bit int).
import gc
import sys

# The frozen `stack`, not the source tree the runner put first on sys.path.
if "stack" in sys.modules:
    raise ImportError("stack was imported before test_zero_copy could choose the frozen copy")
_saved_path = list(sys.path)
sys.path[:] = [".frozen"] + [p for p in _saved_path if p != ".frozen"]
try:
    import stack
    from stack import config, pbuf
    from stack.core import Stack
    from stack.memif import Memif
    from stack.pool import at_baseline, pool
finally:
    sys.path[:] = _saved_path

STACK_MAC = b"\x02\xc0\xff\xee\xc0\x02"
PEER_MAC = b"\x02\xc0\xff\xee\xc0\x01"
STACK_IP = b"\xc6\x33\x64\x02"   # 198.51.100.2
PEER_IP = b"\xc6\x33\x64\xc9"    # 198.51.100.201
ROUNDS = 16
WARMUP = 4
NOW_MS = 1                       # a fixed clock: no timer runs in the span


def test_the_frozen_stack_is_measured():
    # A frozen package's __path__ is ".frozen/<name>"; one imported from a
    # directory is that directory.
    where = getattr(stack, "__path__", None)
    assert where == ".frozen/stack", "stack imported from %r, not the frozen copy" % where
    assert stack.core.__file__ == "stack/core.py", stack.core.__file__


# ---- frames ----------------------------------------------------------------

def _csum(b):
    s = 0
    for i in range(0, len(b) - 1, 2):
        s += (b[i] << 8) | b[i + 1]
    if len(b) & 1:
        s += b[-1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ip_frames(proto, payload, ident, mtu=1500):
    """The IP datagram carrying `payload`, as Ethernet frames (fragments of
    at most `mtu` bytes of IP when it does not fit)."""
    room = (mtu - 20) & ~7
    frames = []
    off = 0
    while True:
        chunk = payload[off:off + room]
        more = off + len(chunk) < len(payload)
        h = bytearray(20)
        h[0] = 0x45
        n = 20 + len(chunk)
        h[2] = n >> 8
        h[3] = n & 255
        h[4] = ident >> 8
        h[5] = ident & 255
        fo = (off >> 3) | (0x2000 if more else 0)
        h[6] = fo >> 8
        h[7] = fo & 255
        h[8] = 64
        h[9] = proto
        h[12:16] = PEER_IP
        h[16:20] = STACK_IP
        c = _csum(h)
        h[10] = c >> 8
        h[11] = c & 255
        frames.append(bytes(STACK_MAC + PEER_MAC + b"\x08\x00" + h + chunk))
        off += len(chunk)
        if not more:
            return frames


def _udp(size, ident=1):
    data = bytes((i * 7 + 1) & 255 for i in range(size))
    u = bytearray(8) + data
    u[0:2] = b"\xc3\x50"            # source port 50000 (high bit set too)
    u[2] = config.UDP_ECHO_PORT >> 8
    u[3] = config.UDP_ECHO_PORT & 255
    u[4] = (8 + size) >> 8
    u[5] = (8 + size) & 255
    return _ip_frames(17, bytes(u), ident)   # checksum 0: none (RFC 768)


def _icmp(size, ident=1):
    m = bytearray(8) + bytes((i * 3 + 1) & 255 for i in range(size))
    m[0] = 8
    m[4:8] = b"\xbe\xef\x00\x01"
    c = _csum(m)
    m[2] = c >> 8
    m[3] = c & 255
    return _ip_frames(1, bytes(m), ident)


def _arp_request():
    a = bytearray(b"\x00\x01\x08\x00\x06\x04\x00\x01")
    a += PEER_MAC + PEER_IP + b"\x00" * 6 + STACK_IP
    return bytes(b"\xff" * 6 + PEER_MAC + b"\x08\x06" + a)


# ---- the measurement ---------------------------------------------------------

class _Wire:
    """Heap taken by the test wire inside the stack's span (memif._tx_wire:
    the gather list of a sent frame turned into bytes)."""

    def __init__(self, drv):
        self.bytes = 0
        orig = drv._tx_wire
        acc = self

        def tx_wire(s):
            a = gc.mem_alloc()
            r = orig(s)
            acc.bytes += gc.mem_alloc() - a
            return r

        drv._tx_wire = tx_wire      # the instance attribute wins over the method


def _setup():
    drv = Memif(rx_ring=16, tx_ring=32, wire_queue=64)
    st = Stack(drv, STACK_MAC, "198.51.100.2", 24)
    st.udp.bind_echo(config.UDP_ECHO_PORT)
    wire = _Wire(drv)
    drv.inject(_arp_request())     # the peer's ARP entry, so replies go straight out
    st.poll(NOW_MS)
    st.poll(NOW_MS)
    drv.take_sent()
    return drv, st, wire


def _echo(drv, st, wire, frames, want):
    """One datagram through: returns (stack bytes, wire bytes, replies)."""
    a = gc.mem_alloc()
    for f in frames:
        drv.inject(f)
    inj = gc.mem_alloc() - a
    w0 = wire.bytes
    a = gc.mem_alloc()
    for _ in range(4):              # bounded: a reply needs at most two polls
        st.poll(NOW_MS)
        if drv.pending_tx() == 0 and drv.pending_rx() == 0 and len(drv.sent) >= want:
            break
    span = gc.mem_alloc() - a
    on_wire = wire.bytes - w0
    a = gc.mem_alloc()
    replies = drv.take_sent()
    took = gc.mem_alloc() - a
    return span - on_wire, on_wire + inj + took, replies


def _measure(make, size):
    """(stack bytes per datagram, wire bytes per datagram, replies per datagram)."""
    drv, st, wire = _setup()
    c0 = pbuf.copied()
    frames = make(size)
    want = len(frames)
    for i in range(WARMUP):         # first-time growth of dicts and caches
        _echo(drv, st, wire, make(size, 100 + i), want)
    reqs = [make(size, 1000 + i) for i in range(ROUNDS)]   # built before the span
    stack_b = wire_b = 0
    nrep = []
    gc.collect()
    gc.disable()
    try:
        for fr in reqs:
            s, w, rep = _echo(drv, st, wire, fr, want)
            stack_b += s
            wire_b += w
            nrep.append(len(rep))
    finally:
        gc.enable()
    copied = pbuf.copied() - c0
    st.shutdown()
    assert at_baseline() and pool.nfree() == pool.NBLOCKS, pool.stats()
    assert copied == 0, "%d payload bytes copied on the echo path" % copied
    return stack_b // ROUNDS, wire_b // ROUNDS, nrep


def _case(make, size, nfrags):
    per, wire, nrep = _measure(make, size)
    assert nrep == [nfrags] * ROUNDS, "replies (frames) per datagram: %r" % nrep
    assert per == 0, ("%d-bit: the stack's code took %d heap bytes per echoed datagram "
                      "(test wire: %d, subtracted)" % (32 if sys.maxsize < 2**32 else 64, per, wire))


def test_udp_echo_small_allocates_nothing():
    _case(_udp, 64, 1)


def test_udp_echo_full_size_allocates_nothing():
    _case(_udp, 1472, 1)


def test_udp_echo_fragmented_allocates_nothing():
    _case(_udp, 4000, 3)            # three fragments each way


def test_icmp_echo_small_allocates_nothing():
    _case(_icmp, 56, 1)


def test_icmp_echo_full_size_allocates_nothing():
    _case(_icmp, 1472, 1)


def test_icmp_echo_fragmented_allocates_nothing():
    _case(_icmp, 4000, 3)


def test_a_copy_on_the_echo_path_is_counted():
    # The check above must be able to fail: an echo whose reply is a chain of
    # more pieces than the driver's gather table (a request in 20 fragments of
    # 8 bytes) has its tail copied into one block, and the counter sees it.
    drv, st, wire = _setup()
    c0 = pbuf.copied()
    u = bytearray(8) + bytes((i * 5 + 3) & 255 for i in range(152))
    u[0:2] = b"\xc3\x50"
    u[3] = config.UDP_ECHO_PORT
    u[5] = 160
    frames = _ip_frames(17, bytes(u), 77, mtu=28)
    assert len(frames) == 20
    for f in frames:
        drv.inject(f)
    for _ in range(8):
        st.poll(NOW_MS)
    replies = drv.take_sent()
    assert len(replies) == 1 and replies[0][42:] == u[8:]
    seg = st.netif.gather and len(st.netif.gather) // 3
    # the first piece carries the headers and no data; seg - 2 windows of 8
    # bytes go by reference, the rest was copied
    assert pbuf.copied() - c0 == 152 - 8 * (seg - 2), (pbuf.copied() - c0, seg)
    assert st.ctr["tx_linearised"] == 1
    st.shutdown()
    assert at_baseline()


# ---- TCP: the echo service, segment by segment ---------------------------------

def _tcp_seg(sport, dport, seq, ack, flags, payload, wnd=65535, opts=b""):
    """A TCP segment from the peer as an Ethernet frame (seq/ack as bytes)."""
    hl = 20 + len(opts)
    t = bytearray(hl) + payload
    t[0] = sport >> 8
    t[1] = sport & 255
    t[2] = dport >> 8
    t[3] = dport & 255
    t[4:8] = seq
    t[8:12] = ack
    t[12] = (hl >> 2) << 4
    t[13] = flags
    t[14] = wnd >> 8
    t[15] = wnd & 255
    t[20:hl] = opts
    ph = PEER_IP + STACK_IP + bytes((0, 6, len(t) >> 8, len(t) & 255))
    c = _csum(ph + t)
    t[16] = c >> 8
    t[17] = c & 255
    return _ip_frames(6, bytes(t), 7)[0]


def _add(seq, n):
    v = (((seq[0] << 8 | seq[1]) << 16) | (seq[2] << 8 | seq[3])) + n
    v &= 0xFFFFFFFF
    return bytes(((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255))


def _tcp_frames(frames):
    out = []
    for f in frames:
        if len(f) >= 54 and f[12] == 8 and f[13] == 0 and f[23] == 6:
            out.append(f)
    return out


def test_tcp_echo_allocates_nothing_and_copies_nothing():
    # An echoed segment goes back from the block it came in: no heap, no copy,
    # on both widths (sequence numbers are bytes, never 32-bit ints).
    from stack import services
    drv, st, wire = _setup()
    services.echo(st.tcp, 7)
    sport = 40001
    iss = b"\xff\xff\xff\x00"                # the peer's ISN near the 2^32 wrap
    drv.inject(_tcp_seg(sport, 7, iss, b"\0\0\0\0", 0x02, b"", opts=b"\x02\x04\x05\xb4"))
    st.poll(NOW_MS)
    synack = _tcp_frames(drv.take_sent())
    assert len(synack) == 1 and synack[0][47] == 0x12, synack
    ours = _add(synack[0][38:42], 1)         # the stack's ISN + 1
    mine = _add(iss, 1)
    drv.inject(_tcp_seg(sport, 7, mine, ours, 0x10, b""))
    st.poll(NOW_MS)
    drv.take_sent()
    c0 = pbuf.copied()
    size = 1000
    payloads = [bytes((i + k) & 255 for i in range(size)) for k in range(ROUNDS + WARMUP)]
    stack_b = 0
    for k in range(ROUNDS + WARMUP):
        f = _tcp_seg(sport, 7, mine, ours, 0x18, payloads[k])
        drv.inject(f)
        gc.collect()
        gc.disable()
        try:
            a = gc.mem_alloc()
            w0 = wire.bytes
            st.poll(NOW_MS)
            used = gc.mem_alloc() - a - (wire.bytes - w0)
        finally:
            gc.enable()
        if k >= WARMUP:
            stack_b += used
        echoed = [s for s in _tcp_frames(drv.take_sent()) if len(s) > 66]
        assert len(echoed) == 1 and echoed[0][-size:] == payloads[k], (k, len(echoed))
        mine = _add(mine, size)
        ours = _add(ours, size)
        drv.inject(_tcp_seg(sport, 7, mine, ours, 0x10, b""))   # the peer ACKs the echo
        st.poll(NOW_MS)
        drv.take_sent()
    assert pbuf.copied() == c0, "%d bytes copied" % (pbuf.copied() - c0)
    per = stack_b // ROUNDS
    st.shutdown()
    assert at_baseline() and pool.nfree() == pool.NBLOCKS
    assert per == 0, "%d-bit: %d heap bytes per echoed TCP segment" % (32 if sys.maxsize < 2**32 else 64, per)
