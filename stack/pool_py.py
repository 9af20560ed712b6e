# Pure-Python twin of the C `zcpool` module (drivers/pool/zcpool.c), same
# interface and rules, for the CPython unit lane. Blocks are bytearrays with
# a memoryview each, made once.
NBLOCKS = 128
BLOCK_SIZE = 1600
FRAME_OFFSET = 2
(H_RXPOST, H_RX, H_REASM, H_ARPQ, H_UDP, H_TCP, H_TX, H_APP) = range(8)
NHOLDERS = 8

_arena = [bytearray(BLOCK_SIZE) for _ in range(NBLOCKS)]
_views = tuple(memoryview(b) for b in _arena)
_refcnt = [0] * NBLOCKS
_holder = [0] * NBLOCKS
_free = list(range(NBLOCKS - 1, -1, -1))  # pop() takes block 0 first, like the C list
_held = [0] * NHOLDERS
_quota = [NBLOCKS] * NHOLDERS
_fail = [0] * NHOLDERS
_state = {"reserve": NBLOCKS // 8, "bad_free": 0}


def _idx(i):
    if not (0 <= i < NBLOCKS):
        raise ValueError("bad block index")
    return i


def _hold(h):
    if not (0 <= h < NHOLDERS):
        raise ValueError("bad holder")
    return h


def alloc(holder):
    _hold(holder)
    floor = 0 if holder in (H_RXPOST, H_RX) else _state["reserve"]
    if len(_free) <= floor or _held[holder] >= _quota[holder]:
        _fail[holder] += 1
        return -1
    i = _free.pop()
    _refcnt[i] = 1
    _holder[i] = holder
    _held[holder] += 1
    return i


def ref(i):
    _idx(i)
    if _refcnt[i] == 0:
        raise ValueError("ref of a free block")
    if _refcnt[i] >= 255:  # the C pool's counts are 8-bit
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
    _held[_holder[i]] -= 1
    _free.append(i)
    return 0


def move(i, holder):
    _idx(i)
    _hold(holder)
    if _refcnt[i] == 0:
        return False
    if _holder[i] == holder:
        return True
    rx = (H_RXPOST, H_RX)
    # a TX ring hold is transient (back at the next reap): only keepers that
    # hold blocks for long (queues, reassembly) may not eat the RX reserve
    leaves_rx = _holder[i] in rx and holder not in rx and holder != H_TX
    if _held[holder] >= _quota[holder] or (leaves_rx and len(_free) < _state["reserve"]):
        _fail[holder] += 1
        return False
    _held[_holder[i]] -= 1
    _held[holder] += 1
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
    return _held[_hold(h)]


def room(h):
    """Blocks the holder may still take before its quota."""
    return max(0, _quota[_hold(h)] - _held[h])


def nfree():
    return len(_free)


def set_quota(h, n):
    if not (0 <= n <= NBLOCKS):
        raise ValueError("bad quota")
    _quota[_hold(h)] = n


def set_reserve(n):
    if not (0 <= n <= NBLOCKS):
        raise ValueError("bad reserve")
    _state["reserve"] = n


def stats():
    return {"total": NBLOCKS, "free": len(_free), "reserve": _state["reserve"],
            "held": list(_held), "quota": list(_quota), "alloc_fail": list(_fail),
            "bad_free": _state["bad_free"]}
