# Driver-vs-model tests for the C6747 / OMAP-L137 EMAC driver
# (drivers/c6747_emac) against its behavioural model (model/), on the queue
# wire, from inside MicroPython (both widths). What a user sees: bytes on the
# wire, the driver's and the model's counters as exact deltas, the pool back
# at its baseline after every test.
#
#   unshare -n build/unix/micropython host_tests/mpy/test_c6747_model.py
import array
import errno
import sys

import zcpool
import c6747_emac

FO = zcpool.FRAME_OFFSET
ME = b"\x02\x00\x00\x00\x00\x02"
PEER = b"\x02\x00\x00\x00\x00\x01"
BCAST = b"\xff" * 6


def emac(**kw):
    args = dict(rx_ring=8, tx_ring=16, wire="queue", queue_depth=256, mac=ME)
    args.update(kw)
    return c6747_emac.EMAC(**args)


def check_closed_baseline():
    assert zcpool.nfree() == zcpool.NBLOCKS, "leak: %d of %d free" % (zcpool.nfree(), zcpool.NBLOCKS)
    assert zcpool.hnfree() == zcpool.HNBLOCKS, "header leak"


def at_baseline():
    return (zcpool.nfree() + zcpool.held(zcpool.H_RXPOST) == zcpool.NBLOCKS
            and zcpool.hnfree() == zcpool.HNBLOCKS)


class Rng:
    """A seeded generator (xorshift32) for reproducible random chains."""

    def __init__(self, seed):
        self.s = seed or 1

    def below(self, n):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s % n


def frame(dst, seq, n):
    """dst + PEER + type 0x88B5 + a 4-byte sequence number + a pattern, n bytes."""
    b = bytearray(n)
    b[0:6] = dst
    b[6:12] = PEER
    b[12] = 0x88
    b[13] = 0xB5
    b[14] = (seq >> 24) & 0xFF
    b[15] = (seq >> 16) & 0xFF
    b[16] = (seq >> 8) & 0xFF
    b[17] = seq & 0xFF
    for i in range(18, n):
        b[i] = (i + seq) & 0xFF
    return bytes(b)


def seq_of(b, off):
    return (b[off + 14] << 24) | (b[off + 15] << 16) | (b[off + 16] << 8) | b[off + 17]


def rx_all(d, want, budget=8, rounds=2000):
    """Poll until `want` frames came up (or rounds ran out); frees every block.
    Returns the frames' bytes."""
    out = array.array("i", [0] * (3 * budget))
    got = []
    for _ in range(rounds):
        if len(got) >= want:
            break
        n = d.rx_poll(budget, out)
        for k in range(n):
            b, ln, fl = out[3 * k], out[3 * k + 1], out[3 * k + 2]
            assert zcpool.holder(b) == zcpool.H_RX and fl == 0
            got.append(bytes(zcpool.block(b)[FO:FO + ln]))
            assert zcpool.free(b) == 0
    return got


def reap_all(d, want, rounds=2000):
    out = array.array("i", [0] * 32)
    got = []
    for _ in range(rounds):
        if len(got) >= want:
            break
        m = d.tx_reap(out)
        got.extend(out[:m])
    return got


_TAKE = bytearray(2048)


def take_all(d):
    buf = _TAKE
    got = []
    for _ in range(100000):
        n = d.take(buf)
        if not n:
            break
        got.append(bytes(buf[:n]))
    return got


def model_clean(d):
    ms = d.model_stats()
    assert ms["macstatus"] == 0 and ms["host_error"] == 0 and ms["host_errors"] == 0, ms
    assert ms["hdp_while_active"] == 0, "HDP written while the channel was active"
    assert ms["bad_channel"] == 0
    # cache discipline: every buffer the DMA read was written back first,
    # every one it wrote was invalidated first
    assert ms["tx_unclean"] == 0 and ms["rx_uninvalidated"] == 0, ms
    return ms


# ---- volume --------------------------------------------------------------------------

def test_thousands_of_frames_rx_and_tx_zero_copy():
    d = emac(rx_ring=16, tx_ring=32)
    try:
        total = 3000
        # RX: in bursts as the wire brings them, each delivered once, in order.
        sent = 0
        nseen = 0
        while sent < total:
            for _ in range(40):
                if sent < total:
                    assert d.inject(frame(ME, sent, 60 + sent % 1400)) == 0
                    sent += 1
            for fr in rx_all(d, sent - nseen):
                assert fr == frame(ME, nseen, 60 + nseen % 1400), "rx frame %d" % nseen
                nseen += 1
        assert nseen == total
        # TX: one to three pieces, from a block and bytes, bytes on the wire exact.
        b = zcpool.alloc(zcpool.H_TX)
        ncookies = 0
        nwire = 0
        txbytes = 0
        for i in range(total):
            fr = frame(PEER, i, 60 + (i * 7) % 1454)
            txbytes += len(fr)
            cut = 14 + i % 40
            zcpool.block(b)[0:len(fr) - cut] = fr[cut:]
            if i % 3 == 0:
                g = [fr, 0, len(fr)]
            elif i % 3 == 1:
                g = [fr, 0, cut, b, 0, len(fr) - cut]
            else:
                g = [fr[:10], 0, 10, fr, 10, cut - 10, b, 0, len(fr) - cut]
            assert d.tx(len(g) // 3, g, i) == 0
            # the block is rewritten for the next frame: reap this one first
            for c in reap_all(d, 1):
                assert c == ncookies
                ncookies += 1
            for w in take_all(d):
                assert w == frame(PEER, nwire, 60 + (nwire * 7) % 1454), "tx frame %d" % nwire
                nwire += 1
        zcpool.free(b)
        assert ncookies == total and nwire == total
        st = d.stats()
        assert st["rx_frames"] == total and st["tx_frames"] == total
        assert st["rx_bytes"] == sum(60 + i % 1400 for i in range(total))
        assert st["tx_bytes"] == txbytes
        assert st["rx_copied_bytes"] == 0 and st["tx_copied_bytes"] == 0
        assert st["rx_no_buffer"] == 0 and st["rx_errors"] == 0 and st["tx_errors"] == 0
        ms = model_clean(d)
        assert ms["rx_packets"] == total and ms["tx_packets"] == total
        # the paced interrupt pulses kept coming: each one re-armed by MACEOIVECTOR
        assert ms["pulses"] > 100 and ms["eoi_writes"] >= ms["pulses"] - 3, ms
        assert 100 < st["irqs"] <= ms["pulses"], (st["irqs"], ms["pulses"])
        assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


# ---- the misqueued-append race -----------------------------------------------------------

def test_misqueued_race_restarts_and_loses_nothing():
    # With race set, the bus lets the model step before any driver access:
    # a packet completes between the driver's link write and its EOQ check.
    # The channel must be restarted (counted) and every frame go through once.
    d = emac(rx_ring=4, tx_ring=4, race=300000, seed=7)
    try:
        total = 1500
        rx_seen = []
        tx_wire = []
        cookies = []
        sent = 0
        queued = 0
        for _ in range(20000):
            if len(rx_seen) >= total and len(cookies) >= total:
                break
            for _ in range(5):            # more than the ring holds: it runs to its end
                if sent < total and d.inject(frame(ME, sent, 64)) == 0:
                    sent += 1
            for _ in range(3):
                if queued < total:
                    fr = frame(PEER, queued, 60 + queued % 3)
                    if d.tx(2, [fr, 0, 20, fr, 20, len(fr) - 20], queued) == 0:
                        queued += 1
            rx_seen += [seq_of(f, 0) for f in rx_all(d, 1, budget=4, rounds=1)]
            cookies += reap_all(d, 1, rounds=1)
            for w in take_all(d):
                k = seq_of(w, 0)
                assert w == frame(PEER, k, 60 + k % 3)
                tx_wire.append(k)
        assert rx_seen == list(range(total)), "RX lost or reordered"
        assert cookies == list(range(total))
        assert tx_wire == list(range(total)), "TX lost or reordered"
        st = d.stats()
        bs = d.bus_stats()
        assert bs["races"] > 1000, bs
        print("c6747 race: restarts rx %d tx %d, requeues rx %d tx %d, races %d" % (
            st["rx_restarts"], st["tx_restarts"], st["rx_requeues"], st["tx_requeues"], bs["races"]))
        assert st["rx_restarts"] > 0 and st["tx_restarts"] > 0, st
        assert st["rx_frames"] == total and st["tx_frames"] == total
        assert st["rx_no_buffer"] == 0
        model_clean(d)
        assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


def test_rx_frames_without_a_descriptor_are_sof_overruns():
    # No block at all when the driver starts: no RX descriptor is posted,
    # and the MAC drops what arrives (start-of-frame overruns, read and
    # cleared by the driver into rx_sof_overruns and rx_no_buffer).
    with Starve() as s:
        d = emac(rx_ring=4)
        try:
            assert zcpool.held(zcpool.H_RXPOST) == 0
            for i in range(5):
                assert d.inject(frame(ME, i, 64)) == 0
            assert rx_all(d, 5, rounds=20) == []
            st = d.stats()
            ms = model_clean(d)
            assert st["rx_sof_overruns"] == 5 and ms["rx_no_desc"] == 5 and st["rx_no_buffer"] == 5, st
            assert ms["RXSOFOVERRUNS"] == 0                  # read and cleared by the driver
            s.give_back()
            for i in range(5, 9):
                assert d.inject(frame(ME, i, 64)) == 0
            assert [seq_of(f, 0) for f in rx_all(d, 4)] == [5, 6, 7, 8]
            assert zcpool.held(zcpool.H_RXPOST) == 4 and d.stats()["rx_sof_overruns"] == 5
        finally:
            d.close()
    check_closed_baseline()


# ---- TX chains ---------------------------------------------------------------------------

def test_multi_descriptor_tx_and_padding_exact():
    d = emac(tx_ring=4)
    f = zcpool.alloc(zcpool.H_TX)
    h = zcpool.alloc_hdr(zcpool.H_TX)
    try:
        fr = frame(PEER, 5, 300)
        cuts = [0, 14, 20, 34, 38, 42, 50, 61, 70, 80, 95, 100, 120, 130, 150, 170, 300]
        g = []
        hat = 0                                    # header block cursor
        for k in range(16):
            a, b = cuts[k], cuts[k + 1]
            if k % 3 == 0:
                zcpool.block(f)[a:b] = fr[a:b]
                g += [f, a, b - a]
            elif k % 3 == 1:
                zcpool.block(h)[hat:hat + b - a] = fr[a:b]
                g += [h, hat, b - a]
                hat += b - a
            else:
                g += [fr, a, b - a]
        ms0 = d.model_stats()
        assert d.tx(16, g, 1) == 0
        assert reap_all(d, 1) == [1]
        assert take_all(d) == [fr]
        ms = model_clean(d)
        assert ms["tx_descs"] - ms0["tx_descs"] == 16 and ms["tx_max_descs"] == 16
        # A 20-byte frame in three pieces, one empty: padded to 60 by a
        # descriptor on the zero buffer, the payload never copied.
        short = frame(PEER, 6, 20)
        assert d.tx(4, [short, 0, 14, short, 14, 0, f, 0, 0, short, 14, 6], 2) == 0
        assert reap_all(d, 1) == [2]
        assert take_all(d) == [short + bytes(40)]
        st = d.stats()
        assert st["tx_pad_frames"] == 1 and st["tx_pad_bytes"] == 40 and st["tx_zero_segs"] == 2
        assert st["tx_bytes"] == 300 + 20 and st["tx_copied_bytes"] == 0
        ms2 = model_clean(d)
        assert ms2["tx_descs"] - ms["tx_descs"] == 3
        assert zcpool.refcnt(f) == 1 and zcpool.refcnt(h) == 1
    finally:
        d.close()
        zcpool.free(f)
        zcpool.free(h)
    check_closed_baseline()


def test_property_random_tx_chains_never_rejected_by_the_model():
    # Random chains: 1..16 pieces, zero-length ones among them, totals from
    # 14 bytes (under 60: padded) up, more descriptors wanted than are free.
    # The model checks every chain the driver builds (SOP/EOP/OWNER, pointers,
    # lengths, packet length): MACSTATUS must stay 0, and what goes on the
    # wire must be the pieces in order plus zero padding to 60.
    rng = Rng(12345)
    d = emac(tx_ring=8, tx_desc=12)
    blocks = [zcpool.alloc(zcpool.H_TX) for _ in range(3)]
    hdrs = [zcpool.alloc_hdr(zcpool.H_TX) for _ in range(2)]
    for b in blocks + hdrs:
        mv = zcpool.block(b)
        for i in range(len(mv)):
            mv[i] = (i * 7 + b) & 0xFF
    rom = bytes((i * 13) & 0xFF for i in range(256))
    try:
        expect = {}
        nwire = 0
        sent = refused = enobufs = 0
        cookie = 0
        wire = []
        reaped = []
        for it in range(800):
            n = 1 + rng.below(16)
            g = []
            data = b""
            for _ in range(n):
                kind = rng.below(4)
                ln = 0 if rng.below(4) == 0 else rng.below(24)
                if kind == 0:
                    src = blocks[rng.below(3)]
                elif kind == 1:
                    src = hdrs[rng.below(2)]
                else:
                    src = rom
                size = ((zcpool.HDR_SIZE if zcpool.is_hdr(src) else zcpool.BLOCK_SIZE)
                        if isinstance(src, int) else len(rom))
                off = rng.below(size - ln + 1)
                g += [src, off, ln]
                if ln:
                    data += bytes(zcpool.block(src)[off:off + ln]) if isinstance(src, int) else src[off:off + ln]
            if len(data) < 14:
                g += [rom, 0, 14]
                n += 1
                data += rom[:14]
            if n > 16:
                continue
            try:
                r = d.tx(n, g, cookie)
            except ValueError:
                refused += 1           # needs more descriptors than the ring has
                continue
            if r == errno.ENOBUFS:
                enobufs += 1
                reaped += reap_all(d, 1, rounds=1)
                wire += take_all(d)
                continue
            assert r == 0
            expect[cookie] = data + bytes(max(0, 60 - len(data)))
            cookie += 1
            sent += 1
            if rng.below(3) == 0:
                reaped += reap_all(d, 1, rounds=1)
                wire += take_all(d)
            while wire:                      # check as they come: keep little
                w = wire.pop(0)
                assert w == expect.pop(nwire), "frame %d on the wire" % nwire
                nwire += 1
        reaped += reap_all(d, sent - len(reaped))
        wire += take_all(d)
        for w in wire:
            assert w == expect.pop(nwire), "frame %d on the wire" % nwire
            nwire += 1
        assert reaped == list(range(sent)) and nwire == sent and not expect
        assert enobufs > 0 and refused > 0 and sent > 300, (sent, enobufs, refused)
        st = d.stats()
        assert st["tx_frames"] == sent and st["tx_desc_full"] > 0 and st["tx_copied_bytes"] == 0
        model_clean(d)
        for b in blocks:
            assert zcpool.refcnt(b) == 1
    finally:
        d.close()
        for b in blocks + hdrs:
            zcpool.free(b)
    check_closed_baseline()


# ---- RX: starvation, errors, filter ---------------------------------------------------------

class Starve:
    def __enter__(self):
        st = zcpool.stats()
        self.reserve = st["reserve"]
        self.quota = st["quota"][zcpool.H_APP]
        zcpool.set_reserve(0)
        zcpool.set_quota(zcpool.H_APP, zcpool.NBLOCKS)
        self.taken = []
        for _ in range(zcpool.NBLOCKS):
            b = zcpool.alloc(zcpool.H_APP)
            if b < 0:
                break
            self.taken.append(b)
        return self

    def give_back(self):
        while self.taken:
            zcpool.free(self.taken.pop())

    def __exit__(self, *exc):
        self.give_back()
        zcpool.set_reserve(self.reserve)
        zcpool.set_quota(zcpool.H_APP, self.quota)
        return False


def test_rx_starvation_and_recovery():
    d = emac(rx_ring=4)
    try:
        with Starve() as s:
            posted = zcpool.held(zcpool.H_RXPOST)
            for i in range(10):
                assert d.inject(frame(ME, i, 80)) == 0
            assert rx_all(d, 10, rounds=50) == []
            st = d.stats()
            assert st["rx_no_buffer"] == 10 and st["rx_frames"] == 0, st
            assert zcpool.held(zcpool.H_RXPOST) == posted          # descriptors recycled
            s.give_back()
            for i in range(10, 20):
                assert d.inject(frame(ME, i, 80)) == 0
            got = rx_all(d, 10)
            assert [seq_of(f, 0) for f in got] == list(range(10, 20))
            assert d.stats()["rx_no_buffer"] == 10
            model_clean(d)
            assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


def test_error_flagged_rx_frames_dropped_blocks_recycled():
    d = emac(rx_ring=4)
    try:
        d.fault("rx_crc", 1000000)
        for i in range(12):
            assert d.inject(frame(ME, i, 100)) == 0
        assert rx_all(d, 12, rounds=50) == []
        inj = d.faults()["rx_crc"]
        st = d.stats()
        assert inj == 12
        assert st["rx_errors"] == 12 and st["rx_crc_errors"] + st["rx_align_errors"] == 12, st
        assert st["rx_crc_errors"] > 0 and st["rx_align_errors"] > 0
        d.fault("rx_crc", 0)
        d.fault("rx_overrun", 1000000)
        for i in range(5):
            assert d.inject(frame(ME, i, 100)) == 0
        assert rx_all(d, 5, rounds=50) == []
        assert d.stats()["rx_overruns"] == 5 and d.stats()["rx_errors"] == 17
        d.fault("rx_overrun", 0)
        assert zcpool.held(zcpool.H_RXPOST) == 4 and at_baseline()
        for i in range(6):
            assert d.inject(frame(ME, 100 + i, 100)) == 0
        got = rx_all(d, 6)
        assert [seq_of(f, 0) for f in got] == list(range(100, 106))
        assert d.stats()["rx_frames"] == 6
        model_clean(d)
    finally:
        d.close()
    check_closed_baseline()
    # Without RXCEFEN the MAC itself drops error frames: the driver sees none.
    d = emac(rx_ring=4, error_frames=False)
    try:
        d.fault("rx_crc", 1000000)
        for i in range(7):
            assert d.inject(frame(ME, i, 100)) == 0
        assert rx_all(d, 7, rounds=20) == []
        assert d.model_stats()["rx_filtered"] == 7 and d.stats()["rx_errors"] == 0
    finally:
        d.close()
    check_closed_baseline()


def hash_bit(m):
    h = 0
    for k in (0, 3):
        h ^= (m[k] >> 2) ^ (m[k] << 4)
        h ^= (m[k + 1] >> 4) ^ (m[k + 1] << 2)
        h ^= (m[k + 2] >> 6) ^ m[k + 2]
    return h & 0x3F


def test_mac_filter_all_entries_broadcast_and_hash():
    g1 = b"\x01\x00\x5e\x00\x00\x01"
    g2 = None
    for x in range(2, 200):
        c = b"\x01\x00\x5e\x00\x00" + bytes([x])
        if hash_bit(c) != hash_bit(g1):
            g2 = c
            break
    other = b"\x02\x00\x00\x00\x00\x99"
    d = emac(rx_ring=8, mcast=[g1])
    try:
        for i, dst in enumerate((ME, other, BCAST, g1, g2, ME)):
            assert d.inject(frame(dst, i, 64)) == 0
        got = rx_all(d, 4)
        assert [seq_of(f, 0) for f in got] == [0, 2, 3, 5]
        assert rx_all(d, 1, rounds=5) == []
        ms = model_clean(d)
        assert ms["rx_filtered"] == 2 and ms["RXFILTERED"] == 2
    finally:
        d.close()
    check_closed_baseline()
    # no broadcast, no hash: unicast to us only
    d = emac(rx_ring=8)
    try:
        for i, dst in enumerate((BCAST, g1, ME)):
            assert d.inject(frame(dst, i, 64)) == 0
        got = rx_all(d, 2, rounds=20)
        assert [seq_of(f, 0) for f in got] == [0, 2]        # broadcast is on by default
        assert d.model_stats()["rx_filtered"] == 1
    finally:
        d.close()
    check_closed_baseline()


def test_rxmaxlen_oversize_counted():
    d = emac(rx_ring=4)                                        # RXMAXLEN 1518
    try:
        for i, n in enumerate((1514, 1515, 1514, 1800)):
            assert d.inject(frame(ME, i, n)) == 0
        got = rx_all(d, 2)
        assert [seq_of(f, 0) for f in got] == [0, 2]
        assert rx_all(d, 1, rounds=5) == []
        st = d.stats()
        assert st["rx_oversize"] == 2 and st["rx_errors"] == 0 and st["rx_frames"] == 2
        assert d.model_stats()["RXOVERSIZED"] == 2
        assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


# ---- teardown, host error, link -------------------------------------------------------------

def test_teardown_with_frames_in_flight_frees_every_block():
    d = emac(rx_ring=6, tx_ring=8)
    b = zcpool.alloc(zcpool.H_TX)
    h = zcpool.alloc_hdr(zcpool.H_TX)
    try:
        zcpool.block(b)[0:200] = frame(PEER, 1, 200)
        d.stall(True)                                           # a slow EMAC
        for i in range(6):
            assert d.tx(2, [h, 0, 14, b, 14, 186], i) == 0
        assert d.tx_reap(array.array("i", [0] * 8)) == 0       # handed over, nothing done
        for i in range(4):
            assert d.inject(frame(ME, i, 90)) == 0
        d.stall(False)
        d.model_run(5)                                         # some finish, some do not
        assert zcpool.refcnt(b) > 1 and zcpool.refcnt(h) > 1
        ms0 = d.model_stats()
    finally:
        d.close()
    try:
        assert zcpool.refcnt(b) == 1 and zcpool.refcnt(h) == 1, "close() kept TX references"
        assert zcpool.held(zcpool.H_RXPOST) == 0
    finally:
        zcpool.free(b)
        zcpool.free(h)
    check_closed_baseline()
    sent = len(take_all(d))
    assert 0 < sent < 6, sent
    assert ms0["tx_packets"] == sent


def test_host_error_recovery_no_leak():
    d = emac(rx_ring=4, tx_ring=8)
    try:
        d.fault("bus_error", 1000000)
        fr = frame(PEER, 1, 100)
        assert d.tx(1, [fr, 0, 100], 1) == 0
        out = array.array("i", [0] * 8)
        got = reap_all(d, 1, rounds=10)
        assert got == [1], got                                  # the cookie comes back
        d.fault("bus_error", 0)
        st = d.stats()
        ms = d.model_stats()
        assert ms["host_errors"] >= 1 and ms["bus_errors"] >= 1
        assert st["host_errors"] >= 1 and st["recoveries"] == st["host_errors"], st
        assert st["recovered_tx"] == 1 and st["tx_errors"] == 1 and st["tx_frames"] == 0
        assert d.model_stats()["host_error"] == 0              # cleared by the soft reset
        assert zcpool.held(zcpool.H_RXPOST) == 4 and at_baseline()
        # and it works again, both ways
        assert d.tx(1, [fr, 0, 100], 2) == 0
        assert reap_all(d, 1) == [2]
        assert take_all(d) == [fr]
        for i in range(6):
            assert d.inject(frame(ME, i, 70)) == 0
        assert [seq_of(f, 0) for f in rx_all(d, 6)] == list(range(6))
        del out
    finally:
        d.close()
    check_closed_baseline()


def test_host_error_during_traffic_random():
    d = emac(rx_ring=4, tx_ring=8, seed=3)
    try:
        d.fault("bus_error", 20000)
        cookies = []
        for i in range(300):
            d.inject(frame(ME, i, 70))
            fr = frame(PEER, i, 70)
            while d.tx(1, [fr, 0, 70], i) == errno.ENOBUFS:
                cookies += reap_all(d, 1, rounds=1)
            rx_all(d, 1, rounds=1)
            cookies += reap_all(d, 1, rounds=1)
        d.fault("bus_error", 0)
        cookies += reap_all(d, 300 - len(cookies))
        rx_all(d, 300, rounds=20)
        take_all(d)
        assert cookies == list(range(300))
        st = d.stats()
        assert st["host_errors"] > 0 and st["recoveries"] == st["host_errors"]
        assert st["tx_frames"] + st["recovered_tx"] == 300, st
        assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


def test_link_flap_lan8710a():
    d = emac(rx_ring=4, phy="lan8710a")
    try:
        assert d.link() == (True, 100, True)
        d.link_set(False)
        assert d.link()[0] is False
        for i in range(3):
            assert d.inject(frame(ME, i, 64)) == 0
        assert rx_all(d, 3, rounds=10) == []
        fr = frame(PEER, 9, 64)
        assert d.tx(1, [fr, 0, 64], 9) == 0
        assert reap_all(d, 1) == [9]                             # completes, no carrier
        assert take_all(d) == []
        ms = d.model_stats()
        assert ms["rx_link_down"] == 3 and ms["tx_no_carrier"] == 1
        d.link_set(True)
        assert d.link() == (True, 100, True)
        assert d.stats()["link_changes"] == 2
        for i in range(3):
            assert d.inject(frame(ME, 10 + i, 64)) == 0
        assert [seq_of(f, 0) for f in rx_all(d, 3)] == [10, 11, 12]
        model_clean(d)
        assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


def test_link_flap_fault_accounts_every_frame():
    d = emac(rx_ring=4, phy="lan8710a", seed=11)
    try:
        d.fault("link_flap", 20000)
        got = []
        for i in range(400):
            assert d.inject(frame(ME, i, 64)) == 0
            got += rx_all(d, 1, rounds=1)
            if i % 25 == 0:
                d.link()
        got += rx_all(d, 400, rounds=50)
        ms = d.model_stats()
        assert d.faults()["link_flap"] > 0 and ms["link_downs"] == d.faults()["link_flap"]
        assert len(got) + ms["rx_link_down"] == 400, (len(got), ms["rx_link_down"])
        seqs = [seq_of(f, 0) for f in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert at_baseline()
    finally:
        d.close()
    check_closed_baseline()


def test_phy_kinds():
    for phy in ("none", "ksz8893", "lan8710a"):
        d = emac(rx_ring=2, tx_ring=2, phy=phy)
        try:
            assert d.link() == (True, 100, True), phy
            if phy != "none":
                assert d.model_stats()["mdio_accesses"] >= 2
            assert d.stats()["mdio_timeouts"] == 0
        finally:
            d.close()
    check_closed_baseline()


def _main():
    g = globals()
    names = [n for n in g if n.startswith("test_")]
    failed = 0
    for n in names:
        try:
            g[n]()
            print("PASS", n)
        except Exception as e:
            failed += 1
            print("FAIL %s: %r" % (n, e))
            sys.print_exception(e)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    _main()
