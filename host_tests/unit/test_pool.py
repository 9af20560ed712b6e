# The block pool (zcpool in C on MicroPython, stack/pool_py.py on CPython):
# frame blocks and header blocks, one index space. Runs on both lanes. Every
# test leaves the pool as it found it.
import sys

from stack import pool as poolmod
from stack.pool import pool
from support import raises

NTOTAL = pool.NBLOCKS + pool.HNBLOCKS
HOLDERS = (pool.H_RXPOST, pool.H_RX, pool.H_REASM, pool.H_ARPQ,
           pool.H_UDP, pool.H_TCP, pool.H_TX, pool.H_APP)


def _baseline():
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS
    assert pool.hnfree() == pool.HNBLOCKS


class _Limits:
    """Saves quotas and the reserve; restore() puts them back."""

    def __init__(self):
        st = pool.stats()
        self.quota = list(st["quota"])
        self.hquota = list(st["hdr_quota"])
        self.reserve = st["reserve"]

    def restore(self):
        for h in HOLDERS:
            pool.set_quota(h, self.quota[h])
            pool.set_hquota(h, self.hquota[h])
        pool.set_reserve(self.reserve)


def _take_all(holder, alloc=None):
    alloc = alloc or pool.alloc
    got = []
    while True:
        i = alloc(holder)
        if i < 0:
            return got
        got.append(i)


def _free_all(blocks):
    for i in blocks:
        assert pool.free(i) == 0


def test_constants():
    assert pool.BLOCK_SIZE == 1600
    assert pool.FRAME_OFFSET == 2
    assert pool.NBLOCKS > 16
    assert len(set(HOLDERS)) == 8 and pool.NHOLDERS == 8
    assert pool.HNBLOCKS == 256 and pool.HDR_SIZE == 128
    _baseline()


def test_alloc_ref_free():
    _baseline()
    i = pool.alloc(pool.H_APP)
    assert 0 <= i < pool.NBLOCKS
    assert pool.refcnt(i) == 1
    assert pool.holder(i) == pool.H_APP
    assert pool.held(pool.H_APP) == 1
    assert pool.nfree() == pool.NBLOCKS - 1
    assert pool.ref(i) == 2
    assert pool.refcnt(i) == 2
    assert pool.free(i) == 1
    assert pool.nfree() == pool.NBLOCKS - 1
    assert pool.free(i) == 0
    assert pool.refcnt(i) == 0
    assert pool.holder(i) == -1
    assert pool.held(pool.H_APP) == 0
    _baseline()


def test_alloc_distinct_blocks():
    a = pool.alloc(pool.H_TX)
    b = pool.alloc(pool.H_TX)
    assert a != b
    pool.free(a)
    pool.free(b)
    _baseline()


def test_move():
    i = pool.alloc(pool.H_RX)
    assert pool.move(i, pool.H_UDP)
    assert pool.holder(i) == pool.H_UDP
    assert pool.held(pool.H_RX) == 0 and pool.held(pool.H_UDP) == 1
    assert pool.move(i, pool.H_UDP)          # to its own holder: no-op
    assert pool.held(pool.H_UDP) == 1
    pool.free(i)
    assert pool.held(pool.H_UDP) == 0
    assert not pool.move(i, pool.H_TCP)      # a free block cannot be moved
    _baseline()


def test_quota_alloc_and_move():
    lim = _Limits()
    try:
        fail0 = pool.stats()["alloc_fail"][pool.H_ARPQ]
        pool.set_quota(pool.H_ARPQ, 2)
        a = pool.alloc(pool.H_ARPQ)
        b = pool.alloc(pool.H_ARPQ)
        assert a >= 0 and b >= 0
        assert pool.alloc(pool.H_ARPQ) == -1
        assert pool.stats()["alloc_fail"][pool.H_ARPQ] == fail0 + 1
        c = pool.alloc(pool.H_RX)
        assert not pool.move(c, pool.H_ARPQ)     # quota holds for move too
        assert pool.holder(c) == pool.H_RX
        assert pool.stats()["alloc_fail"][pool.H_ARPQ] == fail0 + 2
        pool.free(a)
        assert pool.move(c, pool.H_ARPQ)
        _free_all((b, c))
    finally:
        lim.restore()
    _baseline()


def test_quota_zero():
    lim = _Limits()
    try:
        pool.set_quota(pool.H_APP, 0)
        assert pool.alloc(pool.H_APP) == -1
    finally:
        lim.restore()
    _baseline()


def test_bad_limits_raise():
    raises(ValueError, pool.set_quota, pool.H_TX, -1)
    raises(ValueError, pool.set_quota, pool.H_TX, pool.NBLOCKS + 1)
    raises(ValueError, pool.set_reserve, -1)
    raises(ValueError, pool.set_quota, 99, 1)
    raises(ValueError, pool.alloc, 99)
    raises(ValueError, pool.alloc, -1)
    raises(ValueError, pool.block, NTOTAL)          # past the header blocks
    raises(ValueError, pool.block, -1)
    raises(ValueError, pool.refcnt, -1)
    raises(ValueError, pool.refcnt, NTOTAL)
    raises(ValueError, pool.is_hdr, NTOTAL)
    raises(ValueError, pool.free, NTOTAL)
    raises(ValueError, pool.set_hquota, pool.H_TX, -1)
    raises(ValueError, pool.set_hquota, pool.H_TX, pool.HNBLOCKS + 1)
    raises(ValueError, pool.set_hquota, 99, 1)
    raises(ValueError, pool.alloc_hdr, 99)
    raises(ValueError, pool.hheld, -1)
    raises(ValueError, pool.hroom, 8)
    _baseline()


def test_rx_reserve():
    lim = _Limits()
    try:
        pool.set_reserve(5)
        fail0 = pool.stats()["alloc_fail"][pool.H_UDP]
        got = _take_all(pool.H_UDP)
        assert len(got) == pool.NBLOCKS - 5          # the reserve is left
        assert pool.nfree() == 5
        assert pool.stats()["alloc_fail"][pool.H_UDP] == fail0 + 1
        for h in (pool.H_REASM, pool.H_ARPQ, pool.H_TCP, pool.H_TX, pool.H_APP):
            assert pool.alloc(h) == -1
        # RX (posting and handed-up) may take the reserve down to zero.
        a = pool.alloc(pool.H_RXPOST)
        b = pool.alloc(pool.H_RX)
        assert a >= 0 and b >= 0
        rest = _take_all(pool.H_RXPOST)
        assert len(rest) == 3 and pool.nfree() == 0
        assert pool.alloc(pool.H_RX) == -1
        assert poolmod.at_baseline() is False       # UDP holds blocks
        _free_all(got + rest + [a, b])
    finally:
        lim.restore()
    _baseline()


def test_rx_reserve_holds_against_blocks_kept_from_rx():
    # A consumer keeping a block that arrived on the RX path (move out of
    # H_RX) is allocating it in effect: that may not eat into the reserve
    # either, whatever its quota says. Moves within RX, and between other
    # holders, are unaffected.
    lim = _Limits()
    try:
        pool.set_reserve(5)
        rx = _take_all(pool.H_RX)
        assert pool.nfree() == 0
        fail0 = pool.stats()["alloc_fail"][pool.H_REASM]
        assert not pool.move(rx[0], pool.H_REASM)
        assert pool.holder(rx[0]) == pool.H_RX
        assert pool.stats()["alloc_fail"][pool.H_REASM] == fail0 + 1
        assert pool.move(rx[0], pool.H_RXPOST) and pool.move(rx[0], pool.H_RX)
        _free_all(rx[:4])                       # 4 free: below the reserve
        assert not pool.move(rx[4], pool.H_REASM)
        _free_all(rx[4:6])                      # 6 free: the reserve stays whole
        assert pool.move(rx[6], pool.H_REASM)
        assert pool.move(rx[6], pool.H_UDP)     # non-RX to non-RX: no reserve rule
        assert pool.nfree() == 6 and pool.move(rx[7], pool.H_REASM)   # moves free nothing
        _free_all(rx[6:])
    finally:
        lim.restore()
    _baseline()


def test_exhaustion_counts_alloc_fail():
    lim = _Limits()
    try:
        pool.set_reserve(0)
        st0 = pool.stats()["alloc_fail"]
        got = _take_all(pool.H_TX)
        assert len(got) == pool.NBLOCKS
        assert pool.nfree() == 0
        assert pool.alloc(pool.H_RXPOST) == -1
        assert pool.alloc(pool.H_TX) == -1
        st = pool.stats()["alloc_fail"]
        assert st[pool.H_TX] == st0[pool.H_TX] + 2   # _take_all's last try + this one
        assert st[pool.H_RXPOST] == st0[pool.H_RXPOST] + 1
        assert len(set(got)) == pool.NBLOCKS
        _free_all(got)
    finally:
        lim.restore()
    _baseline()


def test_double_free_raises_and_counts():
    i = pool.alloc(pool.H_APP)
    assert pool.free(i) == 0
    bad0 = pool.stats()["bad_free"]
    raises(ValueError, pool.free, i)
    assert pool.stats()["bad_free"] == bad0 + 1
    assert pool.nfree() == pool.NBLOCKS           # nothing was double-listed
    raises(ValueError, pool.ref, i)               # ref of a free block
    # The free list is intact: all blocks can still be taken exactly once.
    lim = _Limits()
    try:
        pool.set_reserve(0)
        got = _take_all(pool.H_APP)
        assert len(got) == pool.NBLOCKS and len(set(got)) == pool.NBLOCKS
        _free_all(got)
    finally:
        lim.restore()
    _baseline()


def _saturate(i):
    n = pool.refcnt(i)
    while n < 255:
        n = pool.ref(i)
    assert pool.refcnt(i) == 255


def test_refcount_limit():
    # The C pool keeps 8-bit counts: a ref it cannot take must raise and be
    # counted (bad_ref), never return as if it had been taken (the twin keeps
    # the same limit). Both classes.
    for i in (pool.alloc(pool.H_APP), pool.alloc_hdr(pool.H_APP)):
        try:
            _saturate(i)
            bad0 = pool.stats()["bad_ref"]
            raises(ValueError, pool.ref, i)
            raises(ValueError, pool.ref, i)
            assert pool.refcnt(i) == 255
            assert pool.stats()["bad_ref"] == bad0 + 2
            assert pool.free(i) == 254                # the refused refs were not taken
        finally:
            while pool.refcnt(i) > 0:
                pool.free(i)
    _baseline()


def test_ref_of_free_block_counts_bad_ref():
    for i in (pool.alloc(pool.H_APP), pool.alloc_hdr(pool.H_APP)):
        assert pool.free(i) == 0
        bad0 = pool.stats()["bad_ref"]
        raises(ValueError, pool.ref, i)
        assert pool.stats()["bad_ref"] == bad0 + 1
        assert pool.refcnt(i) == 0
    _baseline()


def test_block_views():
    views = pool.blocks()
    assert len(views) == NTOTAL                   # both classes
    i = pool.alloc(pool.H_APP)
    v = pool.block(i)
    assert v is views[i]                          # made once, reused
    assert pool.block(i) is v
    assert len(v) == pool.BLOCK_SIZE
    v[0] = 0xA5
    v[pool.BLOCK_SIZE - 1] = 0x5A
    v[10:14] = b"\x01\x02\x03\x04"
    assert views[i][0] == 0xA5 and views[i][pool.BLOCK_SIZE - 1] == 0x5A
    assert bytes(views[i][10:14]) == b"\x01\x02\x03\x04"
    # Blocks do not overlap.
    j = pool.alloc(pool.H_APP)
    pool.block(j)[0] = 0x11
    assert pool.block(i)[0] == 0xA5
    pool.free(i)
    pool.free(j)
    _baseline()


def test_block_alignment():
    if sys.implementation.name != "micropython":
        return                                    # the twin's bytearrays are not placed
    try:
        import uctypes
    except ImportError:
        return
    base = uctypes.addressof(pool.block(0))
    for i in range(pool.NBLOCKS):
        a = uctypes.addressof(pool.block(i))
        assert a % 32 == 0, i
        assert a == base + i * pool.BLOCK_SIZE     # one arena, blocks never move
    _baseline()


def test_stats_shape():
    st = pool.stats()
    for k in ("total", "free", "reserve", "held", "quota", "alloc_fail", "bad_free",
              "bad_ref", "hdr_total", "hdr_free", "hdr_held", "hdr_quota", "hdr_alloc_fail"):
        assert k in st, k
    assert st["total"] == pool.NBLOCKS
    assert st["free"] == pool.nfree()
    assert st["hdr_total"] == pool.HNBLOCKS
    assert st["hdr_free"] == pool.hnfree() == pool.HNBLOCKS
    for k in ("held", "quota", "alloc_fail", "hdr_held", "hdr_quota", "hdr_alloc_fail"):
        assert len(st[k]) == pool.NHOLDERS, k
    assert st["hdr_quota"] == [pool.HNBLOCKS] * pool.NHOLDERS
    h = pool.alloc_hdr(pool.H_TCP)
    st = pool.stats()
    assert st["hdr_held"][pool.H_TCP] == 1 and st["hdr_free"] == pool.HNBLOCKS - 1
    assert st["held"][pool.H_TCP] == 0 and st["free"] == pool.NBLOCKS
    pool.free(h)
    i = pool.alloc(pool.H_TCP)
    st = pool.stats()
    assert st["held"][pool.H_TCP] == 1
    assert st["free"] == pool.NBLOCKS - 1
    # a snapshot, not a live view
    pool.free(i)
    assert st["held"][pool.H_TCP] == 1
    assert pool.stats()["held"][pool.H_TCP] == 0
    _baseline()


def test_baseline_counts_rx_posted():
    i = pool.alloc(pool.H_RXPOST)
    assert poolmod.at_baseline()
    assert pool.move(i, pool.H_RX)
    assert not poolmod.at_baseline()
    pool.free(i)
    _baseline()


# ---- header blocks: the second class, indexes NBLOCKS .. NBLOCKS+HNBLOCKS-1 ------

def test_hdr_alloc_to_exhaustion():
    # The whole class, whatever the frame reserve says (no reserve here);
    # the frame class is untouched, and the other way round.
    lim = _Limits()
    try:
        pool.set_reserve(pool.NBLOCKS)               # no frame block for non-RX holders
        assert pool.alloc(pool.H_TX) == -1
        fail0 = pool.stats()["hdr_alloc_fail"][pool.H_TX]
        got = _take_all(pool.H_TX, pool.alloc_hdr)
        assert len(got) == pool.HNBLOCKS and len(set(got)) == pool.HNBLOCKS
        assert sorted(got) == list(range(pool.NBLOCKS, NTOTAL))
        for i in got:
            assert pool.is_hdr(i)
            assert pool.refcnt(i) == 1 and pool.holder(i) == pool.H_TX
        assert pool.hnfree() == 0 and pool.hheld(pool.H_TX) == pool.HNBLOCKS
        assert pool.held(pool.H_TX) == 0 and pool.nfree() == pool.NBLOCKS
        assert pool.alloc_hdr(pool.H_APP) == -1
        st = pool.stats()["hdr_alloc_fail"]
        assert st[pool.H_TX] == fail0 + 1 and st[pool.H_APP] >= 1
        assert not poolmod.at_baseline()             # frame blocks all free, still not baseline
        pool.set_reserve(lim.reserve)
        f = pool.alloc(pool.H_TX)                    # frame blocks unaffected
        assert f >= 0 and not pool.is_hdr(f)
        pool.free(f)
        _free_all(got)
        assert pool.hnfree() == pool.HNBLOCKS and pool.hheld(pool.H_TX) == 0
    finally:
        lim.restore()
    _baseline()


def test_hdr_quota_per_holder():
    lim = _Limits()
    try:
        pool.set_hquota(pool.H_TCP, 3)
        pool.set_quota(pool.H_TCP, 0)                # frame quota does not apply
        assert pool.hroom(pool.H_TCP) == 3 and pool.room(pool.H_TCP) == 0
        fail0 = pool.stats()["hdr_alloc_fail"][pool.H_TCP]
        ffail0 = pool.stats()["alloc_fail"][pool.H_TCP]
        got = _take_all(pool.H_TCP, pool.alloc_hdr)
        assert len(got) == 3 and pool.hheld(pool.H_TCP) == 3 and pool.hroom(pool.H_TCP) == 0
        assert pool.stats()["hdr_alloc_fail"][pool.H_TCP] == fail0 + 1
        assert pool.stats()["alloc_fail"][pool.H_TCP] == ffail0     # frame class untouched
        other = pool.alloc_hdr(pool.H_UDP)           # another holder is not limited
        assert other >= 0
        # move of a header block checks the header quota of the target
        assert not pool.move(other, pool.H_TCP)
        assert pool.holder(other) == pool.H_UDP
        assert pool.stats()["hdr_alloc_fail"][pool.H_TCP] == fail0 + 2
        pool.free(got.pop())
        assert pool.hroom(pool.H_TCP) == 1
        assert pool.move(other, pool.H_TCP)
        assert pool.hheld(pool.H_TCP) == 3 and pool.hheld(pool.H_UDP) == 0
        assert pool.held(pool.H_TCP) == 0            # charged to the header class only
        # and a frame block's move ignores the header quota
        f = pool.alloc(pool.H_APP)
        pool.set_quota(pool.H_TCP, 1)
        assert pool.move(f, pool.H_TCP)
        assert pool.held(pool.H_TCP) == 1 and pool.hheld(pool.H_TCP) == 3
        _free_all(got + [other, f])
    finally:
        lim.restore()
    _baseline()


def test_hdr_ref_free_move_holder():
    h = pool.alloc_hdr(pool.H_TX)
    assert h >= pool.NBLOCKS and pool.is_hdr(h) and not pool.is_hdr(0)
    assert pool.refcnt(h) == 1 and pool.holder(h) == pool.H_TX
    assert pool.ref(h) == 2 and pool.refcnt(h) == 2
    assert pool.move(h, pool.H_ARPQ)                 # the keeper changes
    assert pool.holder(h) == pool.H_ARPQ
    assert pool.hheld(pool.H_ARPQ) == 1 and pool.hheld(pool.H_TX) == 0
    assert pool.free(h) == 1 and pool.hnfree() == pool.HNBLOCKS - 1
    assert pool.free(h) == 0
    assert pool.hnfree() == pool.HNBLOCKS and pool.hheld(pool.H_ARPQ) == 0
    assert pool.holder(h) == -1 and pool.refcnt(h) == 0
    bad0 = pool.stats()["bad_free"]
    raises(ValueError, pool.free, h)                 # double free: raised and counted
    assert pool.stats()["bad_free"] == bad0 + 1
    assert pool.hnfree() == pool.HNBLOCKS            # nothing double-listed
    assert not pool.move(h, pool.H_TCP)              # a free block cannot be moved
    # the header free list is LIFO, like the frame one
    assert pool.alloc_hdr(pool.H_TX) == h
    pool.free(h)
    _baseline()


def test_hdr_move_has_no_rx_reserve_rule():
    # RX never posts header blocks, so the frame reserve never binds them.
    lim = _Limits()
    try:
        pool.set_reserve(pool.NBLOCKS)
        h = pool.alloc_hdr(pool.H_RX)
        assert h >= 0
        assert pool.move(h, pool.H_REASM)
        pool.free(h)
    finally:
        lim.restore()
    _baseline()


def test_hdr_baseline():
    h = pool.alloc_hdr(pool.H_TX)
    assert pool.nfree() + pool.held(pool.H_RXPOST) == pool.NBLOCKS
    assert not poolmod.at_baseline()                 # a held header block is not baseline
    assert pool.move(h, pool.H_RXPOST)
    assert not poolmod.at_baseline()                 # not even "posted"
    pool.free(h)
    assert poolmod.at_baseline()
    _baseline()


def test_hdr_views():
    views = pool.blocks()
    h = pool.alloc_hdr(pool.H_APP)
    g = pool.alloc_hdr(pool.H_APP)
    f = pool.alloc(pool.H_APP)
    v = pool.block(h)
    assert v is views[h] and pool.block(h) is v      # made once
    assert len(v) == pool.HDR_SIZE and len(pool.block(f)) == pool.BLOCK_SIZE
    pool.block(g)[:] = b"\x33" * pool.HDR_SIZE
    pool.block(f)[:pool.HDR_SIZE] = b"\x44" * pool.HDR_SIZE
    v[:] = b"\x11" * pool.HDR_SIZE
    v[0] = 0xA5
    v[pool.HDR_SIZE - 1] = 0x5A
    # no overlap with the neighbour header block or with a frame block
    assert bytes(pool.block(g)) == b"\x33" * pool.HDR_SIZE
    assert bytes(pool.block(f)[:pool.HDR_SIZE]) == b"\x44" * pool.HDR_SIZE
    assert views[h][0] == 0xA5 and views[h][pool.HDR_SIZE - 1] == 0x5A
    _free_all((h, g, f))
    _baseline()


def test_hdr_alignment():
    if sys.implementation.name != "micropython":
        return                                    # the twin's bytearrays are not placed
    try:
        import uctypes
    except ImportError:
        return
    base = uctypes.addressof(pool.block(pool.NBLOCKS))
    for i in range(pool.NBLOCKS, NTOTAL):
        a = uctypes.addressof(pool.block(i))
        assert a % 32 == 0, i
        assert a == base + (i - pool.NBLOCKS) * pool.HDR_SIZE   # one arena of its own
    # and it is not inside the frame arena
    f0 = uctypes.addressof(pool.block(0))
    assert base >= f0 + pool.NBLOCKS * pool.BLOCK_SIZE or base + pool.HNBLOCKS * pool.HDR_SIZE <= f0
    _baseline()


def test_tx_hold_may_use_the_reserve_within_its_quota():
    # An echo reply handed to the TX ring from its RX block is recharged to
    # H_TX: a transient hold (back at the next reap), bounded by H_TX's quota,
    # so it may take the block out of RX even with only the reserve left.
    lim = _Limits()
    try:
        pool.set_reserve(5)
        rx = _take_all(pool.H_RX)
        assert pool.nfree() == 0
        assert not pool.move(rx[0], pool.H_UDP)          # a keeper: refused
        pool.set_quota(pool.H_TX, pool.held(pool.H_TX) + 1)
        assert pool.move(rx[0], pool.H_TX)               # the TX ring: allowed
        assert not pool.move(rx[1], pool.H_TX)           # ...within its quota
        _free_all(rx)
    finally:
        lim.restore()
    _baseline()


