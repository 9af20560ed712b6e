# The impairment layer (stack/impair.py) over memif, on both lanes: exact
# seeded outcomes, each impairment's effect on the bytes and its counter,
# cookies in order, back-pressure through the layer, delay by the virtual
# clock (across the 2^30 wrap too), the RX reserve and the hold bound, and
# the pool at baseline after every test. The driver contract itself, with
# every knob at zero, is proven by host_tests/mpy/test_driver_contract.py
# ::mpy[memif+impair].
from array import array

from stack import config, pbuf
from stack import pool as poolmod
from stack.impair import SCALE, Impair, _Rng, from_config
from stack.memif import Memif
from stack.pool import pool
from stack.wire import TICKS_MAX, ticks_add

from support import NEAR_WRAP, Rig

FO = pool.FRAME_OFFSET
IMPAIR_KEYS = ("impair_rx_lost", "impair_rx_dup", "impair_rx_reordered", "impair_rx_corrupted",
               "impair_rx_delayed", "impair_rx_short", "impair_rx_overflow",
               "impair_tx_lost", "impair_tx_dup", "impair_tx_reordered", "impair_tx_corrupted",
               "impair_tx_delayed", "impair_tx_short", "impair_copied_bytes")


def _baseline():
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS, (pool.nfree(), pool.stats()["held"])
    assert pool.hnfree() == pool.HNBLOCKS


def _frame(k, n=64):
    """Frame number k: a 14-byte header, k in bytes 14..15, a pattern after."""
    b = bytearray(n)
    for i in range(n):
        b[i] = (i * 7 + k) & 0xFF
    b[14] = (k >> 8) & 0xFF
    b[15] = k & 0xFF
    return bytes(b)


def _rx_out(budget):
    return array("i", [0] * (3 * budget))


def _rx_all(imp, budget=8, rounds=200):
    """Every frame the layer hands up now (bytes), blocks freed."""
    out = _rx_out(budget)
    got = []
    for _ in range(rounds):
        n = imp.rx_poll(budget, out)
        for k in range(n):
            b, ln = out[3 * k], out[3 * k + 1]
            assert pool.holder(b) == pool.H_RX and pool.refcnt(b) == 1
            got.append(bytes(pool.block(b)[FO:FO + ln]))
            pool.free(b)
        if n == 0 and not imp.drv.pending_rx():
            break
    return got


def _reap_all(imp, rounds=50):
    out = array("i", [0] * 16)
    cookies = []
    for _ in range(rounds):
        m = imp.tx_reap(out)
        for k in range(m):
            cookies.append(out[k])
        if m == 0:
            break
    return cookies


def _rx_run(seed, count=200, **kw):
    """Inject `count` frames through a fresh layer; what came up, and its stats."""
    m = Memif(rx_ring=16, wire_queue=256)
    imp = Impair(m, seed=seed, **kw)
    got = []
    for k in range(count):
        assert m.inject(_frame(k))
        if m.pending_rx() >= 8:
            got += _rx_all(imp)
    got += _rx_all(imp)
    imp.set_now(10000)                  # a pen whose time is up comes out
    got += _rx_all(imp)
    st = imp.stats()
    imp.close()
    _baseline()
    return got, st


def _tx_run(seed, count=200, **kw):
    """Send `count` frames (each in a pool block) through a fresh layer;
    (wire frames, cookies, stats)."""
    m = Memif(tx_ring=8)
    imp = Impair(m, seed=seed, **kw)
    wire, cookies = [], []
    for k in range(count):
        b = pool.alloc(pool.H_TX)
        f = _frame(k)
        pool.block(b)[FO:FO + len(f)] = f
        r = imp.tx(1, [b, FO, len(f)], 1000 + k)
        if r:                              # ring full: reap, then again
            cookies += _reap_all(imp)
            wire += m.take_sent()
            r = imp.tx(1, [b, FO, len(f)], 1000 + k)
        assert r == 0
        pool.free(b)
    imp.set_now(10000)
    cookies += _reap_all(imp)
    wire += m.take_sent()
    st = imp.stats()
    imp.close()
    _baseline()
    return wire, cookies, st


ALL = {"loss": 10, "dup": 10, "reorder": 10, "corrupt": 10}


def _both(**kw):
    d = {}
    for k in kw:
        d["rx_" + k] = kw[k]
        d["tx_" + k] = kw[k]
    return d


# ---- the generator ---------------------------------------------------------------

def test_rng_is_xorshift32_on_halves():
    r = _Rng(7, 0x1234, 0x5678)
    x = (r.h << 16) | r.l
    for _ in range(2000):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        r.step()
        assert r.h < 0x10000 and r.l < 0x10000
        assert (r.h << 16) | r.l == x
    # draws stay in range and a zero seed still moves
    z = _Rng(0, 0, 0)
    seen = set()
    for _ in range(100):
        v = z.below(SCALE)
        assert 0 <= v < SCALE
        seen.add(v)
    assert len(seen) > 90


def test_rates_are_percent_in_ten_thousandths():
    imp = Impair(Memif(), rx_loss=0.5, tx_dup=1, rx_corrupt=100)
    assert imp.rx.loss == 50 and imp.tx_d.dup == 100 and imp.rx.corrupt == SCALE
    imp.close()
    for bad in ({"rx_loss": -1}, {"tx_dup": 101}, {"rx_delay": -5}):
        m = Memif()
        try:
            Impair(m, **bad)
            assert False, "accepted %r" % bad
        except ValueError:
            pass
        m.close()
    _baseline()


# ---- reproducible ----------------------------------------------------------------

def test_same_seed_same_outcome_other_seed_other():
    kw = _both(**ALL)
    a = _rx_run(7, **kw)
    b = _rx_run(7, **kw)
    c = _rx_run(8, **kw)
    assert a[0] == b[0] and a[1] == b[1]
    assert a[0] != c[0]
    ta = _tx_run(7, **kw)
    tb = _tx_run(7, **kw)
    tc = _tx_run(8, **kw)
    assert ta[0] == tb[0] and ta[2] == tb[2]
    assert ta[0] != tc[0]


def test_seeded_outcome_is_exact_on_every_lane():
    # the same frames on CPython and on both MicroPython widths
    got, st = _rx_run(7, count=100, rx_loss=10)
    ids = set((f[14] << 8) | f[15] for f in got)
    assert sorted(set(range(100)) - ids) == [4, 14, 22, 47, 51, 54, 60, 83, 93]
    wire, cookies, st = _tx_run(7, count=30, tx_dup=10, tx_reorder=10)
    assert [(f[14] << 8) | f[15] for f in wire] == [
        0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 11, 13, 14, 15, 15, 12, 16, 18, 19, 17,
        20, 21, 21, 22, 24, 25, 23, 26, 27, 28, 29]
    assert st["impair_tx_dup"] == 4 and st["impair_tx_reordered"] == 3
    assert cookies == [1000 + k for k in range(30)]


def test_directions_are_independent():
    # TX traffic does not move the RX draws: the RX outcome with TX busy and
    # impaired is the RX outcome alone
    rx_only, _ = _rx_run(11, rx_loss=20)
    m = Memif(rx_ring=16, wire_queue=256, tx_ring=8)
    imp = Impair(m, seed=11, rx_loss=20, tx_loss=50)
    got = []
    for k in range(200):
        m.inject(_frame(k))
        assert imp.tx(1, [_frame(k), 0, 64], k) == 0
        _reap_all(imp)
        if m.pending_rx() >= 8:
            got += _rx_all(imp)
    got += _rx_all(imp)
    m.take_sent()
    imp.close()
    _baseline()
    assert got == rx_only


# ---- each impairment -------------------------------------------------------------

def test_rx_loss():
    got, st = _rx_run(3, count=1000, rx_loss=10)
    lost = st["impair_rx_lost"]
    assert 60 < lost < 140, lost                    # 10 % of 1000, seeded
    assert len(got) == 1000 - lost
    sent = [_frame(k) for k in range(1000)]
    assert [f for f in sent if f in got] == got     # survivors in order, intact
    assert st["rx_frames"] == 1000                  # the inner driver's own count
    for k in IMPAIR_KEYS:
        if k != "impair_rx_lost":
            assert st[k] == 0, k


def test_tx_loss_completes_in_order():
    wire, cookies, st = _tx_run(3, count=300, tx_loss=10)
    lost = st["impair_tx_lost"]
    assert 15 < lost < 45, lost
    assert cookies == [1000 + k for k in range(300)]  # every cookie, in order
    assert len(wire) == 300 - lost and st["tx_frames"] == 300 - lost
    sent = [_frame(k) for k in range(300)]
    assert [f for f in sent if f in wire] == wire


def test_rx_dup_takes_a_block_counted_as_the_wire():
    copied = pbuf.copied()
    got, st = _rx_run(5, count=400, rx_dup=10)
    dup = st["impair_rx_dup"]
    assert 15 < dup < 65, dup
    assert len(got) == 400 + dup
    # each duplicate right after its original
    k = 0
    out = []
    for f in got:
        if out and out[-1] == f:
            k += 1
            continue
        out.append(f)
    assert k == dup and out == [_frame(i) for i in range(400)]
    assert st["impair_copied_bytes"] == 64 * dup
    assert pbuf.copied() == copied                  # not a stack copy


def test_tx_dup_same_references_one_cookie():
    m = Memif(tx_ring=8)
    imp = Impair(m, seed=1, tx_dup=100)
    b = pool.alloc(pool.H_TX)
    f = _frame(9)
    pool.block(b)[FO:FO + 64] = f
    assert imp.tx(1, [b, FO, 64], 77) == 0
    assert pool.refcnt(b) == 3                      # ours + the inner's two
    assert m.pending_tx() == 2
    pool.free(b)
    assert _reap_all(imp) == [77]
    assert pool.refcnt(b) == 0
    assert m.take_sent() == [f, f]
    st = imp.stats()
    assert st["impair_tx_dup"] == 1 and st["tx_frames"] == 2
    assert st["impair_copied_bytes"] == 0
    imp.close()
    _baseline()
    wire, cookies, st = _tx_run(5, count=300, tx_dup=10)
    assert cookies == [1000 + k for k in range(300)]
    assert len(wire) == 300 + st["impair_tx_dup"] and 10 < st["impair_tx_dup"] < 50


def _displaced(got, count):
    """How many frames arrived after a later-numbered one."""
    n = 0
    hi = -1
    for f in got:
        k = (f[14] << 8) | f[15]
        if k < hi:
            n += 1
        hi = k if k > hi else hi
    assert sorted(got) == sorted(_frame(k) for k in range(count))
    return n


def test_rx_reorder():
    got, st = _rx_run(9, count=300, rx_reorder=10)
    r = st["impair_rx_reordered"]
    assert 10 < r < 50, r
    assert len(got) == 300
    assert _displaced(got, 300) == r                # each held one arrives after a later one
    # a frame is overtaken by 1..IMPAIR_REORDER_GAP others
    pos = {}
    for i, f in enumerate(got):
        pos[(f[14] << 8) | f[15]] = i
    for k in range(300):
        assert k - config.IMPAIR_REORDER_GAP <= pos[k] <= k + config.IMPAIR_REORDER_GAP


def test_tx_reorder_cookies_stay_in_order():
    wire, cookies, st = _tx_run(9, count=300, tx_reorder=10)
    r = st["impair_tx_reordered"]
    assert 10 < r < 50, r
    assert cookies == [1000 + k for k in range(300)]
    assert len(wire) == 300 and _displaced(wire, 300) == r


def test_reordered_lone_frame_goes_after_reorder_ms():
    m = Memif()
    imp = Impair(m, seed=1, rx_reorder=100, tx_reorder=100)
    m.inject(_frame(1))
    assert _rx_all(imp) == []
    assert imp.next_deadline() == config.IMPAIR_REORDER_MS
    imp.set_now(config.IMPAIR_REORDER_MS - 1)
    assert _rx_all(imp) == []
    assert imp.tx(1, [_frame(2), 0, 64], 5) == 0
    assert _reap_all(imp) == [] and m.take_sent() == []
    imp.set_now(config.IMPAIR_REORDER_MS)
    assert _rx_all(imp) == [_frame(1)]
    imp.set_now(config.IMPAIR_REORDER_MS * 2 - 1)
    assert _reap_all(imp) == [5] and m.take_sent() == [_frame(2)]
    st = imp.stats()
    # held back, but nothing overtook them: not counted as reordered
    assert st["impair_rx_reordered"] == 0 and st["impair_tx_reordered"] == 0
    imp.close()
    _baseline()


def _diff(a, b):
    assert len(a) == len(b)
    return [i for i in range(len(a)) if a[i] != b[i]]


def test_rx_corrupt_flips_one_byte_past_ethernet():
    got, st = _rx_run(4, count=300, rx_corrupt=10)
    c = st["impair_rx_corrupted"]
    assert 10 < c < 50, c
    assert len(got) == 300
    bad = 0
    for k in range(300):
        d = _diff(got[k], _frame(k))
        if d:
            bad += 1
            assert len(d) == 1 and d[0] >= 14, d
            assert got[k][d[0]] ^ _frame(k)[d[0]] == 0xA5
    assert bad == c
    assert st["impair_copied_bytes"] == 0           # in place: the block is ours


def test_tx_corrupt_copies_never_writes_shared_block():
    m = Memif(tx_ring=8)
    imp = Impair(m, seed=2, tx_corrupt=100)
    b = pool.alloc(pool.H_TX)
    h = pool.alloc_hdr(pool.H_TX)
    f = _frame(3, 200)
    pool.block(h)[0:42] = f[:42]
    pool.block(b)[FO:FO + 100] = f[42:142]
    g = [h, 0, 42, b, FO, 100, f[142:], 0, 58]
    before = (bytes(pool.block(h)[0:42]), bytes(pool.block(b)[FO:FO + 100]))
    copied = pbuf.copied()
    assert imp.tx(3, g, 1) == 0
    assert pool.refcnt(b) == 1 and pool.refcnt(h) == 1  # the copy went, not our blocks
    assert _reap_all(imp) == [1]
    sent = m.take_sent()
    assert len(sent) == 1
    d = _diff(sent[0], f)
    assert len(d) == 1 and d[0] >= 14
    assert (bytes(pool.block(h)[0:42]), bytes(pool.block(b)[FO:FO + 100])) == before
    st = imp.stats()
    assert st["impair_tx_corrupted"] == 1 and st["impair_copied_bytes"] == 200
    assert pbuf.copied() == copied
    pool.free(b)
    pool.free(h)
    imp.close()
    _baseline()


def test_tx_corrupt_without_a_block_sends_intact_counted():
    m = Memif(tx_ring=8)
    imp = Impair(m, seed=2, tx_corrupt=100)
    q = pool.stats()["quota"][pool.H_TX]
    pool.set_quota(pool.H_TX, 0)
    try:
        assert imp.tx(1, [_frame(1), 0, 64], 1) == 0
    finally:
        pool.set_quota(pool.H_TX, q)
    assert _reap_all(imp) == [1] and m.take_sent() == [_frame(1)]
    st = imp.stats()
    assert st["impair_tx_short"] == 1 and st["impair_tx_corrupted"] == 0
    imp.close()
    _baseline()


# ---- delay on the virtual clock -------------------------------------------------

def _delay_case(t0):
    m = Memif()
    imp = Impair(m, seed=1, rx_delay=30, tx_delay=20, now_ms=t0)
    assert imp.next_deadline() is None
    m.inject(_frame(1))
    assert _rx_all(imp) == []
    assert imp.next_deadline() == ticks_add(t0, 30)
    assert imp.tx(1, [_frame(2), 0, 64], 9) == 0
    assert imp.next_deadline() == ticks_add(t0, 20)
    imp.set_now(ticks_add(t0, 19))
    assert _reap_all(imp) == [] and m.take_sent() == []
    imp.set_now(ticks_add(t0, 20))
    assert _reap_all(imp) == [9] and m.take_sent() == [_frame(2)]
    imp.set_now(ticks_add(t0, 29))
    assert _rx_all(imp) == []
    imp.set_now(ticks_add(t0, 30))
    assert _rx_all(imp) == [_frame(1)]
    assert imp.next_deadline() is None
    st = imp.stats()
    assert st["impair_rx_delayed"] == 1 and st["impair_tx_delayed"] == 1
    imp.close()
    _baseline()


def test_delay_by_the_ticks_clock():
    _delay_case(5000)


def test_delay_across_the_wrap():
    _delay_case(TICKS_MAX - 10)     # due times land after the 2^30 wrap


def test_jitter_stays_in_order_and_in_range():
    m = Memif(wire_queue=256)
    imp = Impair(m, seed=3, rx_delay=10, rx_jitter=20)
    for k in range(20):
        m.inject(_frame(k))
        _rx_all(imp, rounds=1)      # one by one, all at t=0
    got = []
    for t in range(0, 40):
        imp.set_now(t)
        f = _rx_all(imp)
        if t < 10:
            assert f == []
        got += f
    assert got == [_frame(k) for k in range(20)]
    assert imp.stats()["impair_rx_delayed"] == 20
    imp.close()
    _baseline()


def test_delay_through_the_stack_on_the_wrap():
    # ping through a 40 ms delay each way: the reply leaves 80 ms after the
    # request entered, and poll()'s deadline says when
    with Rig(now=NEAR_WRAP + 990, impair={"seed": 1, "rx_delay": 40, "tx_delay": 40}) as r:
        r.learn()
        r.ping_in(seq=7)
        dl = r.poll(0)
        assert dl == ticks_add(r.now(), 40)
        assert r.sent() == []
        r.poll(39)
        assert r.sent() == []
        dl = r.poll(40)                            # the request reaches ICMP; reply held
        assert r.sent() == [] and dl == ticks_add(r.now(), 40)
        r.poll(79)
        assert r.sent() == []
        r.poll(80)
        got = r.sent_parsed()
        assert len(got) == 1
        st = r.imp.stats()
        assert st["impair_rx_delayed"] == 1 and st["impair_tx_delayed"] == 1
        assert r.delta().get("icmp_echo_rx", 1) == 1
        r.finish()


def test_small_budget_keeps_order_and_budget():
    # budget 1 with every frame duplicated: the copy waits for the next call
    m = Memif(wire_queue=64)
    imp = Impair(m, seed=1, rx_dup=100)
    for k in range(3):
        m.inject(_frame(k))
    out = _rx_out(1)
    assert imp.rx_poll(0, out) == 0 and m.pending_rx() == 3   # budget 0 takes nothing
    got = _rx_all(imp, budget=1)
    assert got == [_frame(0), _frame(0), _frame(1), _frame(1), _frame(2), _frame(2)]
    assert imp.stats()["impair_rx_dup"] == 3
    imp.close()
    _baseline()


# ---- bounds: hold, reserve, back-pressure ------------------------------------------

def test_rx_hold_bound_tail_drops():
    m = Memif(rx_ring=16, wire_queue=64)
    imp = Impair(m, seed=1, rx_delay=10, hold=4)
    for k in range(10):
        m.inject(_frame(k))
    assert _rx_all(imp) == []
    st = imp.stats()
    assert st["impair_rx_delayed"] == 4 and st["impair_rx_overflow"] == 6
    assert pool.held(pool.H_RX) == 4               # held blocks stay charged to H_RX
    imp.set_now(10)
    assert _rx_all(imp) == [_frame(k) for k in range(4)]
    imp.close()
    _baseline()


def test_rx_never_holds_into_the_reserve():
    m = Memif(rx_ring=8, wire_queue=64)
    imp = Impair(m, seed=1, rx_delay=10, rx_dup=100)
    reserve = config.POOL_RESERVE_RX_BLOCKS
    q = pool.stats()["quota"][pool.H_APP]
    pool.set_quota(pool.H_APP, pool.NBLOCKS)
    taken = []
    try:
        while pool.nfree() > reserve:
            taken.append(pool.alloc(pool.H_APP))
        for k in range(3):
            m.inject(_frame(k))
        got = _rx_all(imp)
        # delivered at once, undelayed and without a duplicate, counted
        assert got == [_frame(k) for k in range(3)]
        st = imp.stats()
        assert st["impair_rx_short"] == 6, st      # 3 duplicates + 3 holds refused
        assert st["impair_rx_dup"] == 0 and st["impair_rx_delayed"] == 0
    finally:
        for b in taken:
            pool.free(b)
        pool.set_quota(pool.H_APP, q)
    imp.close()
    _baseline()


def test_back_pressure_through_the_layer():
    m = Memif(tx_ring=4)
    imp = Impair(m, seed=1, tx_delay=10)
    assert imp.tx_room() == 4
    for k in range(4):
        assert imp.tx(1, [_frame(k), 0, 64], k) == 0
        assert imp.tx_room() == 3 - k
    assert imp.tx(1, [_frame(4), 0, 64], 4) == 105  # ENOBUFS
    assert imp.stats()["tx_ring_full"] == 1
    assert _reap_all(imp) == [] and imp.tx_room() == 0
    imp.set_now(10)
    assert _reap_all(imp) == [0, 1, 2, 3]
    assert imp.tx_room() == 4
    assert m.take_sent() == [_frame(k) for k in range(4)]
    # a bad frame is refused before the ring-full check, nothing taken
    for k in range(4):
        assert imp.tx(1, [_frame(k), 0, 64], k) == 0
    try:
        imp.tx(1, [_frame(0), 0, 13], 9)
        assert False
    except ValueError:
        pass
    imp.close()
    _baseline()


def test_back_pressure_reaches_the_stack():
    # the netif asks tx_room(): with the layer's ring full of delayed frames
    # the echo service gets EAGAIN (counted), and room comes back when they go
    with Rig(impair={"seed": 1, "tx_delay": 50}, tx_ring=4) as r:
        r.learn()
        st = r.st
        st.udp.bind_echo(7)
        assert st.netif.tx_room() == 4
        for k in range(5):
            r.udp_in(2000 + k, 7, b"echo %d" % k)
        r.poll(1)
        assert st.netif.tx_room() == 0 and r.imp.tx_room() == 0
        assert r.delta() == {"eth_rx": 5, "ipv4_rx": 5, "udp_rx": 5, "udp_tx": 4, "ipv4_tx": 4,
                             "udp_tx_eagain": 1}, r.delta()
        r.poll(50)
        assert r.sent() == []
        r.poll(51)
        got = r.sent_parsed()
        assert [g["udp"]["dport"] for g in got] == [2000, 2001, 2002, 2003]
        assert st.netif.tx_room() == 4
        assert r.imp.stats()["impair_tx_delayed"] == 4
        r.finish()


def test_held_frames_freed_at_close():
    m = Memif(rx_ring=8, wire_queue=64, tx_ring=8)
    imp = Impair(m, seed=1, rx_delay=100, tx_delay=100, rx_dup=100, tx_reorder=100)
    b = pool.alloc(pool.H_TX)
    pool.block(b)[FO:FO + 64] = _frame(0)
    for k in range(3):
        m.inject(_frame(k))
        assert imp.tx(1, [b, FO, 64], k) == 0
    _rx_all(imp)
    assert pool.refcnt(b) == 4                      # the layer's holds
    pool.free(b)
    assert not poolmod.at_baseline()
    imp.close()
    imp.close()                                     # idempotent
    _baseline()
    try:
        imp.tx_room()
        assert False
    except OSError:
        pass


# ---- counters, config -------------------------------------------------------------

def test_stats_are_the_inner_counters_plus_the_layers():
    m = Memif()
    imp = Impair(m, seed=1)
    st = imp.stats()
    for k in m.stats():
        assert k in st
    for k in IMPAIR_KEYS:
        assert st[k] == 0, k
    assert imp.fileno() == m.fileno() and imp.link() == m.link()
    assert imp.MAX_SEG == m.MAX_SEG and imp.name == m.name
    imp.close()
    _baseline()


def test_from_config_inserts_only_when_set():
    m = Memif()
    assert from_config(m) is m
    saved = config.IMPAIR_TX_LOSS_PCT, config.IMPAIR_SEED
    config.override("IMPAIR_TX_LOSS_PCT", "2.5")
    config.override("IMPAIR_SEED", "7")
    try:
        imp = from_config(m)
        assert isinstance(imp, Impair) and imp.drv is m
        assert imp.tx_d.loss == 250 and imp.seed == 7 and imp.rx.loss == 0
    finally:
        config.IMPAIR_TX_LOSS_PCT, config.IMPAIR_SEED = saved
    imp.close()
    _baseline()


def test_lossy_echo_through_the_stack_counts_match():
    with Rig(impair={"seed": 7, "rx_loss": 10, "tx_loss": 10}) as r:
        r.st.udp.bind_echo(7)
        r.learn()
        for k in range(200):
            r.udp_in(3000, 7, b"echo %d" % k)
            r.poll(k)
        got = r.sent_parsed()
        st = r.imp.stats()
        d = r.delta()
        assert d["udp_rx"] == 200 - st["impair_rx_lost"]
        assert len(got) == d["udp_rx"] - st["impair_tx_lost"]
        assert 5 < st["impair_rx_lost"] < 40 and 5 < st["impair_tx_lost"] < 40
        r.finish()


# ---- no heap per frame (MicroPython) --------------------------------------------

class _Quiet:
    """A driver that allocates nothing: RX hands up fresh blocks (64 bytes
    of whatever they hold), TX only remembers cookies. So what gc sees around
    the layer's calls is the layer's own doing."""
    MAX_SEG = 16
    name = "quiet"

    def __init__(self, ring=8):
        self.q = array("i", [0] * ring)
        self.n = 0
        self.ring = ring

    def rx_poll(self, budget, out):
        got = 0
        while got < budget:
            b = pool.alloc(pool.H_RX)
            if b < 0:
                break
            j = 3 * got
            out[j] = b
            out[j + 1] = 64
            out[j + 2] = 0
            got += 1
        return got

    def tx(self, n, g, cookie):
        if self.n >= self.ring:
            return 105
        self.q[self.n] = cookie
        self.n += 1
        return 0

    def tx_room(self):
        return self.ring - self.n

    def tx_reap(self, out):
        m = self.n if self.n < len(out) else len(out)
        for k in range(m):
            out[k] = self.q[k]
        for k in range(m, self.n):
            self.q[k - m] = self.q[k]
        self.n -= m
        return m

    def link(self):
        return (True, 1000, True)

    def stats(self):
        return {}

    def fileno(self):
        return -1

    def close(self):
        pass


def test_per_frame_path_allocates_nothing():
    import sys
    if sys.implementation.name != "micropython":
        from support import skip
        skip("gc.mem_alloc is MicroPython's")
    import gc
    imp = Impair(_Quiet(), seed=5, rx_loss=10, rx_dup=10, rx_reorder=10, rx_corrupt=10,
                 rx_delay=2, rx_jitter=3, tx_loss=10, tx_dup=10, tx_reorder=10, tx_corrupt=10,
                 tx_delay=2, tx_jitter=3, now_ms=TICKS_MAX - 20)    # across the wrap too
    out = _rx_out(8)
    reap = array("i", [0] * 8)
    g = [_frame(1), 0, 64]
    t = TICKS_MAX - 20
    used = 0
    gc.disable()
    try:
        for k in range(60):
            t = ticks_add(t, 1)
            a = gc.mem_alloc()
            imp.set_now(t)
            n = imp.rx_poll(8, out)
            imp.tx(1, g, k)
            imp.tx_reap(reap)
            imp.next_deadline()
            b = gc.mem_alloc()
            if k >= 10:                         # the first rounds make the scratch table
                used += b - a
            for i in range(n):
                pool.free(out[3 * i])
    finally:
        gc.enable()
    st = imp.stats()
    for kind in ("lost", "dup", "reordered", "corrupted", "delayed"):
        assert st["impair_rx_" + kind] > 0, kind
    assert st["impair_tx_delayed"] > 0 and st["impair_tx_lost"] > 0
    imp.close()
    _baseline()
    assert used == 0, used
