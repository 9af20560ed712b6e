# memif: a MAC driver in pure Python whose wire is in memory. It keeps the
# driver contract of docs/internals.md to the letter (the same one zctap.TAP
# keeps in C), so the stack and the contract tests run on it under CPython
# and MicroPython alike:
#   - an RX ring of posted pool blocks (holder H_RXPOST); a frame is "DMA'd"
#     into the block at the ring head, the slot is refilled from the pool
#     first, and only then is the block handed up (moved to H_RX). With no
#     block to refill, the frame is dropped, the slot keeps its block and
#     `rx_no_buffer` counts it;
#   - a TX ring that `tx` only fills (one frame, refs taken) and `tx_reap`
#     drains: "transmits" (onto the wire: `sent`, or the connected peer),
#     reports cookies in order and drops the refs. Gather entries name pool
#     blocks of either class (frame or header) by index, or buffer objects.
#     A mutable buffer object (bytearray, memoryview, array) has its size,
#     and on MicroPython its address (uctypes.addressof), recorded at tx()
#     and re-checked at reap just before its bytes are read: storage that
#     moved or changed size is not sent, the frame completes anyway and
#     `tx_ref_moved` counts it (as zctap does before writev).
# The wire side: `inject(frame)` puts a frame on the RX wire queue (bounded;
# a full queue drops and counts `rx_overrun`, the one counter beyond the
# shared set); `take_sent()` returns what was transmitted. Two memifs
# `connect`ed back to back deliver to each other instead of to `sent`.
# Assembling transmitted bytes and "DMA" into RX blocks are the wire and the
# hardware, not stack copies: they do not go through pbuf.copy.
#
# fileno(): an eventfd readable while RX frames wait on the wire queue
# (CPython: os.eventfd; MicroPython unix: eventfd(2) through our C module
# `zcsys`); -1 where neither exists. A view of a pool block passed as a
# gather *object* is kept reachable but, unlike zctap, not recognised as a block (pbuf.gather names
# pool memory by block index, so the stack never does that).
import errno

from .compat import IS_MPY
from .pool import pool
from .wire import copy_field

RXF_CSUM_OK = 1
RXF_CSUM_BAD = 2

MAX_SEG = 16                                 # gather entries per frame (as zctap)
RX_MAX = pool.BLOCK_SIZE - pool.FRAME_OFFSET  # largest frame a block takes
TX_MIN = 14                                  # an Ethernet header
TX_MAX = RX_MAX

_COUNTERS = ("rx_frames", "rx_bytes", "rx_no_buffer", "rx_oversize", "rx_errors",
             "tx_frames", "tx_bytes", "tx_ring_full", "tx_errors", "tx_ref_moved",
             "rx_overrun")

NTOTAL = pool.NBLOCKS + pool.HNBLOCKS          # block indexes of both classes

# Where a buffer object's storage is (MicroPython); None: size only (CPython).
try:
    from uctypes import addressof as _addressof
except ImportError:
    _addressof = None


def _storage(buf):
    return _addressof(buf) if _addressof is not None else None


# ---- the readiness fd (stack/eventfd.py) ---------------------------------------
from . import eventfd as _efd  # noqa: E402

_efd_open = _efd.open
_efd_set = _efd.set
_efd_clear = _efd.clear
_efd_close = _efd.close


def check_gather(n, gather, max_seg):
    """The driver contract's checks of a tx() call (ValueError, nothing
    taken): the entry count, each (buf, off, len), block refcounts that the
    references to take still fit, the frame length. Returns the length."""
    if n < 1 or n > max_seg:
        raise ValueError("bad gather count")
    if 3 * n > len(gather):
        raise ValueError("gather shorter than 3*n")
    # Pass 1: validate everything; nothing is taken yet.
    total = 0
    for k in range(n):
        j = 3 * k
        buf = gather[j]
        off = gather[j + 1]
        ln = gather[j + 2]
        if off < 0 or ln < 0:
            raise ValueError("bad gather off/len")
        if isinstance(buf, int):
            if buf < 0 or buf >= NTOTAL or pool.refcnt(buf) <= 0:
                raise ValueError("gather: not a live block")
            if off + ln > len(pool.block(buf)):
                raise ValueError("gather: outside the block")
            # Every ref pass 2 takes must fit the 8-bit count.
            uses = 0
            for i in range(n):
                b = gather[3 * i]
                if isinstance(b, int) and b == buf:
                    uses += 1
            if pool.refcnt(buf) + uses > 255:
                raise ValueError("gather: block refcount saturated")
        elif off + ln > len(buf):
            raise ValueError("gather: outside the buffer")
        total += ln
    if total < TX_MIN or total > TX_MAX:
        raise ValueError("bad frame length")
    return total


class Memif:
    MAX_SEG = MAX_SEG
    def __init__(self, name="mem0", rx_ring=16, tx_ring=32, wire_queue=64):
        if not (1 <= rx_ring <= 256) or not (1 <= tx_ring <= 1024) or wire_queue < 1:
            raise ValueError("bad ring size")
        self.name = name
        self.sent = []              # transmitted frames (bytes), when not connected
        self.peer = None
        self.up = True
        self._open = True
        self._ctr = {}
        for k in _COUNTERS:
            self._ctr[k] = 0
        # Wire queue: frames waiting to be "received" (and their RX flags).
        self._wire = []
        self._wire_flags = []
        self._wire_max = wire_queue
        # RX ring: slot -> posted block (H_RXPOST), or -1 when the pool was
        # short; empty slots are reposted on the next rx_poll.
        self._rx = [-1] * rx_ring
        self._rx_head = 0
        self._rx_repost()
        # TX ring: frames [head, head+count) are queued; each slot has its own
        # preallocated gather table, so tx() allocates nothing.
        self._tx_tab = [[None] * (3 * MAX_SEG) for _ in range(tx_ring)]
        # Per entry: (size, address) of a mutable buffer object's storage as
        # tx() saw it; size -1 when there is nothing to check.
        self._tx_chk = [[-1] * (2 * MAX_SEG) for _ in range(tx_ring)]
        self._tx_nseg = [0] * tx_ring
        self._tx_cookie = [0] * tx_ring
        self._tx_head = 0
        self._tx_count = 0
        self._fd = _efd_open()
        self._fd_set = False

    def __repr__(self):
        return "<Memif %s rx_ring=%d tx_ring=%d>" % (self.name, len(self._rx), len(self._tx_tab))

    def _live(self):
        if not self._open:
            raise OSError(errno.EBADF)

    # ---- wire side (tests and connect()) -----------------------------------
    def inject(self, frame, flags=0):
        """Put one frame on the RX wire. False (counted in rx_overrun) when
        the wire queue is full; False, uncounted, when the link is down."""
        self._live()
        if not self.up:
            return False
        if len(self._wire) >= self._wire_max:
            self._ctr["rx_overrun"] += 1
            return False
        self._wire.append(bytes(frame))
        self._wire_flags.append(flags)
        self._signal()
        return True

    def take_sent(self):
        """The frames transmitted since the last call, oldest first."""
        s = self.sent
        self.sent = []
        return s

    def pending_rx(self):
        """Frames waiting on the RX wire queue."""
        return len(self._wire)

    def pending_tx(self):
        """Frames queued in the TX ring (not yet reaped)."""
        return self._tx_count

    def set_link(self, up):
        self.up = bool(up)

    def _signal(self):
        if self._fd >= 0:
            want = len(self._wire) > 0
            if want != self._fd_set:
                if want:
                    _efd_set(self._fd)
                else:
                    _efd_clear(self._fd)
                self._fd_set = want

    # ---- RX ring -----------------------------------------------------------
    def _rx_repost(self):
        ring = self._rx
        for s in range(len(ring)):
            if ring[s] < 0:
                b = pool.alloc(pool.H_RXPOST)
                if b < 0:
                    return
                ring[s] = b

    def _rx_next_slot(self):
        ring = self._rx
        n = len(ring)
        for k in range(n):
            s = (self._rx_head + k) % n
            if ring[s] >= 0:
                self._rx_head = s
                return s
        return -1

    def rx_poll(self, budget, out):
        self._live()
        if budget < 0:
            raise ValueError("budget < 0")
        if budget > len(out) // 3:
            raise ValueError("out shorter than 3*budget")
        ring = self._rx
        if -1 in ring:
            self._rx_repost()
        ctr = self._ctr
        wire = self._wire
        got = 0
        # Each iteration consumes one wire frame (delivered or dropped).
        while got < budget and wire:
            frame = wire.pop(0)
            flags = self._wire_flags.pop(0)
            n = len(frame)
            s = self._rx_next_slot()
            if s < 0:
                ctr["rx_no_buffer"] += 1    # no posted block at all
                self._rx_repost()
                continue
            self._rx_head = (s + 1) % len(ring)
            if n > RX_MAX:
                ctr["rx_oversize"] += 1     # block stays posted in its slot
                continue
            blk = ring[s]
            o = pool.FRAME_OFFSET
            # the "DMA" (wire, not a stack copy); a slice would allocate a
            # memoryview per frame on MicroPython, where the heap test looks
            if IS_MPY:
                copy_field(pool.block(blk), o, frame, 0, n)
            else:
                pool.block(blk)[o:o + n] = frame
            # Refill first; without a block, drop and recycle (never stall).
            fresh = pool.alloc(pool.H_RXPOST)
            if fresh < 0:
                ctr["rx_no_buffer"] += 1
                continue
            if not pool.move(blk, pool.H_RX):
                pool.free(fresh)            # input path at its quota: same as no buffer
                ctr["rx_no_buffer"] += 1
                continue
            ring[s] = fresh
            j = 3 * got
            out[j] = blk
            out[j + 1] = n
            out[j + 2] = flags
            got += 1
            ctr["rx_frames"] += 1
            ctr["rx_bytes"] += n
        self._signal()
        return got

    # ---- TX ring -----------------------------------------------------------
    def tx(self, n, gather, cookie):
        """Queue one frame of n gather entries (buf, off, len). 0, or
        errno.ENOBUFS when the ring is full (nothing taken). Bad input raises
        ValueError and takes nothing."""
        self._live()
        check_gather(n, gather, MAX_SEG)
        ntx = len(self._tx_tab)
        if self._tx_count >= ntx:
            self._ctr["tx_ring_full"] += 1
            return errno.ENOBUFS
        # Pass 2: take the references, fill the descriptor.
        s = (self._tx_head + self._tx_count) % ntx
        tab = self._tx_tab[s]
        chk = self._tx_chk[s]
        for j in range(3 * n):
            tab[j] = gather[j]
        for k in range(n):
            buf = tab[3 * k]
            if isinstance(buf, int):
                pool.ref(buf)
                chk[2 * k] = -1
            elif isinstance(buf, (bytes, str)):
                chk[2 * k] = -1             # immutable: cannot move
            else:
                chk[2 * k] = len(buf)
                chk[2 * k + 1] = _storage(buf)
        self._tx_nseg[s] = n
        self._tx_cookie[s] = cookie
        self._tx_count += 1
        return 0

    def tx_room(self):
        """Frames tx() would accept now."""
        self._live()
        return len(self._tx_tab) - self._tx_count

    def _tx_release(self, s):
        tab = self._tx_tab[s]
        chk = self._tx_chk[s]
        for k in range(self._tx_nseg[s]):
            j = 3 * k
            if isinstance(tab[j], int):
                pool.free(tab[j])
            tab[j] = None           # the buffer object becomes unreachable from here
            chk[2 * k] = -1
            chk[2 * k + 1] = None
        self._tx_nseg[s] = 0

    def _tx_stable(self, s):
        """True when every mutable buffer object of frame slot s still has
        the storage tx() recorded (checked just before its bytes are read)."""
        tab = self._tx_tab[s]
        chk = self._tx_chk[s]
        for k in range(self._tx_nseg[s]):
            size = chk[2 * k]
            if size < 0:
                continue
            buf = tab[3 * k]
            if len(buf) != size or _storage(buf) != chk[2 * k + 1]:
                return False
        return True

    def _tx_wire(self, s):
        """Put frame slot s on the wire: its bytes, assembled from the entries."""
        tab = self._tx_tab[s]
        frame = bytearray()
        for k in range(self._tx_nseg[s]):
            j = 3 * k
            buf = tab[j]
            if isinstance(buf, int):
                buf = pool.block(buf)
            off = tab[j + 1]
            frame.extend(buf[off:off + tab[j + 2]])
        frame = bytes(frame)
        peer = self.peer
        if peer is not None:
            if peer._open:
                peer.inject(frame)
        else:
            self.sent.append(frame)
        return len(frame)

    def tx_reap(self, out):
        """Transmit queued frames (up to len(out)), write their cookies into
        out in queue order, drop the driver's references; returns how many."""
        self._live()
        ntx = len(self._tx_tab)
        ctr = self._ctr
        m = 0
        while self._tx_count > 0 and m < len(out):
            s = self._tx_head
            if not self._tx_stable(s):
                ctr["tx_ref_moved"] += 1    # lent storage moved: not sent, completed
            elif self.up:
                ctr["tx_bytes"] += self._tx_wire(s)
                ctr["tx_frames"] += 1
            else:
                ctr["tx_errors"] += 1   # no carrier: completed anyway, never wedge
            out[m] = self._tx_cookie[s]
            m += 1
            self._tx_release(s)
            self._tx_head = (s + 1) % ntx
            self._tx_count -= 1
        return m

    # ---- status ------------------------------------------------------------
    def link(self):
        self._live()
        return (self.up, 1000, True)

    def stats(self):
        self._live()
        d = {}
        for k in _COUNTERS:
            d[k] = self._ctr[k]
        return d

    def fileno(self):
        self._live()
        return self._fd

    def close(self):
        """Return the posted RX blocks and the queued TX references to the
        pool (queued frames are not sent). Idempotent."""
        if not self._open:
            return
        ring = self._rx
        for s in range(len(ring)):
            if ring[s] >= 0:
                pool.free(ring[s])
                ring[s] = -1
        ntx = len(self._tx_tab)
        for k in range(self._tx_count):
            self._tx_release((self._tx_head + k) % ntx)
        self._tx_head = self._tx_count = 0
        self._wire = []
        self._wire_flags = []
        if self._fd >= 0:
            _efd_close(self._fd)
        self._fd = -1
        self._open = False
        if self.peer is not None:
            self.peer.peer = None
            self.peer = None


def connect(a, b):
    """Wire two memifs back to back: what one transmits, the other receives."""
    a.peer = b
    b.peer = a
