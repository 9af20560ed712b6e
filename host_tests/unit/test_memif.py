# What only stack/memif.py (the in-memory MAC) does, beyond the driver
# contract: RX flags given on inject(), the bounded wire queue (rx_overrun),
# pending_rx()/pending_tx(), set_link(), connect() and the eventfd behind
# fileno() on each runtime; and, for the CPython lane (where the contract
# suite does not run), the TX storage check, header blocks, 16 entries and
# saturation on the twin pool. The contract itself (hold-until-reap, ENOBUFS,
# drop-and-recycle on an empty pool, ring wrap, counters, bad gathers, close)
# is proven for memif by the one driver-contract suite,
# host_tests/mpy/test_driver_contract.py::mpy[memif] (MicroPython lane).
# Runs on both lanes; every test closes its memifs and leaves the pool with
# every block free.
from array import array

from stack import memif, pbuf
from stack import pool as poolmod
from stack.pool import pool

FO = pool.FRAME_OFFSET


def _baseline():
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS
    assert pool.hnfree() == pool.HNBLOCKS


def _frame(n, seed=0):
    b = bytearray(n)
    for i in range(n):
        b[i] = (i + seed) & 0xFF
    return bytes(b)


def _rx_out(budget):
    return array("i", [0] * (3 * budget))


# ---- the RX wire ------------------------------------------------------------------

def test_rx_flags_from_inject():
    m = memif.Memif(rx_ring=8)
    for k in range(5):
        m.inject(_frame(64, k), memif.RXF_CSUM_OK if k & 1 else 0)
    assert m.pending_rx() == 5
    out = _rx_out(2)
    assert m.rx_poll(2, out) == 2
    assert out[2] == 0 and out[5] == memif.RXF_CSUM_OK
    blocks = [out[0], out[3]]
    assert m.pending_rx() == 3
    out = _rx_out(8)
    assert m.rx_poll(8, out) == 3
    assert [out[2], out[5], out[8]] == [0, memif.RXF_CSUM_OK, 0]
    assert m.pending_rx() == 0
    for k in range(3):
        blocks.append(out[3 * k])
    for b in blocks:
        pool.free(b)
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


def test_pending_tx_counts_the_ring():
    m = memif.Memif(tx_ring=2)
    p = pbuf.alloc(pool.H_TX, 64, 0)
    g = [p.blk, p.off, 64]
    assert m.pending_tx() == 0
    assert m.tx(1, g, 1) == 0 and m.tx(1, g, 2) == 0
    assert m.pending_tx() == 2
    assert m.tx(1, g, 3) == 105                        # ENOBUFS: not queued
    assert m.pending_tx() == 2
    out = array("i", [0])
    assert m.tx_reap(out) == 1
    assert m.pending_tx() == 1
    assert m.tx_reap(out) == 1
    assert m.pending_tx() == 0
    assert len(m.take_sent()) == 2
    pbuf.free(p)
    m.close()
    _baseline()


# ---- link -------------------------------------------------------------------------

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


# ---- fileno(): the eventfd (os.eventfd on CPython, ffi on MicroPython) ------------

def test_eventfd_follows_the_wire_queue():
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


# ---- TX storage, header blocks, back-pressure (both lanes: on CPython the
# contract suite does not run, so the twin pool's path is checked here) -------

def test_tx_moved_or_resized_buffer_not_sent():
    # Size (both lanes) and, on MicroPython, address are re-checked at reap.
    m = memif.Memif(tx_ring=4)
    hdr = bytearray(b"H" * 14)
    ok = bytearray(b"K" * 14)
    view = memoryview(bytearray(b"V" * 20))
    assert m.tx(2, [hdr, 0, 14, b"payload-" * 4, 0, 32], 1) == 0
    assert m.tx(2, [ok, 0, 14, view, 2, 16], 2) == 0
    hdr.extend(b"x" * 3000)                            # grown after tx(), before reap
    out = array("i", [0] * 4)
    assert m.tx_reap(out) == 2 and list(out[:2]) == [1, 2]   # completed, in order
    assert m.take_sent() == [b"K" * 14 + b"V" * 16]    # only the stable one went out
    st = m.stats()
    assert st["tx_ref_moved"] == 1 and st["tx_frames"] == 1 and st["tx_errors"] == 0
    m.close()
    _baseline()


def test_tx_header_blocks_and_sixteen_entries():
    m = memif.Memif(tx_ring=2)
    h = pool.alloc_hdr(pool.H_TX)
    f = pool.alloc(pool.H_TX)
    pool.block(h)[0:64] = _frame(64, 1)
    pool.block(f)[0:64] = _frame(64, 2)
    g = []
    want = b""
    for k in range(16):                                 # alternate the classes
        blk = h if k & 1 else f
        g += [blk, 4 * k, 4]
        want += bytes(pool.block(blk)[4 * k:4 * k + 4])
    refused = False
    try:
        m.tx(17, g + [b"more", 0, 4], 9)
    except ValueError:
        refused = True
    assert refused and pool.refcnt(h) == 1 and pool.refcnt(f) == 1
    assert m.tx_room() == 2
    assert m.tx(16, g, 16) == 0
    assert pool.refcnt(h) == 9 and pool.refcnt(f) == 9
    assert m.tx_room() == 1
    assert pool.free(h) == 8                            # the stack lets go; the ring keeps it
    out = array("i", [0] * 2)
    assert m.tx_reap(out) == 1 and out[0] == 16
    assert pool.refcnt(h) == 0 and pool.hnfree() == pool.HNBLOCKS
    assert m.take_sent() == [want]
    assert m.tx_room() == 2
    pool.free(f)
    m.close()
    _baseline()


def test_tx_saturated_block_refused_taking_nothing():
    m = memif.Memif(tx_ring=2)
    b = pool.alloc(pool.H_TX)
    n = 1
    while n < 252:
        n = pool.ref(b)
    try:
        m.tx(4, [b, 0, 10] * 4, 1)                      # 252 + 4 > 255
        assert False, "accepted"
    except ValueError:
        pass
    assert pool.refcnt(b) == 252 and m.tx_room() == 2
    assert m.tx(3, [b, 0, 10] * 3, 2) == 0              # exactly 255
    out = array("i", [0])
    assert m.tx_reap(out) == 1
    while pool.refcnt(b):
        pool.free(b)
    m.close()
    _baseline()
