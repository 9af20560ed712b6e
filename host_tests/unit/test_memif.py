# The driver contract (docs/internals.md) on stack/memif.py, the in-memory
# MAC: hold-until-reap, ENOBUFS and recovery, drop-and-recycle on an empty
# pool, ring wrap, counters, connect(). Runs on both lanes; every test
# closes its memifs and leaves the pool with every block free.
import errno
import gc
from array import array

from stack import memif, pbuf
from stack import pool as poolmod
from stack.pool import pool
from support import raises

FO = pool.FRAME_OFFSET
SHARED_COUNTERS = ("rx_frames", "rx_bytes", "rx_no_buffer", "rx_oversize", "rx_errors",
                   "tx_frames", "tx_bytes", "tx_ring_full", "tx_errors")


def _baseline():
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS


def _frame(n, seed=0):
    b = bytearray(n)
    for i in range(n):
        b[i] = (i + seed) & 0xFF
    return bytes(b)


def _rx_out(budget):
    return array("i", [0] * (3 * budget))


def _take_pool():
    """Every block the pool will give (reserve lowered to 0); returns the
    blocks and the old reserve for _give_back."""
    reserve = pool.stats()["reserve"]
    pool.set_reserve(0)
    got = []
    while True:
        i = pool.alloc(pool.H_APP)
        if i < 0:
            return got, reserve
        got.append(i)


def _give_back(got, reserve):
    for i in got:
        pool.free(i)
    pool.set_reserve(reserve)


# ---- construction / close -------------------------------------------------------

def test_posts_rx_ring_and_close_returns_it():
    _baseline()
    m = memif.Memif(rx_ring=8, tx_ring=4)
    assert pool.held(pool.H_RXPOST) == 8
    assert pool.nfree() == pool.NBLOCKS - 8
    assert poolmod.at_baseline()
    st = m.stats()
    for k in SHARED_COUNTERS:
        assert st[k] == 0, k
    up, speed, duplex = m.link()
    assert up is True and speed > 0 and duplex is True
    m.close()
    m.close()                                  # idempotent
    raises(OSError, m.rx_poll, 1, _rx_out(1))
    raises(OSError, m.tx, 1, [b"x" * 20, 0, 20], 0)
    raises(OSError, m.tx_reap, array("i", [0]))
    raises(OSError, m.stats)
    _baseline()


def test_bad_ring_sizes():
    raises(ValueError, memif.Memif, "m", 0, 4)
    raises(ValueError, memif.Memif, "m", 4, 0)
    _baseline()


# ---- RX -------------------------------------------------------------------------

def test_rx_hands_up_block_and_refills_first():
    m = memif.Memif(rx_ring=4)
    posted = pool.held(pool.H_RXPOST)
    f = _frame(60, 3)
    assert m.inject(f)
    out = _rx_out(4)
    assert m.rx_poll(4, out) == 1
    blk, ln, flags = out[0], out[1], out[2]
    assert ln == 60 and flags == 0
    assert pool.holder(blk) == pool.H_RX and pool.refcnt(blk) == 1
    assert bytes(pool.block(blk)[FO:FO + 60]) == f    # the frame at FRAME_OFFSET
    assert pool.held(pool.H_RXPOST) == posted          # the slot was refilled
    assert not poolmod.at_baseline()                   # the stack owns blk now
    st = m.stats()
    assert st["rx_frames"] == 1 and st["rx_bytes"] == 60
    assert m.rx_poll(4, out) == 0
    p = pbuf.rx(blk, ln)
    assert pbuf.to_bytes(p) == f
    pbuf.free(p)
    m.close()
    _baseline()


def test_rx_flags_and_budget():
    m = memif.Memif(rx_ring=8)
    for k in range(5):
        m.inject(_frame(64, k), memif.RXF_CSUM_OK if k & 1 else 0)
    out = _rx_out(2)
    assert m.rx_poll(2, out) == 2
    assert out[2] == 0 and out[5] == memif.RXF_CSUM_OK
    blocks = [out[0], out[3]]
    assert m.pending_rx() == 3
    out = _rx_out(8)
    assert m.rx_poll(8, out) == 3                      # the rest, in order
    for k in range(3):
        blocks.append(out[3 * k])
        assert bytes(pool.block(out[3 * k])[FO:FO + 64]) == _frame(64, 2 + k)
    assert m.rx_poll(0, out) == 0
    raises(ValueError, m.rx_poll, 3, _rx_out(2))       # out too short for the budget
    raises(ValueError, m.rx_poll, -1, out)
    for b in blocks:
        pool.free(b)
    m.close()
    _baseline()


def test_rx_drop_and_recycle_on_empty_pool():
    m = memif.Memif(rx_ring=4)
    ring_before = list(m._rx)
    got, reserve = _take_pool()
    try:
        assert pool.nfree() == 0
        for k in range(6):
            m.inject(_frame(100, k))
        out = _rx_out(8)
        assert m.rx_poll(8, out) == 0                  # never stalls
        st = m.stats()
        assert st["rx_no_buffer"] == 6 and st["rx_frames"] == 0
        assert m.pending_rx() == 0                     # the frames were consumed
        assert list(m._rx) == ring_before              # descriptors recycled
        assert pool.held(pool.H_RXPOST) == 4
    finally:
        _give_back(got, reserve)
    # With blocks back, reception resumes.
    m.inject(_frame(100, 9))
    out = _rx_out(1)
    assert m.rx_poll(1, out) == 1
    assert bytes(pool.block(out[0])[FO:FO + 100]) == _frame(100, 9)
    pool.free(out[0])
    m.close()
    _baseline()


def test_rx_quota_of_input_path_counts_no_buffer():
    m = memif.Memif(rx_ring=4)
    q = pool.stats()["quota"][pool.H_RX]
    pool.set_quota(pool.H_RX, 0)
    try:
        m.inject(_frame(80))
        out = _rx_out(1)
        assert m.rx_poll(1, out) == 0
        assert m.stats()["rx_no_buffer"] == 1
        assert pool.held(pool.H_RXPOST) == 4           # the refill went back
        assert poolmod.at_baseline()
    finally:
        pool.set_quota(pool.H_RX, q)
    m.close()
    _baseline()


def test_rx_starts_short_and_reposts():
    got, reserve = _take_pool()
    pool.free(got.pop())
    pool.free(got.pop())
    m = memif.Memif(rx_ring=4)                         # only two blocks to post
    assert pool.held(pool.H_RXPOST) == 2
    _give_back(got, reserve)
    assert pool.held(pool.H_RXPOST) == 2
    m.inject(_frame(70))
    out = _rx_out(1)
    assert m.rx_poll(1, out) == 1                      # reposts the empty slots first
    assert pool.held(pool.H_RXPOST) == 4
    assert bytes(pool.block(out[0])[FO:FO + 70]) == _frame(70)
    pool.free(out[0])
    m.close()
    _baseline()


def test_rx_oversize():
    m = memif.Memif(rx_ring=2)
    m.inject(_frame(memif.RX_MAX + 1))
    m.inject(_frame(memif.RX_MAX))
    out = _rx_out(2)
    assert m.rx_poll(2, out) == 1
    assert out[1] == memif.RX_MAX
    assert m.stats()["rx_oversize"] == 1
    assert bytes(pool.block(out[0])[FO:FO + memif.RX_MAX]) == _frame(memif.RX_MAX)
    pool.free(out[0])
    m.close()
    _baseline()


def test_rx_wire_overrun():
    m = memif.Memif(rx_ring=2, wire_queue=3)
    for k in range(3):
        assert m.inject(_frame(60, k))
    assert not m.inject(_frame(60, 3))
    assert m.stats()["rx_overrun"] == 1
    out = _rx_out(4)
    assert m.rx_poll(4, out) == 3                      # each slot refilled as it goes
    for k in range(3):
        assert bytes(pool.block(out[3 * k])[FO:FO + 60]) == _frame(60, k)
        pool.free(out[3 * k])
    m.close()
    _baseline()


def test_rx_ring_wrap():
    m = memif.Memif(rx_ring=3)
    out = _rx_out(1)
    seen = set()
    for k in range(20):
        m.inject(_frame(60 + k, k))
        assert m.rx_poll(1, out) == 1
        assert out[1] == 60 + k
        assert bytes(pool.block(out[0])[FO:FO + 60 + k]) == _frame(60 + k, k)
        seen.add(out[0])
        pool.free(out[0])
        assert pool.held(pool.H_RXPOST) == 3
    assert len(seen) > 3                               # blocks cycle through the ring
    # Hand up more frames than the ring has slots, holding them all.
    held = []
    for k in range(7):
        m.inject(_frame(60, k))
    out = _rx_out(7)
    assert m.rx_poll(7, out) == 7
    for k in range(7):
        held.append(out[3 * k])
        assert bytes(pool.block(out[3 * k])[FO:FO + 60]) == _frame(60, k)
    assert len(set(held)) == 7
    for b in held:
        pool.free(b)
    assert m.stats()["rx_frames"] == 27
    m.close()
    _baseline()


# ---- TX -------------------------------------------------------------------------

def test_tx_holds_until_reap():
    m = memif.Memif(tx_ring=4)
    p = pbuf.alloc(pool.H_TX, 60, 0)
    data = _frame(60, 5)
    p.buf[p.off:p.off + 60] = data
    g = [0] * 24
    assert pbuf.gather(p, g) == 1
    assert m.tx(1, g, 77) == 0
    assert pool.refcnt(p.blk) == 2                     # the ring's reference
    assert not pbuf.writable(p)
    blk = p.blk
    pbuf.free(p)                                       # the stack lets go
    assert pool.refcnt(blk) == 1                       # still held by the ring
    assert m.take_sent() == []                         # nothing sent behind our back
    out = array("i", [0] * 4)
    assert m.tx_reap(out) == 1
    assert out[0] == 77
    assert pool.refcnt(blk) == 0
    assert m.take_sent() == [data]
    st = m.stats()
    assert st["tx_frames"] == 1 and st["tx_bytes"] == 60
    assert m.tx_reap(out) == 0
    m.close()
    _baseline()


def test_tx_gather_of_a_chain_is_zero_copy():
    m = memif.Memif()
    payload = _frame(200, 1)
    h = pbuf.alloc(pool.H_TX, 14, 0)
    h.buf[h.off:h.off + 14] = _frame(14, 9)
    pbuf.cat(h, pbuf.rom(payload, 10, 150))
    r = pbuf.ram(9)
    r.buf[0:9] = b"ram-piece"
    pbuf.cat(h, r)
    want = pbuf.to_bytes(h)
    c0 = pbuf.copied()
    g = [0] * 24
    n = pbuf.gather(h, g)
    assert n == 3
    assert m.tx(n, g, 1) == 0
    pbuf.free(h)                                       # ROM/RAM objects kept by the ring
    del r
    for j in range(len(g)):
        g[j] = 0                                       # the table is reused by the stack
    gc.collect()
    out = array("i", [0])
    assert m.tx_reap(out) == 1
    assert m.take_sent() == [want]
    assert pbuf.copied() == c0                         # the wire is not a stack copy
    m.close()
    _baseline()


def test_tx_enobufs_and_recovery():
    m = memif.Memif(tx_ring=2)
    p = pbuf.alloc(pool.H_TX, 64, 0)
    g = [p.blk, p.off, 64]
    assert m.tx(1, g, 1) == 0
    assert m.tx(1, g, 2) == 0
    assert pool.refcnt(p.blk) == 3
    assert m.tx(1, g, 3) == errno.ENOBUFS == 105
    assert pool.refcnt(p.blk) == 3                     # nothing taken
    assert m.stats()["tx_ring_full"] == 1
    assert m.pending_tx() == 2
    out = array("i", [0])
    assert m.tx_reap(out) == 1 and out[0] == 1         # one slot frees up
    assert pool.refcnt(p.blk) == 2
    assert m.tx(1, g, 3) == 0                          # and the retry goes in
    out = array("i", [0] * 4)
    assert m.tx_reap(out) == 2
    assert list(out[:2]) == [2, 3]
    assert pool.refcnt(p.blk) == 1
    assert len(m.take_sent()) == 3
    st = m.stats()
    assert st["tx_frames"] == 3 and st["tx_ring_full"] == 1
    pbuf.free(p)
    m.close()
    _baseline()


def test_tx_ring_wrap_keeps_order():
    m = memif.Memif(tx_ring=3)
    out = array("i", [0] * 2)
    cookie = 0
    reaped = []
    for rnd in range(7):
        while m.tx(1, [_frame(20, cookie), 0, 20], cookie) == 0:
            cookie += 1
        n = m.tx_reap(out)                             # at most len(out) per call
        assert n == 2
        reaped.extend(out[:n])
    while True:
        n = m.tx_reap(out)
        if not n:
            break
        reaped.extend(out[:n])
    assert reaped == list(range(cookie))
    sent = m.take_sent()
    assert sent == [_frame(20, c) for c in range(cookie)]
    assert m.stats()["tx_ring_full"] == 7
    m.close()
    _baseline()


def test_tx_bad_gather_raises_and_takes_nothing():
    m = memif.Memif(tx_ring=2)
    p = pbuf.alloc(pool.H_TX, 64, 0)
    b = p.blk
    free_blk = pool.alloc(pool.H_APP)
    pool.free(free_blk)
    cases = (
        (0, [b, FO, 64]),                              # no entries
        (memif.MAX_SEG + 1, [b, FO, 2] * (memif.MAX_SEG + 1)),
        (2, [b, FO, 64]),                              # table shorter than 3*n
        (1, [free_blk, FO, 64]),                       # not a live block
        (1, [pool.NBLOCKS, 0, 64]),
        (1, [b, pool.BLOCK_SIZE - 10, 64]),            # outside the block
        (1, [b, -1, 64]),
        (1, [b, FO, 13]),                              # shorter than an Ethernet header
        (2, [b, 0, pool.BLOCK_SIZE, b"x" * 10, 0, 10]),  # longer than a block takes
        (1, [b"x" * 20, 5, 20]),                       # outside the buffer
    )
    for n, g in cases:
        raises(ValueError, m.tx, n, g, 0)
        assert pool.refcnt(b) == 1, g
        assert m.pending_tx() == 0
    # A bad frame is refused before the ring-full check, a good one after it.
    assert m.tx(1, [b, FO, 64], 0) == 0 and m.tx(1, [b, FO, 64], 0) == 0
    raises(ValueError, m.tx, 1, [b, FO, 13], 0)
    assert m.tx(1, [b, FO, 64], 0) == errno.ENOBUFS
    m.close()                                          # returns the ring's refs
    assert pool.refcnt(b) == 1
    pbuf.free(p)
    _baseline()


def test_close_returns_queued_tx_refs():
    m = memif.Memif(rx_ring=4, tx_ring=4)
    p = pbuf.alloc(pool.H_TX, 64, 0)
    for k in range(3):
        assert m.tx(1, [p.blk, p.off, 64], k) == 0
    assert pool.refcnt(p.blk) == 4
    m.inject(_frame(60))
    m.close()
    assert pool.refcnt(p.blk) == 1
    assert m.take_sent() == []                         # queued frames are not sent
    pbuf.free(p)
    _baseline()


def test_link_down():
    m = memif.Memif()
    m.set_link(False)
    assert m.link()[0] is False
    assert not m.inject(_frame(60))                    # nothing reaches the MAC
    assert m.pending_rx() == 0
    p = pbuf.alloc(pool.H_TX, 64, 0)
    assert m.tx(1, [p.blk, p.off, 64], 5) == 0
    out = array("i", [0])
    assert m.tx_reap(out) == 1 and out[0] == 5         # completed, never wedged
    assert m.take_sent() == []
    st = m.stats()
    assert st["tx_errors"] == 1 and st["tx_frames"] == 0
    assert pool.refcnt(p.blk) == 1
    m.set_link(True)
    assert m.link()[0] is True
    pbuf.free(p)
    m.close()
    _baseline()


def test_counters_are_a_snapshot():
    m = memif.Memif()
    st = m.stats()
    for k in SHARED_COUNTERS:
        assert k in st, k
    m.inject(_frame(60))
    out = _rx_out(1)
    m.rx_poll(1, out)
    assert st["rx_frames"] == 0 and m.stats()["rx_frames"] == 1
    pool.free(out[0])
    m.close()
    _baseline()


# ---- connect() ------------------------------------------------------------------

def test_connect_back_to_back():
    a = memif.Memif("a", rx_ring=4, tx_ring=4)
    b = memif.Memif("b", rx_ring=4, tx_ring=4)
    memif.connect(a, b)
    out = array("i", [0] * 4)
    rx = _rx_out(4)
    f1 = _frame(60, 1)
    assert a.tx(1, [f1, 0, 60], 10) == 0
    assert b.rx_poll(4, rx) == 0                       # not sent until reaped
    assert a.tx_reap(out) == 1 and out[0] == 10
    assert a.take_sent() == []                         # it went to the peer
    assert b.rx_poll(4, rx) == 1
    assert bytes(pool.block(rx[0])[FO:FO + rx[1]]) == f1
    # b answers with the very block it received (a zero-copy echo)
    blk = rx[0]
    assert b.tx(1, [blk, FO, rx[1]], 20) == 0
    pool.free(blk)
    assert b.tx_reap(out) == 1 and out[0] == 20
    assert a.rx_poll(4, rx) == 1
    assert bytes(pool.block(rx[0])[FO:FO + rx[1]]) == f1
    pool.free(rx[0])
    assert a.stats()["tx_frames"] == 1 and b.stats()["rx_frames"] == 1
    assert b.stats()["tx_frames"] == 1 and a.stats()["rx_frames"] == 1
    b.close()
    assert a.peer is None
    a.close()
    _baseline()


# ---- fileno() ---------------------------------------------------------------------

def test_fileno_readable_while_frames_wait():
    m = memif.Memif()
    fd = m.fileno()
    if fd < 0:                                         # no eventfd on this runtime
        m.close()
        _baseline()
        return
    import select
    pl = select.poll()
    pl.register(fd, select.POLLIN)
    assert pl.poll(0) == []
    m.inject(_frame(60))
    m.inject(_frame(60))
    ev = pl.poll(0)
    assert len(ev) == 1 and ev[0][1] & select.POLLIN
    out = _rx_out(1)
    assert m.rx_poll(1, out) == 1
    pool.free(out[0])
    assert len(pl.poll(0)) == 1                        # one frame still waits
    assert m.rx_poll(1, out) == 1
    pool.free(out[0])
    assert pl.poll(0) == []
    pl.unregister(fd)
    m.close()
    _baseline()
