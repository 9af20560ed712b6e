# pbufs (stack/pbuf.py): kinds, header push/pop, chains, lwIP free rules,
# views, trim, the counting copy helper, gather tables, charge.
# Runs on both lanes. Every test leaves the pool at baseline.
from stack import pbuf
from stack import pool as poolmod
from stack.pool import pool

FO = pool.FRAME_OFFSET


def _baseline():
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS
    assert pbuf.in_use() == 0, "pbuf objects leaked"


def _pattern(n, seed=0):
    b = bytearray(n)
    for i in range(n):
        b[i] = (i * 7 + seed) & 0xFF
    return b


def _fill(p, seed=0):
    """Write a pattern into a pbuf's window (test setup, not stack code)."""
    pat = _pattern(p.len, seed)
    p.buf[p.off:p.off + p.len] = pat
    return bytes(pat)


# ---- kinds -------------------------------------------------------------------

def test_pool_pbuf():
    p = pbuf.alloc(pool.H_TX, 100, 40)
    assert p.kind == pbuf.POOL
    assert p.len == 100 and p.tot == 100 and p.next is None
    assert p.off == FO + 40
    assert p.buf is pool.block(p.blk)
    assert pool.refcnt(p.blk) == 1 and pool.holder(p.blk) == pool.H_TX
    assert pbuf.refcount(p) == 1 and pbuf.writable(p)
    assert pbuf.free(p) == 1
    _baseline()


def test_pool_pbuf_too_big_or_refused():
    assert pbuf.alloc(pool.H_TX, pool.BLOCK_SIZE, 0) is None
    assert pbuf.alloc(pool.H_TX, 10, pool.BLOCK_SIZE - FO - 9) is None
    big = pbuf.alloc(pool.H_TX, pool.BLOCK_SIZE - FO, 0)   # the largest fits
    assert big is not None and big.off + big.len == pool.BLOCK_SIZE
    pbuf.free(big)
    assert pbuf.alloc(pool.H_TX, -1, 0) is None
    st = pool.stats()
    q = st["quota"][pool.H_APP]
    pool.set_quota(pool.H_APP, 0)
    try:
        assert pbuf.alloc(pool.H_APP, 10, 0) is None
    finally:
        pool.set_quota(pool.H_APP, q)
    _baseline()


def test_rx_pbuf():
    i = pool.alloc(pool.H_RX)
    p = pbuf.rx(i, 60)
    assert p.kind == pbuf.POOL and p.blk == i
    assert p.off == FO and p.len == 60 and p.tot == 60
    pbuf.free(p)
    _baseline()


def test_ram_pbuf():
    p = pbuf.ram(50, 20)
    assert p.kind == pbuf.RAM and p.blk == -1
    assert len(p.buf) == 70 and p.off == 20 and p.len == 50
    assert pbuf.writable(p)
    assert pbuf.free(p) == 1
    _baseline()


def test_rom_pbuf():
    data = b"0123456789"
    p = pbuf.rom(data, 2, 5)
    assert p.kind == pbuf.ROM and p.buf is data     # referenced, not copied
    assert p.off == 2 and p.len == 5
    assert not pbuf.writable(p)
    whole = pbuf.rom(data)
    assert whole.len == 10
    raised = False
    try:
        pbuf.rom(data, 8, 5)
    except ValueError:
        raised = True
    assert raised
    pbuf.free(p)
    pbuf.free(whole)
    _baseline()


def test_ref_pbuf():
    data = bytearray(b"abcdefgh")
    p = pbuf.ref_buf(data, 1)
    assert p.kind == pbuf.REF and p.buf is data
    assert p.len == 7 and p.off == 1
    assert not pbuf.writable(p)
    pbuf.free(p)
    _baseline()


# ---- header push / pop -------------------------------------------------------

def test_header_within_headroom():
    p = pbuf.alloc(pool.H_TX, 20, 34)
    assert pbuf.header(p, 20)
    assert p.len == 40 and p.tot == 40 and p.off == FO + 14
    assert pbuf.header(p, 14)
    assert p.off == FO and p.len == 54
    assert pbuf.header(p, -14)
    assert p.off == FO + 14 and p.len == 40
    pbuf.free(p)
    _baseline()


def test_header_refused_beyond_headroom():
    p = pbuf.alloc(pool.H_TX, 20, 14)
    assert not pbuf.header(p, 15)          # not even into the alignment pad
    assert p.off == FO + 14 and p.len == 20
    assert pbuf.header(p, 14)
    assert not pbuf.header(p, 1)
    assert not pbuf.header(p, -35)         # cannot pop past the data
    assert pbuf.header(p, -34)
    assert p.len == 0
    pbuf.free(p)
    q = pbuf.rx(pool.alloc(pool.H_RX), 60)
    assert pbuf.header(q, -14)
    assert pbuf.header(q, 14)              # back to the frame start
    assert not pbuf.header(q, 1)
    pbuf.free(q)
    _baseline()


def test_header_ram_rom_ref():
    r = pbuf.ram(10, 8)
    assert pbuf.header(r, 8)
    assert not pbuf.header(r, 1)
    pbuf.free(r)
    data = b"x" * 32
    rom = pbuf.rom(data, 16)
    assert not pbuf.header(rom, 4)         # immutable
    assert pbuf.header(rom, -4) and rom.len == 12
    pbuf.free(rom)
    ref = pbuf.ref_buf(bytearray(32), 16)
    assert not pbuf.header(ref, 4)         # the application's buffer
    pbuf.free(ref)
    _baseline()


def test_header_refused_when_shared():
    p = pbuf.alloc(pool.H_TX, 20, 40)
    pool.ref(p.blk)                        # e.g. a TX ring holds the block
    assert not pbuf.writable(p)
    assert not pbuf.header(p, 14)
    assert p.off == FO + 40
    pool.free(p.blk)
    assert pbuf.header(p, 14)
    pbuf.free(p)
    r = pbuf.ram(10, 8)
    pbuf.pref(r)                           # a RAM pbuf referenced twice
    assert not pbuf.writable(r)
    assert not pbuf.header(r, 4)
    assert pbuf.free(r) == 0
    assert pbuf.free(r) == 1
    _baseline()


# ---- chains ------------------------------------------------------------------

def test_cat_and_lengths():
    a = pbuf.alloc(pool.H_TX, 10, 0)
    b = pbuf.ram(20)
    c = pbuf.rom(b"z" * 30)
    pbuf.cat(a, b)
    pbuf.cat(a, c)
    assert a.tot == 60 and b.tot == 50 and c.tot == 30
    assert pbuf.clen(a) == 3
    assert pbuf.header(a, -4)
    assert a.tot == 56 and a.len == 6
    assert pbuf.free(a) == 3
    _baseline()


def test_chain_takes_a_reference():
    a = pbuf.alloc(pool.H_TX, 10, 0)
    t = pbuf.alloc(pool.H_TX, 10, 0)
    pbuf.chain(a, t)
    assert pbuf.refcount(t) == 2
    assert not pbuf.writable(t)            # two chains see it
    assert a.tot == 20
    assert pbuf.free(a) == 1               # a released, t still ours
    assert pbuf.refcount(t) == 1 and pool.refcnt(t.blk) == 1
    assert pbuf.writable(t)
    assert pbuf.free(t) == 1
    _baseline()


def test_free_shared_tail():
    # lwIP: two heads sharing one tail; freeing a head stops at the shared tail.
    h1 = pbuf.alloc(pool.H_TX, 10, 0)
    h2 = pbuf.ram(10)
    t = pbuf.alloc(pool.H_TCP, 100, 0)
    t2 = pbuf.ram(5)
    pbuf.cat(t, t2)
    pbuf.chain(h1, t)
    pbuf.chain(h2, t)
    pbuf.free(t)                           # drop our own reference
    assert pbuf.refcount(t) == 2
    assert pbuf.free(h1) == 1
    assert pbuf.refcount(t) == 1 and pbuf.refcount(t2) == 1
    assert pool.refcnt(t.blk) == 1
    assert pbuf.free(h2) == 3              # h2, t and t2
    _baseline()


def test_free_counts_head_with_extra_ref():
    p = pbuf.alloc(pool.H_TX, 10, 0)
    q = pbuf.alloc(pool.H_TX, 10, 0)
    pbuf.cat(p, q)
    pbuf.pref(p)
    assert pbuf.free(p) == 0               # only the head's count dropped
    assert pool.refcnt(q.blk) == 1
    assert pbuf.free(p) == 2
    _baseline()


def test_free_of_free_block_raises():
    p = pbuf.alloc(pool.H_TX, 10, 0)
    pbuf.free(p)
    raised = False
    try:
        pbuf.free(p)
    except ValueError:
        raised = True
    assert raised
    _baseline()


# ---- views -------------------------------------------------------------------

def test_view_holds_a_block_ref():
    p = pbuf.alloc(pool.H_UDP, 100, 0)
    data = _fill(p)
    v = pbuf.view(p, p.off + 10, 20)
    assert v.kind == pbuf.REF and v.blk == p.blk
    assert pool.refcnt(p.blk) == 2
    assert not pbuf.writable(v) and not pbuf.writable(p)
    assert not pbuf.header(v, 1)
    pbuf.free(p)                           # the view keeps the block alive
    assert pool.refcnt(v.blk) == 1
    assert pool.nfree() == pool.NBLOCKS - 1
    assert bytes(v.buf[v.off:v.off + v.len]) == data[10:30]
    assert pbuf.free(v) == 1
    _baseline()


def test_view_of_ram():
    r = pbuf.ram(10)
    v = pbuf.view(r, 2, 4)
    assert v.blk == -1 and v.buf is r.buf
    pbuf.free(r)
    pbuf.free(v)
    _baseline()


# ---- trim --------------------------------------------------------------------

def test_trim_frees_tail():
    a = pbuf.alloc(pool.H_RX, 60, 0)
    b = pbuf.alloc(pool.H_RX, 40, 0)
    c = pbuf.alloc(pool.H_RX, 30, 0)
    pbuf.cat(a, b)
    pbuf.cat(a, c)
    assert a.tot == 130
    assert not pbuf.trim(a, 131)
    cblk = c.blk
    assert pbuf.trim(a, 70)
    assert a.tot == 70 and a.len == 60 and b.len == 10 and b.tot == 10
    assert b.next is None and pbuf.clen(a) == 2
    assert pool.refcnt(cblk) == 0          # c was freed
    assert pbuf.refcount(c) == 0
    assert pbuf.trim(a, 60)                # ends exactly at a: b goes
    assert a.next is None and a.tot == 60
    assert pool.nfree() == pool.NBLOCKS - 1
    assert pbuf.trim(a, 46)                # inside one pbuf (Ethernet padding)
    assert a.len == 46 and a.tot == 46
    pbuf.free(a)
    _baseline()


def test_trim_shared_tail_only_drops_a_ref():
    a = pbuf.alloc(pool.H_TX, 10, 0)
    t = pbuf.alloc(pool.H_TX, 10, 0)
    pbuf.chain(a, t)
    pbuf.trim(a, 10)
    assert pbuf.refcount(t) == 1 and pool.refcnt(t.blk) == 1
    pbuf.free(a)
    pbuf.free(t)
    _baseline()


# ---- the copy helper ---------------------------------------------------------

def test_copy_counts_bytes():
    c0 = pbuf.copied()
    dst = bytearray(10)
    assert pbuf.copy(dst, 2, b"abcdef", 1, 4) == 4
    assert dst == bytearray(b"\x00\x00bcde\x00\x00\x00\x00")
    assert pbuf.copied() == c0 + 4
    assert pbuf.copy(dst, 0, b"x", 0, 0) == 0
    assert pbuf.copied() == c0 + 4
    _baseline()


def _chain3(lens, seed=0):
    """A POOL + RAM + POOL chain with the given window lengths, and its bytes."""
    a = pbuf.alloc(pool.H_TX, lens[0], 0)
    b = pbuf.ram(lens[1], 3)
    c = pbuf.alloc(pool.H_TX, lens[2], 5)
    data = _fill(a, seed) + _fill(b, seed + 1) + _fill(c, seed + 2)
    pbuf.cat(a, b)
    pbuf.cat(a, c)
    return a, data


def test_copy_out_across_boundaries():
    p, data = _chain3((7, 5, 9))
    n = len(data)
    for off in range(n + 1):
        for ln in (0, 1, 2, 5, 6, 13, n):
            want = data[off:off + ln]
            dst = bytearray(ln + 3)
            c0 = pbuf.copied()
            got = pbuf.copy_out(p, off, dst, 3, ln)
            assert got == len(want), (off, ln)
            assert bytes(dst[3:3 + got]) == want, (off, ln)
            assert pbuf.copied() == c0 + got
    assert pbuf.to_bytes(p) == data
    pbuf.free(p)
    _baseline()


def test_copy_in_across_boundaries():
    for off in (0, 3, 6, 7, 8, 12, 20):
        p, data = _chain3((7, 5, 9), off)
        src = _pattern(30, 99)
        ln = min(10, len(data) - off)
        c0 = pbuf.copied()
        assert pbuf.copy_in(p, off, src, 4, ln) == ln
        assert pbuf.copied() == c0 + ln
        want = data[:off] + bytes(src[4:4 + ln]) + data[off + ln:]
        assert pbuf.to_bytes(p) == want, off
        pbuf.free(p)
    _baseline()


# ---- gather ------------------------------------------------------------------

def test_gather_table():
    a = pbuf.alloc(pool.H_TX, 14, 20)
    rom_data = b"R" * 40
    r = pbuf.rom(rom_data, 4, 30)
    ram = pbuf.ram(8)
    empty = pbuf.ram(0)
    pbuf.cat(a, r)
    pbuf.cat(a, empty)                     # zero-length pieces are skipped
    pbuf.cat(a, ram)
    v = pbuf.view(a, a.off, 6)
    pbuf.cat(a, v)
    g = [0] * 24
    n = pbuf.gather(a, g)
    assert n == 4
    assert g[0:3] == [a.blk, a.off, 14]
    assert g[3] is rom_data and g[4:6] == [4, 30]
    assert g[6] is ram.buf and g[7:9] == [0, 8]
    assert g[9:12] == [a.blk, a.off, 6]    # a view of a block is named by index
    assert pbuf.gather(a, [0] * 9) == -1   # three entries are not enough
    assert pbuf.gather(a, [0] * 12) == 4
    pbuf.free(a)
    _baseline()


# ---- charge ------------------------------------------------------------------

def test_charge_moves_every_pool_block():
    a = pbuf.alloc(pool.H_RX, 10, 0)
    b = pbuf.ram(5)
    c = pbuf.alloc(pool.H_RX, 10, 0)
    pbuf.cat(a, b)
    pbuf.cat(a, c)
    assert pbuf.charge(a, pool.H_UDP)
    assert pool.holder(a.blk) == pool.H_UDP and pool.holder(c.blk) == pool.H_UDP
    assert pool.held(pool.H_RX) == 0
    pbuf.free(a)
    _baseline()


def test_charge_respects_quota():
    st = pool.stats()
    q = st["quota"][pool.H_REASM]
    pool.set_quota(pool.H_REASM, pool.held(pool.H_REASM) + 1)
    try:
        a = pbuf.alloc(pool.H_RX, 10, 0)
        c = pbuf.alloc(pool.H_RX, 10, 0)
        pbuf.cat(a, c)
        assert not pbuf.charge(a, pool.H_REASM)
        assert pool.held(pool.H_REASM) <= 1            # never above the quota
        pbuf.free(a)
    finally:
        pool.set_quota(pool.H_REASM, q)
    _baseline()


def test_charge_is_all_or_nothing():
    from stack import pbuf
    from stack.pool import pool
    a = pbuf.alloc(pool.H_TX, 10, 0)
    b = pbuf.alloc(pool.H_TX, 10, 0)
    pbuf.cat(a, b)
    before = pool.held(pool.H_UDP)
    pool.set_quota(pool.H_UDP, before + 1)     # room for one of the two
    try:
        assert pool.room(pool.H_UDP) == 1
        assert not pbuf.charge(a, pool.H_UDP)
        assert pool.holder(a.blk) == pool.H_TX and pool.holder(b.blk) == pool.H_TX
        assert pool.held(pool.H_UDP) == before
        pool.set_quota(pool.H_UDP, before + 2)
        assert pbuf.charge(a, pool.H_UDP)
        assert pool.holder(a.blk) == pool.H_UDP and pool.holder(b.blk) == pool.H_UDP
    finally:
        pool.set_quota(pool.H_UDP, pool.NBLOCKS)
    pbuf.free(a)
    assert pool.nfree() == pool.NBLOCKS


# ---- stale handles: the object FIFO ---------------------------------------------

def _raises_stale(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return True
    return False


def test_stale_free_leaves_the_new_owner_alone():
    p = pbuf.alloc(pool.H_TX, 10, 0)
    blk = p.blk
    pbuf.free(p)
    q = pbuf.alloc(pool.H_TX, 10, 0)          # the pool hands the same block out again
    assert q.blk == blk and q is not p         # ... but never the same pbuf object
    stale0 = pbuf.stats()["stale"]
    assert _raises_stale(pbuf.free, p)          # the old handle: an error
    assert _raises_stale(pbuf.header, p, 4)
    assert _raises_stale(pbuf.pref, p)
    assert _raises_stale(pbuf.view, p, 0, 1)
    assert pbuf.stats()["stale"] == stale0 + 4
    assert pool.refcnt(blk) == 1 and pbuf.refcount(q) == 1   # the new owner's block untouched
    assert pbuf.writable(q)
    pbuf.free(q)
    _baseline()


def test_freed_object_comes_back_last():
    # FIFO: a freed object is reused only after every other free object was.
    p = pbuf.ram(1)
    pbuf.free(p)
    n = pbuf.stats()["objects"] - pbuf.in_use()
    got = []
    for _ in range(n - 1):
        got.append(pbuf.rom(b"x"))
    assert all(g is not p for g in got)
    last = pbuf.rom(b"y")
    assert last is p
    assert pbuf.rom(b"z") is None               # none left: refused, not allocated
    assert pbuf.stats()["no_object"] >= 1
    pbuf.free(last)
    for g in got:
        pbuf.free(g)
    _baseline()


# ---- completions: done callbacks ---------------------------------------------------

def test_done_runs_when_the_last_reference_goes():
    data = b"payload-bytes"
    seen = []
    p = pbuf.rom(data, done=seen.append)
    v1 = pbuf.view(p, 2, 4)                  # e.g. one fragment's window
    v2 = pbuf.views(p, 6, 5)                 # another
    pbuf.free(p)                             # the application lets go
    assert seen == []
    pbuf.free(v1)
    assert seen == []
    pbuf.free(v2)                            # the last window reaped
    assert seen == [data] and seen[0] is data
    _baseline()


def test_done_of_ref_buffer_in_a_chain():
    buf = bytearray(b"0123456789")
    seen = []
    h = pbuf.alloc(pool.H_TX, 8, 40)
    r = pbuf.ref_buf(buf, 0, 10, done=seen.append)
    pbuf.cat(h, r)
    pbuf.pref(h)                             # e.g. held by a TX slot
    pbuf.free(h)
    assert seen == []
    pbuf.free(h)
    assert seen == [buf]
    _baseline()


# ---- the write guard -----------------------------------------------------------------

def test_writable_or_clone_returns_a_writable_pbuf_as_is():
    p = pbuf.alloc(pool.H_RX, 60, 0)
    q = pbuf.writable_or_clone(p, 28, pool.H_TX)
    assert q is p
    pbuf.free(q)
    _baseline()


def test_writable_or_clone_clones_only_the_header():
    p = pbuf.alloc(pool.H_RX, 100, 0)
    data = _fill(p)
    pbuf.pref(p)                             # a second holder (TX ring, queue)
    c0 = pbuf.copied()
    q = pbuf.writable_or_clone(p, 8, pool.H_TX)
    assert q is not p and pbuf.writable(q) and q.len == 8
    assert q.next.blk == p.blk               # the rest is shared, not copied
    assert pbuf.to_bytes(q) == data
    assert pbuf.copied() - c0 == 100          # only to_bytes counted: 8 header bytes are not payload
    q.buf[q.off] = 0xAA                      # writing the clone...
    assert p.buf[p.off] == data[0]           # ...leaves the shared block alone
    pbuf.free(q)
    assert pbuf.refcount(p) == 1
    pbuf.free(p)
    _baseline()


def test_writable_or_clone_of_rom():
    data = bytes(range(40))
    p = pbuf.rom(data)
    q = pbuf.writable_or_clone(p, 20, pool.H_TX)
    assert pbuf.writable(q) and pbuf.to_bytes(q) == data
    pbuf.free(q)
    _baseline()


# ---- what may be referenced -----------------------------------------------------------

def test_rom_takes_a_read_only_view_of_bytes():
    # memoryview(bytes) cannot change either: referenced like the bytes
    data = b"0123456789"
    mv = memoryview(data)[3:]
    p = pbuf.rom(mv, 1, 4)
    assert p.kind == pbuf.ROM and p.buf is mv and p.len == 4
    assert pool.readonly(mv) and pool.readonly(data)
    assert not pool.readonly(bytearray(2)) and not pool.readonly(memoryview(bytearray(2)))
    pbuf.free(p)
    _baseline()


def test_rom_refuses_a_mutable_buffer():
    # a bytearray could be written or resized under a TX ring: not ROM
    for obj in (bytearray(8), memoryview(bytearray(8))):
        try:
            pbuf.rom(obj)
        except TypeError:
            continue
        raise AssertionError("rom() took a %s" % type(obj))
    _baseline()


def test_copy_from_copies_and_counts():
    data = bytearray(_pattern(4000, 3))
    c0 = pbuf.copied()
    p = pbuf.copy_from(data, pool.H_APP, 100, 3500, headroom=42)
    assert p is not None and p.kind == pbuf.POOL and p.off == FO + 42
    assert pbuf.copied() - c0 == 3500
    assert pbuf.clen(p) == 3 and p.tot == 3500
    data[100] ^= 0xFF                     # the caller's buffer is free again at once
    got = pbuf.to_bytes(p)
    assert got[0] == data[100] ^ 0xFF and got[1:] == bytes(data[101:3600])
    assert pbuf.header(p, 42)             # headroom for the headers
    pbuf.free(p)
    _baseline()
