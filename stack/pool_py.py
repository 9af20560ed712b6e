# Pure-Python twin of the C `zcpool` module (drivers/pool/zcpool.c), same
# interface and rules, for the CPython unit lane. Blocks are bytearrays with
# a memoryview each, made once. Two classes in one index space: frame blocks
# 0 .. NBLOCKS-1, header blocks NBLOCKS .. NBLOCKS+HNBLOCKS-1.
NBLOCKS = 128
BLOCK_SIZE = 1600
FRAME_OFFSET = 2
HNBLOCKS = 256
HDR_SIZE = 128
NTOTAL = NBLOCKS + HNBLOCKS
(H_RXPOST, H_RX, H_REASM, H_ARPQ, H_UDP, H_TCP, H_TX, H_APP) = range(8)
NHOLDERS = 8

_arena = [bytearray(BLOCK_SIZE) for _ in range(NBLOCKS)] + \
    [bytearray(HDR_SIZE) for _ in range(HNBLOCKS)]
_views = tuple(memoryview(b) for b in _arena)
_refcnt = [0] * NTOTAL
_holder = [0] * NTOTAL


class _Class:
    """Free list and per-holder accounting of one block class."""

    def __init__(self, first, count):
        self.count = count
        # pop() takes the lowest index first, like the C list (LIFO).
        self.free = list(range(first + count - 1, first - 1, -1))
        self.held = [0] * NHOLDERS
        self.quota = [count] * NHOLDERS
        self.fail = [0] * NHOLDERS


_frame = _Class(0, NBLOCKS)
_hdr = _Class(NBLOCKS, HNBLOCKS)
_state = {"reserve": NBLOCKS // 8, "bad_free": 0, "bad_ref": 0}


def _idx(i):
    if not (0 <= i < NTOTAL):
        raise ValueError("bad block index")
    return i


def _hold(h):
    if not (0 <= h < NHOLDERS):
        raise ValueError("bad holder")
    return h


def _cls(i):
    return _hdr if i >= NBLOCKS else _frame


def _take(c, holder, floor):
    if len(c.free) <= floor or c.held[holder] >= c.quota[holder]:
        c.fail[holder] += 1
        return -1
    i = c.free.pop()
    _refcnt[i] = 1
    _holder[i] = holder
    c.held[holder] += 1
    return i


def alloc(holder):
    _hold(holder)
    return _take(_frame, holder, 0 if holder in (H_RXPOST, H_RX) else _state["reserve"])


def alloc_hdr(holder):
    """A header block (index >= NBLOCKS) charged to holder, or -1."""
    return _take(_hdr, _hold(holder), 0)


def is_hdr(i):
    return _idx(i) >= NBLOCKS


def readonly(obj):
    """Storage nobody can change: bytes, or a read-only view (of bytes)."""
    return type(obj) is bytes or (type(obj) is memoryview and obj.readonly)


def ref(i):
    _idx(i)
    if _refcnt[i] == 0:
        _state["bad_ref"] += 1
        raise ValueError("ref of a free block")
    if _refcnt[i] >= 255:  # the C pool's counts are 8-bit
        _state["bad_ref"] += 1
        raise ValueError("block refcount saturated")
    _refcnt[i] += 1
    return _refcnt[i]


def free(i):
    _idx(i)
    if _refcnt[i] == 0:
        _state["bad_free"] += 1
        raise ValueError("free of a free block")
    _refcnt[i] -= 1
    if _refcnt[i]:
        return _refcnt[i]
    c = _cls(i)
    c.held[_holder[i]] -= 1
    c.free.append(i)
    return 0


def move(i, holder):
    _idx(i)
    _hold(holder)
    if _refcnt[i] == 0:
        return False
    if _holder[i] == holder:
        return True
    c = _cls(i)
    rx = (H_RXPOST, H_RX)
    # Only frame blocks come from RX, so only they have the reserve rule; a TX
    # ring hold is transient (back at the next reap): only keepers that hold
    # blocks for long (queues, reassembly) may not eat the RX reserve.
    leaves_rx = c is _frame and _holder[i] in rx and holder not in rx and holder != H_TX
    if c.held[holder] >= c.quota[holder] or (leaves_rx and len(c.free) < _state["reserve"]):
        c.fail[holder] += 1
        return False
    c.held[_holder[i]] -= 1
    c.held[holder] += 1
    _holder[i] = holder
    return True


def block(i):
    return _views[_idx(i)]


def blocks():
    return _views


def refcnt(i):
    return _refcnt[_idx(i)]


def holder(i):
    return _holder[_idx(i)] if _refcnt[i] else -1


def held(h):
    return _frame.held[_hold(h)]


def hheld(h):
    return _hdr.held[_hold(h)]


def room(h):
    """Frame blocks the holder may still take before its quota."""
    return max(0, _frame.quota[_hold(h)] - _frame.held[h])


def hroom(h):
    """Header blocks the holder may still take before its header quota."""
    return max(0, _hdr.quota[_hold(h)] - _hdr.held[h])


def nfree():
    return len(_frame.free)


def hnfree():
    return len(_hdr.free)


def _set_quota(c, h, n):
    if not (0 <= n <= c.count):
        raise ValueError("bad quota")
    c.quota[_hold(h)] = n


def set_quota(h, n):
    _set_quota(_frame, h, n)


def set_hquota(h, n):
    _set_quota(_hdr, h, n)


def set_reserve(n):
    if not (0 <= n <= NBLOCKS):
        raise ValueError("bad reserve")
    _state["reserve"] = n


def stats():
    return {"total": NBLOCKS, "free": len(_frame.free), "reserve": _state["reserve"],
            "held": list(_frame.held), "quota": list(_frame.quota),
            "alloc_fail": list(_frame.fail),
            "bad_free": _state["bad_free"], "bad_ref": _state["bad_ref"],
            "hdr_total": HNBLOCKS, "hdr_free": len(_hdr.free),
            "hdr_held": list(_hdr.held), "hdr_quota": list(_hdr.quota),
            "hdr_alloc_fail": list(_hdr.fail)}
