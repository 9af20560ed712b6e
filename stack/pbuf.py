# pbufs: windows onto buffers, chained, reference counted — lwIP's verbs.
#
# A pbuf is (buf, off, len) plus `next`, `tot` (bytes from here to the end of
# the chain), a reference count and flags. Kinds, with lwIP's meanings:
#   POOL  a pool block: a frame block, or a small header block (`hdr`), which
#         the pbuf holds one block reference on while it is alive;
#   RAM   a heap bytearray owned by the pbuf (stack-owned: it never moves);
#   ROM   an immutable external buffer (bytes): referenced, never copied;
#   REF   a mutable external buffer the application promised not to touch until
#         the send completes; also a window onto part of another pbuf (`view`),
#         which holds a block reference (pool) or a pbuf reference (external).
# Headers are pushed and popped by moving `off` inside the headroom (`lo` is
# the lowest offset a header may reach). A pbuf whose block is referenced
# twice (by the stack and a TX ring, or by two pbufs) is never written: a
# writer asks `writable_or_clone`, which clones the header part only.
#
# Pbuf objects are made once (PBUF_OBJECTS of them, more than there are
# blocks) and handed out in FIFO order, so nothing here allocates per packet
# and a handle kept after its free() finds a dead object (ref 0) rather than
# the next owner's pbuf: a stale free/header/ref raises and touches nothing.
# An object comes back into use only after every other free object did.
from micropython import const

from . import config
from .compat import IS_MPY
from .pool import pool
from .wire import copy_field

POOL = const(0)
RAM = const(1)
ROM = const(2)
REF = const(3)

FRAME_OFFSET = pool.FRAME_OFFSET
BLOCK_SIZE = pool.BLOCK_SIZE
NBLOCKS = pool.NBLOCKS
HDR_SIZE = pool.HDR_SIZE
HNBLOCKS = pool.HNBLOCKS

# The one copy helper's tally: payload bytes copied anywhere in the stack.
_copied = [0]
# stale handles caught, objects refused for lack of a free pbuf object
_errors = [0, 0]


class Pbuf:
    def __init__(self):
        self.kind = POOL
        self.buf = None
        self.off = 0
        self.len = 0
        self.tot = 0
        self.next = None
        self.blk = -1       # pool block this pbuf holds a reference on, or -1
        self.ref = 0        # references to this pbuf object (chains, owners); 0: free
        self.lo = 0         # lowest offset a pushed header may reach
        self.flags = 0
        self.src = None     # a view of an external buffer: the pbuf it keeps referenced
        self.done = None    # called with `buf` when the last reference goes (TX completion)

    def __repr__(self):
        return "<pbuf k=%d blk=%d off=%d len=%d tot=%d ref=%d>" % (
            self.kind, self.blk, self.off, self.len, self.tot, self.ref)


# ---- the object FIFO -----------------------------------------------------------
_NOBJ = config.PBUF_OBJECTS
_ring = [Pbuf() for _ in range(_NOBJ)]
_fifo = [0, _NOBJ]      # head index, free count
_views = pool.blocks()


def _take():
    n = _fifo[1]
    if n == 0:
        _errors[1] += 1
        return None
    h = _fifo[0]
    p = _ring[h]
    _ring[h] = None
    _fifo[0] = (h + 1) % _NOBJ
    _fifo[1] = n - 1
    return p


def _give(p):
    n = _fifo[1]
    _ring[(_fifo[0] + n) % _NOBJ] = p
    _fifo[1] = n + 1


def _bind(kind, buf, off, ln, blk, lo):
    p = _take()
    if p is None:
        return None
    p.kind = kind
    p.buf = buf
    p.off = off
    p.len = ln
    p.tot = ln
    p.next = None
    p.blk = blk
    p.ref = 1
    p.lo = lo
    p.flags = 0
    return p


def in_use():
    """pbuf objects currently handed out (0 once the stack is quiesced)."""
    return _NOBJ - _fifo[1]


def stats():
    return {"objects": _NOBJ, "in_use": _NOBJ - _fifo[1], "stale": _errors[0],
            "no_object": _errors[1], "copied": _copied[0]}


def _live(p):
    if p.ref <= 0:
        _errors[0] += 1
        raise ValueError("stale pbuf (already freed)")


# ---- making pbufs ----------------------------------------------------------------

def rx(blk, length):
    """Wrap a block a driver handed up: the frame at FRAME_OFFSET. None (and
    the block freed) only when no pbuf object is left."""
    p = _bind(POOL, _views[blk], FRAME_OFFSET, length, blk, FRAME_OFFSET)
    if p is None:
        pool.free(blk)
    return p


def alloc(holder, length, headroom):
    """A POOL pbuf of `length` bytes after `headroom` bytes (plus the frame
    alignment) charged to `holder`, or None when the pool/quota says no."""
    off = FRAME_OFFSET + headroom
    if length < 0 or off + length > BLOCK_SIZE:
        return None
    i = pool.alloc(holder)
    if i < 0:
        return None
    p = _bind(POOL, _views[i], off, length, i, FRAME_OFFSET)
    if p is None:
        pool.free(i)
    return p


def hdr(holder, length):
    """A header pbuf: `length` bytes at the end of a small header block, the
    rest of the block left as headroom for the headers pushed in front of it.
    None when the header class (or the holder's share of it) is empty."""
    if length < 0 or length > HDR_SIZE:
        return None
    i = pool.alloc_hdr(holder)
    if i < 0:
        return None
    p = _bind(POOL, _views[i], HDR_SIZE - length, length, i, 0)
    if p is None:
        pool.free(i)
    return p


def ram(length, headroom=0):
    return _bind(RAM, bytearray(headroom + length), headroom, length, -1, 0)


def _external(kind, obj, off, ln):
    if ln < 0:
        ln = len(obj) - off
    if off < 0 or off + ln > len(obj):
        raise ValueError("window outside the buffer")
    return _bind(kind, obj, off, ln, -1, off)


def rom(obj, off=0, ln=-1, done=None):
    """ROM pbuf over an immutable buffer (bytes, or a read-only memoryview
    of bytes): referenced, never copied.
    `done(obj)` runs when the stack and every TX ring are through with it.
    Anything that could change or move under a TX ring is refused: send a
    mutable buffer with ref_buf (the promise) or through copy_from."""
    if not pool.readonly(obj):
        raise TypeError("rom() takes bytes; use ref_buf() or copy_from() for a mutable buffer")
    p = _external(ROM, obj, off, ln)
    if p is not None:
        p.done = done
    return p


def ref_buf(obj, off=0, ln=-1, done=None):
    """REF pbuf over a mutable buffer the caller promises not to touch (nor
    resize) until `done(obj)` runs: the zero-copy promise."""
    p = _external(REF, obj, off, ln)
    if p is not None:
        p.done = done
    return p


def copy_from(obj, holder, off=0, ln=-1, headroom=0):
    """A POOL chain holding a copy of obj[off:off+ln] (counted): how a buffer
    the caller makes no promise about is sent. The first block leaves
    `headroom` bytes for headers. None when the pool or the quota says no."""
    if ln < 0:
        ln = len(obj) - off
    if off < 0 or ln < 0 or off + ln > len(obj):
        raise ValueError("window outside the buffer")
    head = None
    done = 0
    room = BLOCK_SIZE - FRAME_OFFSET
    while True:
        k = room - headroom
        if k > ln - done:
            k = ln - done
        q = alloc(holder, k, headroom)
        if q is None:
            if head is not None:
                free(head)
            return None
        copy(q.buf, q.off, obj, off + done, k)
        done += k
        head = q if head is None else cat(head, q)
        headroom = 0
        if done >= ln:
            return head


def view(p, off, ln):
    """A read-only window onto ln bytes at p.buf[off:], sharing p's storage.
    It keeps that storage alive on its own: a block reference for pool
    memory, a reference on p (or on the pbuf p itself views) otherwise."""
    _live(p)
    v = _bind(REF, p.buf, off, ln, p.blk, off)
    if v is None:
        return None
    if p.blk >= 0:
        if pool.ref(p.blk) < 0:
            raise ValueError("block reference refused")
    else:
        s = p.src if p.src is not None else p
        s.ref += 1
        v.src = s
    return v


def views(p, off, n):
    """A chain of views onto bytes [off, off+n) of chain p (no copy). None
    when a pbuf object could not be had (nothing is held then)."""
    head = None
    while p is not None and n > 0:
        if off >= p.len:
            off -= p.len
            p = p.next
            continue
        k = p.len - off
        if k > n:
            k = n
        v = view(p, p.off + off, k)
        if v is None:
            if head is not None:
                free(head)
            return None
        head = v if head is None else cat(head, v)
        n -= k
        off = 0
        p = p.next
    return head


# ---- headers and writing -----------------------------------------------------------

def header(p, delta):
    """Push (delta > 0) or pop (delta < 0) header bytes. False if it does not
    fit the headroom, would pop past the data, or the pbuf may not be written."""
    _live(p)
    off = p.off - delta
    if delta > 0:
        if off < p.lo or not writable(p):
            return False
    elif -delta > p.len:
        return False
    p.off = off
    p.len += delta
    p.tot += delta
    return True


def writable(p):
    """True when nobody else can see p's bytes (refcount 1, no TX ring hold)."""
    if p.kind == POOL:
        return p.ref == 1 and pool.refcnt(p.blk) == 1
    return p.kind == RAM and p.ref == 1


def writable_or_clone(p, n, holder):
    """The one write guard (DESIGN invariant 1): a chain with the same bytes
    as p whose first n bytes sit in one pbuf the caller may write. p itself
    when it may be written; otherwise the first n bytes go into a fresh
    header block (header bytes, not payload) and the rest stays shared as
    views. Consumes the caller's reference to p; None (p freed) when no
    block could be had."""
    if n <= p.len and writable(p):
        return p
    if n > p.tot:
        free(p)
        return None
    h = hdr(holder, n) if n <= HDR_SIZE else alloc(holder, n, 0)
    if h is None:
        free(p)
        return None
    _walk(p, 0, h.buf, h.off, n, False)
    if p.tot > n:
        t = views(p, n, p.tot - n)
        if t is None:
            free(h)
            free(p)
            return None
        cat(h, t)
    free(p)
    return h


def pref(p):
    _live(p)
    p.ref += 1


def refcount(p):
    return p.ref


def free(p):
    """Drop one reference of the chain head; each pbuf that reaches zero is
    released and the walk goes on to the next (lwIP pbuf_free). Returns how
    many pbufs were released. A stale handle raises ValueError."""
    n = 0
    while p is not None:
        _live(p)
        p.ref -= 1
        if p.ref:
            break
        nxt = p.next
        if p.blk >= 0:
            pool.free(p.blk)
        s = p.src
        cb = p.done
        buf = p.buf
        p.next = None
        p.src = None
        p.done = None
        p.buf = None
        p.blk = -1
        _give(p)
        n += 1
        if s is not None:
            free(s)
        if cb is not None:
            cb(buf)
        p = nxt
    return n


def cat(h, t):
    """Append t to chain h; h's chain takes over the caller's reference to t.
    Returns h, the head of the chain."""
    q = h
    while True:
        q.tot += t.tot
        if q.next is None:
            q.next = t
            return h
        q = q.next


def chain(h, t):
    """Append t to h and take a new reference on t (caller keeps its own)."""
    cat(h, t)
    pref(t)
    return h


_moved = [0] * (2 * (NBLOCKS + HNBLOCKS))  # charge(): (block, previous holder) pairs


def charge(p, holder, only=-1):
    """Recharge every pool block the chain keeps alive (its own blocks and
    those its views look into) to `holder` (with `only` >= 0: just the blocks
    charged to that holder), all or nothing: when the pool refuses one
    (quota, or the RX reserve), the blocks already moved go back to their
    previous holders and the answer is False."""
    n = 0
    q = p
    while q is not None:
        b = q.blk
        if b >= 0:
            was = pool.holder(b)
            if was != holder and (only < 0 or was == only):
                if 2 * n == len(_moved) or not pool.move(b, holder):
                    for k in range(n):
                        pool.move(_moved[2 * k], _moved[2 * k + 1])
                    return False
                _moved[2 * n] = b
                _moved[2 * n + 1] = was
                n += 1
        q = q.next
    return True


def trim(p, new_tot):
    """Shorten the chain to new_tot bytes (Ethernet padding, IP total length),
    freeing the pbufs that fall wholly past the end."""
    if new_tot > p.tot:
        return False
    rest = new_tot
    q = p
    while q is not None:
        q.tot = rest
        if rest <= q.len:
            q.len = rest
            tail = q.next
            q.next = None
            if tail is not None:
                free(tail)
            return True
        rest -= q.len
        q = q.next
    return True


# ---- copying -------------------------------------------------------------------------

def copy(dst, doff, src, soff, n):
    """The only way payload bytes are copied in zcstack: counted."""
    if n > 0:
        _move(dst, doff, src, soff, n)
        _copied[0] += n
    return n


def _move(dst, doff, src, soff, n):
    if IS_MPY:
        copy_field(dst, doff, src, soff, n)     # Viper: no memoryview slices on the heap
    else:
        dst[doff:doff + n] = memoryview(src)[soff:soff + n]


def copied():
    return _copied[0]


def _walk(p, offset, ext, eoff, n, into_chain):
    """Move n bytes between chain p (from `offset` bytes in) and ext[eoff:],
    one window at a time. Not counted: callers that move payload count."""
    done = 0
    while p is not None and done < n:
        if offset >= p.len:
            offset -= p.len
        else:
            k = min(p.len - offset, n - done)
            if into_chain:
                _move(p.buf, p.off + offset, ext, eoff + done, k)
            else:
                _move(ext, eoff + done, p.buf, p.off + offset, k)
            done += k
            offset = 0
        p = p.next
    return done


def copy_out(p, offset, dst, doff, n):
    """Copy n bytes starting `offset` bytes into chain p to dst[doff:] (counted)."""
    k = _walk(p, offset, dst, doff, n, False)
    _copied[0] += k
    return k


def copy_in(p, offset, src, soff, n):
    """Copy n bytes of src into chain p at `offset` (p must be writable; counted)."""
    k = _walk(p, offset, src, soff, n, True)
    _copied[0] += k
    return k


def copy_bytes(p, off, n):
    """n bytes of chain p (off bytes in) as one `bytes`: a single counted
    copy when they lie in one pbuf (the socket API's copying recv)."""
    if n == 0:
        return b""
    while p is not None and off >= p.len:
        off -= p.len
        p = p.next
    if p.len - off >= n:
        a = p.off + off
        b = bytes(memoryview(p.buf)[a:a + n])
        _copied[0] += n
        return b
    ba = bytearray(n)
    copy_out(p, off, ba, 0, n)
    return bytes(ba)


def to_bytes(p):
    """The chain's bytes as one `bytes` (diagnostics and tests; counted)."""
    b = bytearray(p.tot)
    copy_out(p, 0, b, 0, p.tot)
    return bytes(b)


# ---- handing chains to a driver ------------------------------------------------------

def gather(p, table):
    """Describe chain p as driver gather entries (buf, off, len) in `table`;
    pool-backed pbufs (frame and header blocks, and views into them) are
    named by block index. Returns the entry count, or -1 when the chain has
    more pieces than the table holds."""
    n = 0
    cap = len(table) // 3
    while p is not None:
        if p.len:
            if n == cap:
                return -1
            j = 3 * n
            table[j] = p.blk if p.blk >= 0 else p.buf
            table[j + 1] = p.off
            table[j + 2] = p.len
            n += 1
        p = p.next
    return n


def clen(p):
    """Number of pbufs in the chain."""
    n = 0
    while p is not None:
        n += 1
        p = p.next
    return n
