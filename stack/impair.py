# The impairment layer: a driver wrapper that loses, duplicates, reorders,
# corrupts and delays frames, seeded and reproducible, independently per
# direction. This kernel has no netem; the layer sits between ANY driver
# (zctap.TAP, memif, a DMA MAC) and the stack, and keeps the driver contract
# of docs/internals.md exactly, so neither the netif nor the stack knows it
# is there:
#
#     drv = Impair(zctap.TAP(...), seed=7, rx_loss=10, tx_loss=10)
#     st = Stack(drv, mac, ip)
#
# Rates are percentages (int or float) kept as parts per 10000, so 0.01 % is
# the finest grain (1 % duplication is 100/10000). Time is the stack's ticks
# clock: the core hands it over in every poll (`set_now`), and its poll
# deadline includes `next_deadline()`, so a held frame comes out on time even
# when the driver's fd is quiet.
#
# RX (frames the inner driver hands up, in pool blocks charged to H_RX):
#   loss      the block is freed;
#   corrupt   one byte past the Ethernet header is flipped, in place (the
#             block is ours alone);
#   dup       a second block (pool.alloc(H_RX)) gets a copy: the wire's doing,
#             counted in impair_copied_bytes, not pbuf.copied();
#   delay     the block waits in a FIFO delay line (IMPAIR_HOLD_FRAMES at
#             most; a frame arriving at a full line is dropped, counted
#             impair_rx_overflow) for delay + jitter ms (jitter never reorders);
#   reorder   at the line's exit, a frame is held back in the "pen" until 1..
#             REORDER_GAP later frames went past it, or REORDER_MS passed.
#   A held or duplicated frame never eats the RX reserve: with the pool at
#   the reserve the frame is delivered at once (impair_rx_short).
# TX (frames the stack queues with tx()):
#   loss      the frame completes (its cookie comes back at tx_reap, in
#             order) without reaching the inner driver;
#   corrupt   the frame is copied into a fresh H_TX block (counted) and one
#             byte of the copy flipped: a block others reference is never
#             written;
#   dup       the inner driver gets the frame twice (same references, two
#             inner cookies, one cookie reported);
#   delay, reorder as on RX; while held, the layer keeps the gather entries
#             and a pool.ref on each block (objects stay reachable in its
#             table), and drops them once the inner driver took its own.
#   Cookies come back in tx() order. tx_room() is the layer's own ring (the
#   inner ring's size at start): back-pressure works through the layer.
#
# Nothing on the per-frame path makes an int >= 2^30 (xorshift32 on 16-bit
# halves) or allocates (preallocated tables, Viper byte copy).
import errno

from . import config
from .counters import IMPAIR_SCHEMA
from .memif import check_gather
from .pool import pool
from .wire import TICKS_MAX, copy_field, ticks_add, ticks_diff

SCALE = 10000                   # rates are parts per SCALE (0.01 % steps)
_ETH_HLEN = 14
_FO = pool.FRAME_OFFSET
_FLIP = 0xA5                    # XORed into the chosen byte (never 0: always a change)

_SHARED = ("tx_ring_full",)     # contract counters the layer adds to the inner's


def _rate(pct):
    """A percentage (int/float, 0..100) as parts per SCALE."""
    r = int(pct * (SCALE // 100) + 0.5)
    if r < 0 or r > SCALE:
        raise ValueError("rate out of 0..100 %")
    return r


class _Rng:
    """xorshift32 (13, 17, 5) on two 16-bit halves: no int ever reaches 2^30."""

    def __init__(self, seed, salt_hi, salt_lo):
        seed &= 0xFFFFFFFF
        self.h = ((seed >> 16) ^ salt_hi) & 0xFFFF
        self.l = (seed & 0xFFFF) ^ salt_lo
        if not (self.h | self.l):
            self.l = 1
        for _ in range(4):
            self.step()

    def step(self):
        """Advance; returns the high half (16 bits)."""
        h = self.h
        l = self.l
        h ^= ((h << 13) | (l >> 3)) & 0xFFFF      # x ^= x << 13
        l ^= (l << 13) & 0xFFFF
        l ^= h >> 1                               # x ^= x >> 17
        h ^= ((h << 5) | (l >> 11)) & 0xFFFF      # x ^= x << 5
        l ^= (l << 5) & 0xFFFF
        self.h = h
        self.l = l
        return h

    def below(self, n):
        """A draw in [0, n), n <= 16384 (so h * n < 2^30)."""
        return (self.step() * n) >> 16


class _Dir:
    """One direction's knobs, generator, delay line and reorder pen."""

    def __init__(self, seed, salt, loss, dup, reorder, corrupt, delay, jitter, hold):
        self.rng = _Rng(seed, salt[0], salt[1])
        self.loss = _rate(loss)
        self.dup = _rate(dup)
        self.reorder = _rate(reorder)
        self.corrupt = _rate(corrupt)
        if delay < 0 or jitter < 0 or delay + jitter >= 1 << 28:
            raise ValueError("bad delay/jitter")
        self.delay = int(delay)
        self.jitter = int(jitter)
        self.on = bool(self.loss or self.dup or self.reorder or self.corrupt
                       or self.delay or self.jitter)
        # delay line: a FIFO ring of `hold` entries (RX: block, len, flags;
        # TX: the layer's slot), each with its due time
        self.hold = hold
        self.q_a = [0] * hold
        self.q_b = [0] * hold
        self.q_c = [0] * hold
        self.q_due = [0] * hold
        self.q_head = 0
        self.q_n = 0
        self.last_due = 0
        # the pen: one frame held back for reordering
        self.pen = False
        self.pen_a = 0
        self.pen_b = 0
        self.pen_c = 0
        self.pen_left = 0
        self.pen_over = 0       # frames that overtook it so far
        self.pen_due = 0

    def draw(self, rate):
        """True with probability rate/SCALE; draws only for a rate > 0, so a
        knob at zero leaves the others' sequences as they were."""
        return rate > 0 and self.rng.below(SCALE) < rate

    def due(self, now):
        """When a frame entering now leaves the delay line (FIFO: never
        before the one ahead of it)."""
        d = self.delay
        if self.jitter:
            d += self.rng.below(self.jitter + 1)
        t = ticks_add(now, d)
        if self.q_n and ticks_diff(t, self.last_due) < 0:
            t = self.last_due
        return t

    def push(self, a, b, c, due):
        i = self.q_head + self.q_n
        if i >= self.hold:
            i -= self.hold
        self.q_a[i] = a
        self.q_b[i] = b
        self.q_c[i] = c
        self.q_due[i] = due
        self.q_n += 1
        self.last_due = due

    def pop(self):
        i = self.q_head
        self.q_head = i + 1 if i + 1 < self.hold else 0
        self.q_n -= 1
        return i

    def head_due(self, now):
        return self.q_n > 0 and ticks_diff(now, self.q_due[self.q_head]) >= 0

    def gap(self):
        return 1 + self.rng.below(config.IMPAIR_REORDER_GAP)

    def hold_back(self, a, now):
        """Hold back frame `a` (RX: block; TX: slot) until 1..GAP frames
        overtook it or IMPAIR_REORDER_MS passed."""
        self.pen = True
        self.pen_a = a
        self.pen_left = self.gap()
        self.pen_over = 0
        self.pen_due = ticks_add(now, config.IMPAIR_REORDER_MS)

    def deadline(self, best):
        """The earlier of best (or None) and this direction's next due time."""
        if self.q_n:
            t = self.q_due[self.q_head]
            if best is None or ticks_diff(t, best) < 0:
                best = t
        if self.pen:
            t = self.pen_due
            if best is None or ticks_diff(t, best) < 0:
                best = t
        return best


# TX slot states
_FREE = 0
_HELD = 1       # in the delay line or the pen: the layer holds its entries
_INNER = 2      # handed to the inner driver; waiting for its cookie(s)
_DONE = 3       # finished; the cookie goes out at the next tx_reap


class Impair:
    """Wrap `drv` (any driver of the contract). Keyword arguments, per
    direction (rx_*, tx_*): loss, dup, reorder, corrupt (percent), delay,
    jitter (ms); seed (any int, 32 bits used); hold: frames each delay line
    keeps at most (default config.IMPAIR_HOLD_FRAMES)."""

    def __init__(self, drv, seed=1, rx_loss=0, rx_dup=0, rx_reorder=0, rx_corrupt=0,
                 rx_delay=0, rx_jitter=0, tx_loss=0, tx_dup=0, tx_reorder=0, tx_corrupt=0,
                 tx_delay=0, tx_jitter=0, hold=None, now_ms=0):
        if hold is None:
            hold = config.IMPAIR_HOLD_FRAMES
        if hold < 1:
            raise ValueError("hold < 1")
        self.drv = drv
        self.name = getattr(drv, "name", "impair")
        self.MAX_SEG = getattr(drv, "MAX_SEG", 16)
        self.now = now_ms & TICKS_MAX
        self.seed = seed
        self._open = True
        # bypass: new frames pass unimpaired both ways (held ones still come
        # out on time); a test sets it around set-up traffic (ARP)
        self.bypass = False
        self._ctr = {}
        for k, _ in IMPAIR_SCHEMA:
            self._ctr[k] = 0
        for k in _SHARED:
            self._ctr[k] = 0
        # RX: a scratch table for the inner driver and a small ready ring for
        # what did not fit the caller's budget (a duplicate, a released pen)
        self._rx_tmp = None
        self._ready_b = [0] * 4
        self._ready_n = [0] * 4
        self._ready_f = [0] * 4
        self._ready_head = 0
        self._ready_cnt = 0
        # TX: the layer's ring (cookie order), as big as the inner ring
        cap = drv.tx_room()
        if cap < 1:
            raise ValueError("inner driver has no TX room")
        self.cap = cap
        # per direction: knobs, generator, delay line (RX: `hold` frames; TX:
        # every slot of the ring may wait in it), reorder pen
        self.rx = _Dir(seed, (0x6A09, 0xE667), rx_loss, rx_dup, rx_reorder, rx_corrupt,
                       rx_delay, rx_jitter, hold)
        self.tx_d = _Dir(seed, (0xBB67, 0xAE85), tx_loss, tx_dup, tx_reorder, tx_corrupt,
                         tx_delay, tx_jitter, cap)
        seg = self.MAX_SEG
        self._st = [_FREE] * cap
        self._cookie = [0] * cap
        self._pend = [0] * cap          # inner cookies still out (2 for a duplicate)
        self._nseg = [0] * cap
        self._dupf = [False] * cap
        self._copy = [-1] * cap         # the corrupted copy's block, owned by the slot
        self._tab = [[None] * (3 * seg) for _ in range(cap)]
        self._head = 0
        self._count = 0
        self._reap_sized = {}
        self._reap_tmp = [0] * (2 * cap)
        try:
            from array import array
            self._reap_tmp = array("i", self._reap_tmp)
        except ImportError:
            pass

    def __repr__(self):
        return "<Impair seed=%d over %r>" % (self.seed, self.drv)

    def _live(self):
        if not self._open:
            raise OSError(errno.EBADF)

    # ---- clock --------------------------------------------------------------
    def set_now(self, now_ms):
        """The stack's ticks time (the core calls this in every poll)."""
        self.now = now_ms & TICKS_MAX

    def next_deadline(self):
        """The ticks time by which a held frame wants a poll, or None."""
        if self._ready_cnt or (self.tx_d.pen and self.tx_d.pen_left <= 0):
            return self.now         # waiting only for the next poll
        t = self.rx.deadline(None)
        return self.tx_d.deadline(t)

    # ---- RX -------------------------------------------------------------------
    def _pool_short(self):
        """True when holding one more block would eat the RX reserve."""
        return pool.nfree() <= config.POOL_RESERVE_RX_BLOCKS

    def _emit(self, b, n, f, out, got, budget):
        """Deliver one frame: into out, or the ready ring when out is full."""
        if got < budget:
            j = 3 * got
            out[j] = b
            out[j + 1] = n
            out[j + 2] = f
            return got + 1
        if self._ready_cnt >= 4:         # cannot happen (at most 2 spill per call)
            pool.free(b)
            self._ctr["impair_rx_overflow"] += 1
            return got
        i = self._ready_head + self._ready_cnt
        if i >= 4:
            i -= 4
        self._ready_b[i] = b
        self._ready_n[i] = n
        self._ready_f[i] = f
        self._ready_cnt += 1
        return got

    def _rx_exit(self, b, n, f, out, got, budget):
        """A frame leaves the delay line: the reorder stage, then delivery."""
        d = self.rx
        if not d.pen and d.reorder and d.draw(d.reorder):
            if self._pool_short():
                self._ctr["impair_rx_short"] += 1
            else:
                d.hold_back(b, self.now)
                d.pen_b = n
                d.pen_c = f
                return got
        got = self._emit(b, n, f, out, got, budget)
        if d.pen:
            d.pen_left -= 1
            d.pen_over += 1
            if d.pen_left <= 0:
                d.pen = False
                self._ctr["impair_rx_reordered"] += 1
                got = self._emit(d.pen_a, d.pen_b, d.pen_c, out, got, budget)
        return got

    def _rx_enter(self, b, n, f, out, got, budget):
        """A frame from the wire (or its duplicate) enters the delay line."""
        d = self.rx
        if d.delay or d.jitter or d.q_n:
            t = d.due(self.now)
            if d.q_n or ticks_diff(t, self.now) > 0:
                if d.q_n >= d.hold:
                    pool.free(b)                    # tail drop, as a full queue does
                    self._ctr["impair_rx_overflow"] += 1
                    return got
                if self._pool_short():
                    self._ctr["impair_rx_short"] += 1
                else:
                    d.push(b, n, f, t)
                    self._ctr["impair_rx_delayed"] += 1
                    return got
        return self._rx_exit(b, n, f, out, got, budget)

    def _rx_frame(self, b, n, f, out, got, budget):
        """Impair one frame the inner driver handed up."""
        d = self.rx
        ctr = self._ctr
        if self.bypass:
            return self._emit(b, n, f, out, got, budget)
        if d.loss and d.draw(d.loss):
            pool.free(b)
            ctr["impair_rx_lost"] += 1
            return got
        if d.corrupt and d.draw(d.corrupt) and n > _ETH_HLEN:
            at = _FO + _ETH_HLEN + d.rng.below(n - _ETH_HLEN)
            blk = pool.block(b)
            blk[at] = blk[at] ^ _FLIP
            ctr["impair_rx_corrupted"] += 1
        b2 = -1
        if d.dup and d.draw(d.dup):
            if not self._pool_short():
                b2 = pool.alloc(pool.H_RX)
            if b2 < 0:
                ctr["impair_rx_short"] += 1
            else:
                copy_field(pool.block(b2), _FO, pool.block(b), _FO, n)
                ctr["impair_rx_dup"] += 1
                ctr["impair_copied_bytes"] += n
        got = self._rx_enter(b, n, f, out, got, budget)
        if b2 >= 0:
            got = self._rx_enter(b2, n, f, out, got, budget)
        return got

    def rx_poll(self, budget, out):
        self._live()
        d = self.rx
        if (self.bypass or not d.on) and not d.q_n and not d.pen and not self._ready_cnt:
            return self.drv.rx_poll(budget, out)      # nothing to do: the inner's own
        if budget < 0:
            raise ValueError("budget < 0")
        if budget > len(out) // 3:
            raise ValueError("out shorter than 3*budget")
        if budget == 0:
            return 0
        got = 0
        # what did not fit last time
        while self._ready_cnt and got < budget:
            i = self._ready_head
            got = self._emit(self._ready_b[i], self._ready_n[i], self._ready_f[i],
                             out, got, budget)
            self._ready_head = i + 1 if i < 3 else 0
            self._ready_cnt -= 1
        if self._ready_cnt:
            return got
        now = self.now
        # the delay line's due frames, then a pen whose time is up
        while got < budget and d.head_due(now):
            i = d.pop()
            got = self._rx_exit(d.q_a[i], d.q_b[i], d.q_c[i], out, got, budget)
        if d.pen and ticks_diff(now, d.pen_due) >= 0:
            d.pen = False
            if d.pen_over:
                self._ctr["impair_rx_reordered"] += 1
            got = self._emit(d.pen_a, d.pen_b, d.pen_c, out, got, budget)
        if got >= budget or self._ready_cnt:
            return got
        # new frames: each may become up to 3 deliveries (itself, a duplicate,
        # the pen); what does not fit waits in the ready ring
        per = 1 + (1 if d.dup else 0) + (1 if d.reorder else 0)
        want = (budget - got) // per
        if want < 1:
            want = 1
        tmp = self._rx_tmp
        if tmp is None or len(tmp) < 3 * want:
            from array import array
            tmp = self._rx_tmp = array("i", [0] * (3 * (want if want > 8 else 8)))
        n = self.drv.rx_poll(want, tmp)
        for k in range(n):
            j = 3 * k
            got = self._rx_frame(tmp[j], tmp[j + 1], tmp[j + 2], out, got, budget)
        return got

    # ---- TX -------------------------------------------------------------------
    def _check(self, n, gather):
        """The contract's validation (ValueError, nothing taken): memif's, the
        one every Python driver shares. Returns the frame length."""
        return check_gather(n, gather, self.MAX_SEG)

    def _refs_fit(self, n, g, times):
        """True when `times` more refs per block entry fit the 8-bit counts."""
        for k in range(n):
            b = g[3 * k]
            if isinstance(b, int):
                uses = 0
                for i in range(n):
                    c = g[3 * i]
                    if isinstance(c, int) and c == b:
                        uses += 1
                if pool.refcnt(b) + times * uses > 255:
                    return False
        return True

    def _slot_release(self, s):
        """Drop what slot s holds itself (refs, objects, its copy)."""
        tab = self._tab[s]
        if self._st[s] == _HELD and self._copy[s] < 0:
            for k in range(self._nseg[s]):
                if isinstance(tab[3 * k], int):
                    pool.free(tab[3 * k])
        for j in range(3 * self._nseg[s]):
            tab[j] = None
        self._nseg[s] = 0
        if self._copy[s] >= 0:
            pool.free(self._copy[s])
            self._copy[s] = -1

    def _corrupt_copy(self, s, n, gather, total):
        """Copy the frame into a fresh H_TX block, flip one byte of the copy
        past the Ethernet header; the slot's gather becomes that block.
        False when no block (the frame goes out unharmed, counted)."""
        if total <= _ETH_HLEN:
            return False
        c = pool.alloc(pool.H_TX)
        if c < 0:
            self._ctr["impair_tx_short"] += 1
            return False
        dst = pool.block(c)
        at = _FO
        for k in range(n):
            j = 3 * k
            buf = gather[j]
            if isinstance(buf, int):
                buf = pool.block(buf)
            ln = gather[j + 2]
            copy_field(dst, at, buf, gather[j + 1], ln)
            at += ln
        x = _FO + _ETH_HLEN + self.tx_d.rng.below(total - _ETH_HLEN)
        dst[x] = dst[x] ^ _FLIP
        self._copy[s] = c
        tab = self._tab[s]
        tab[0] = c
        tab[1] = _FO
        tab[2] = total
        self._nseg[s] = 1
        self._ctr["impair_tx_corrupted"] += 1
        self._ctr["impair_copied_bytes"] += total
        return True

    def _to_inner(self, s):
        """Hand held slot s to the inner driver (once, or twice for a
        duplicate), then drop what the layer held for it. False when the
        inner ring lacks room (nothing done)."""
        drv = self.drv
        need = 2 if self._dupf[s] else 1
        if drv.tx_room() < need:
            return False
        n = self._nseg[s]
        tab = self._tab[s]
        self._pend[s] = 0
        try:
            drv.tx(n, tab, s)
            self._pend[s] = 1
            if need == 2:
                drv.tx(n, tab, s + self.cap)
                self._pend[s] = 2
        except ValueError:
            # the inner refused what the layer validated (a driver with
            # stricter rules): the frame completes, never wedges the ring
            self._ctr["impair_tx_short"] += 1
        self._slot_release(s)               # the inner holds its own refs now
        self._st[s] = _INNER if self._pend[s] else _DONE
        return True

    def _tx_exit(self, s):
        """Slot s leaves the delay line: reorder stage, then the inner driver.
        False when the inner ring is full (s stays at the line's head)."""
        d = self.tx_d
        if not d.pen and d.reorder and not self.bypass and d.draw(d.reorder):
            d.hold_back(s, self.now)
            return True
        if not self._to_inner(s):
            return False
        if d.pen:
            d.pen_left -= 1
            d.pen_over += 1
            if d.pen_left <= 0:
                self._pen_out(d)
        return True

    def _pen_out(self, d):
        """The TX pen's frame goes to the inner driver (when it has room);
        counted as reordered when a later frame overtook it."""
        if self._to_inner(d.pen_a):
            d.pen = False
            if d.pen_over:
                self._ctr["impair_tx_reordered"] += 1

    def _pump(self):
        """Move due frames from the delay line (and a pen whose gap is done
        or whose time is up) to the inner driver while it has room."""
        d = self.tx_d
        now = self.now
        if d.pen and (d.pen_left <= 0 or ticks_diff(now, d.pen_due) >= 0):
            self._pen_out(d)
        while d.head_due(now):
            if not self._tx_exit(d.q_a[d.q_head]):
                return
            d.pop()

    def tx(self, n, gather, cookie):
        self._live()
        total = self._check(n, gather)
        if not self._refs_fit(n, gather, 1):
            raise ValueError("gather: block refcount saturated")
        if self._count >= self.cap:
            self._ctr["tx_ring_full"] += 1
            return errno.ENOBUFS
        cap = self.cap
        s = self._head + self._count
        if s >= cap:
            s -= cap
        d = self.tx_d
        if (self.bypass or not d.on) and not d.q_n and not d.pen:
            # nothing impaired, nothing held: straight to the inner driver
            # (the inner ring has room: it holds at most our other frames)
            err = self.drv.tx(n, gather, s)
            if err:
                return err
            self._st[s] = _INNER
            self._pend[s] = 1
        else:
            ctr = self._ctr
            self._pend[s] = 0
            self._dupf[s] = False
            copied = False
            if self.bypass:
                pass
            elif d.loss and d.draw(d.loss):
                self._st[s] = _DONE                 # completes, never sent
                ctr["impair_tx_lost"] += 1
                self._cookie[s] = cookie
                self._count += 1
                return 0
            else:
                copied = bool(d.corrupt and d.draw(d.corrupt)
                              and self._corrupt_copy(s, n, gather, total))
                if d.dup and d.draw(d.dup):
                    # the inner takes two refs per entry, the layer one
                    if copied or self._refs_fit(n, gather, 3):
                        self._dupf[s] = True
                        ctr["impair_tx_dup"] += 1
                    else:
                        ctr["impair_tx_short"] += 1
            if not copied:
                if not self._refs_fit(n, gather, 2):
                    # no room for the layer's own refs: straight through
                    # when nothing waits, else completed unsent
                    ctr["impair_tx_short"] += 1
                    if d.q_n or d.pen:
                        self._st[s] = _DONE
                        self._cookie[s] = cookie
                        self._count += 1
                        return 0
                    err = self.drv.tx(n, gather, s)
                    if err:
                        return err
                    self._st[s] = _INNER
                    self._pend[s] = 1
                    self._cookie[s] = cookie
                    self._count += 1
                    return 0
                tab = self._tab[s]
                for j in range(3 * n):
                    tab[j] = gather[j]
                self._nseg[s] = n
                for k in range(n):              # the layer's hold on the blocks
                    if isinstance(tab[3 * k], int):
                        pool.ref(tab[3 * k])
            self._st[s] = _HELD
            now = self.now
            if self.bypass:
                t = d.last_due if d.q_n else now
            elif d.delay or d.jitter or d.q_n:
                t = d.due(now)
            else:
                t = now
            if ticks_diff(t, now) > 0 and not self.bypass:
                ctr["impair_tx_delayed"] += 1
            d.push(s, 0, 0, t)
        self._cookie[s] = cookie
        self._count += 1
        if d.q_n or d.pen:
            self._pump()
        return 0

    def tx_room(self):
        self._live()
        return self.cap - self._count

    def _inner_reap(self, tmp):
        cap = self.cap
        m = self.drv.tx_reap(tmp)
        for k in range(m):
            c = tmp[k]
            s = c - cap if c >= cap else c
            if 0 <= s < cap and self._st[s] == _INNER:
                self._pend[s] -= 1
                if self._pend[s] <= 0:
                    self._st[s] = _DONE
        return m

    def _report(self, out, m):
        """Cookies of finished frames at the ring's head into out[m:]."""
        cap = self.cap
        while self._count and m < len(out):
            s = self._head
            if self._st[s] != _DONE:
                break
            out[m] = self._cookie[s]
            m += 1
            self._slot_release(s)
            self._st[s] = _FREE
            self._head = s + 1 if s + 1 < cap else 0
            self._count -= 1
        return m

    def tx_reap(self, out):
        self._live()
        d = self.tx_d
        m = self._report(out, 0)
        if m >= len(out):
            return m
        if not d.on and not d.q_n and not d.pen:
            # nothing impaired: the inner finishes exactly as many frames as
            # out has room for, so no block is let go before its cookie is
            # reported (an array per size asked, made once)
            k = len(out) - m
            tmp = self._reap_sized.get(k)
            if tmp is None:
                from array import array
                tmp = self._reap_sized[k] = array("i", [0] * k)
            self._inner_reap(tmp)
            return self._report(out, m)
        self._pump()
        self._inner_reap(self._reap_tmp)
        if d.q_n or d.pen:
            self._pump()            # room freed: what is due goes now
            self._inner_reap(self._reap_tmp)
        return self._report(out, m)

    # ---- status -----------------------------------------------------------------
    def link(self):
        self._live()
        return self.drv.link()

    def stats(self):
        self._live()
        st = self.drv.stats()
        for k in self._ctr:
            st[k] = st.get(k, 0) + self._ctr[k]
        return st

    def fileno(self):
        self._live()
        return self.drv.fileno()

    def close(self):
        """Free every block the layer holds, then close the inner driver
        (which returns its posted and queued blocks). Idempotent."""
        if not self._open:
            return
        d = self.rx
        while d.q_n:
            pool.free(d.q_a[d.pop()])
        if d.pen:
            pool.free(d.pen_a)
            d.pen = False
        while self._ready_cnt:
            pool.free(self._ready_b[self._ready_head])
            self._ready_head = self._ready_head + 1 if self._ready_head < 3 else 0
            self._ready_cnt -= 1
        t = self.tx_d
        t.q_n = 0
        t.pen = False
        for s in range(self.cap):
            if self._st[s] != _FREE:
                self._slot_release(s)
                self._st[s] = _FREE
        self._count = 0
        self.drv.close()
        self._open = False


def from_config(drv, now_ms=0):
    """`drv` wrapped as config's IMPAIR_* knobs say, or drv itself when they
    are all zero (the layer is not inserted at all)."""
    c = config
    kw = {"rx_loss": c.IMPAIR_RX_LOSS_PCT, "tx_loss": c.IMPAIR_TX_LOSS_PCT,
          "rx_dup": c.IMPAIR_RX_DUP_PCT, "tx_dup": c.IMPAIR_TX_DUP_PCT,
          "rx_reorder": c.IMPAIR_RX_REORDER_PCT, "tx_reorder": c.IMPAIR_TX_REORDER_PCT,
          "rx_corrupt": c.IMPAIR_RX_CORRUPT_PCT, "tx_corrupt": c.IMPAIR_TX_CORRUPT_PCT,
          "rx_delay": c.IMPAIR_RX_DELAY_MS, "tx_delay": c.IMPAIR_TX_DELAY_MS,
          "rx_jitter": c.IMPAIR_RX_JITTER_MS, "tx_jitter": c.IMPAIR_TX_JITTER_MS}
    if not any(kw[k] for k in kw):
        return drv
    return Impair(drv, seed=c.IMPAIR_SEED, now_ms=now_ms, **kw)
