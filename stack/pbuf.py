# pbufs: windows onto buffers, chained, reference counted — lwIP's verbs.
#
# A pbuf is (buf, off, len) plus `next`, `tot` (bytes from here to the end of
# the chain), a reference count and flags. Kinds, with lwIP's meanings:
#   POOL  a pool block; the pbuf object for block i is made once at import and
#         reused (no per-packet allocation). The pbuf object, while referenced,
#         holds one reference on its block; views and driver TX rings hold
#         further block references of their own.
#   RAM   a heap bytearray owned by the pbuf.
#   ROM   an immutable external buffer (bytes): referenced, never copied.
#   REF   a mutable external buffer the application promised not to touch until
#         the send completes; also used for a window onto part of a pool block
#         (`view`), in which case it holds one reference on that block.
# Headers are pushed and popped by moving `off` inside the headroom (`lo` is
# the lowest offset a header may reach). A pbuf whose block is referenced
# twice (by the stack and a TX ring, or by two pbufs) is never written.
from .pool import pool

POOL = 0
RAM = 1
ROM = 2
REF = 3

FRAME_OFFSET = pool.FRAME_OFFSET
BLOCK_SIZE = pool.BLOCK_SIZE

# The one copy helper's tally: payload bytes copied anywhere in the stack.
_copied = [0]


class Pbuf:
    def __init__(self, kind, buf, off, ln, blk=-1):
        self.kind = kind
        self.buf = buf
        self.off = off
        self.len = ln
        self.tot = ln
        self.next = None
        self.blk = blk      # pool block this pbuf holds a reference on, or -1
        self.ref = 1        # references to this pbuf object (chains, owners)
        self.lo = 0         # lowest offset a pushed header may reach
        self.flags = 0
        self.cookie = 0     # free for the owner (e.g. TX completion tags)

    def __repr__(self):
        return "<pbuf k=%d blk=%d off=%d len=%d tot=%d>" % (
            self.kind, self.blk, self.off, self.len, self.tot)


_views = pool.blocks()
_pool_pbufs = tuple(Pbuf(POOL, _views[i], 0, 0, i) for i in range(pool.NBLOCKS))


def _bind(i, off, ln):
    p = _pool_pbufs[i]
    p.off = off
    p.len = ln
    p.tot = ln
    p.next = None
    p.ref = 1
    p.lo = FRAME_OFFSET     # headers never reach into the alignment pad
    p.flags = 0
    p.cookie = 0
    return p


def of_block(i):
    """The pbuf object of pool block i (for a block already held)."""
    return _pool_pbufs[i]


def rx(blk, length):
    """Wrap a block a driver handed up: the frame at FRAME_OFFSET."""
    return _bind(blk, FRAME_OFFSET, length)


def alloc(holder, length, headroom):
    """A POOL pbuf of `length` bytes after `headroom` bytes (plus the frame
    alignment) charged to `holder`, or None when the pool/quota says no."""
    off = FRAME_OFFSET + headroom
    if length < 0 or off + length > BLOCK_SIZE:
        return None
    i = pool.alloc(holder)
    if i < 0:
        return None
    return _bind(i, off, length)


def ram(length, headroom=0):
    return Pbuf(RAM, bytearray(headroom + length), headroom, length)


def _external(kind, obj, off, ln):
    if ln < 0:
        ln = len(obj) - off
    if off < 0 or off + ln > len(obj):
        raise ValueError("window outside the buffer")
    p = Pbuf(kind, obj, off, ln)
    p.lo = off
    return p


def rom(obj, off=0, ln=-1):
    """ROM pbuf over an immutable buffer (bytes): referenced, never copied."""
    return _external(ROM, obj, off, ln)


def ref_buf(obj, off=0, ln=-1):
    """REF pbuf over a mutable buffer the caller will not touch until told."""
    return _external(REF, obj, off, ln)


def view(p, off, ln):
    """A read-only window onto ln bytes at p.buf[off:], sharing p's storage.
    For a pool block it takes a block reference (the view outlives p safely)."""
    v = Pbuf(REF, p.buf, off, ln, p.blk)
    v.lo = off
    if p.blk >= 0:
        pool.ref(p.blk)
    return v


def header(p, delta):
    """Push (delta > 0) or pop (delta < 0) header bytes. False if it does not
    fit the headroom, would pop past the data, or the pbuf may not be written."""
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


def pref(p):
    p.ref += 1


def refcount(p):
    return p.ref


def free(p):
    """Drop one reference of the chain head; each pbuf that reaches zero is
    released and the walk goes on to the next (lwIP pbuf_free). Returns how
    many pbufs were released."""
    n = 0
    while p is not None:
        nxt = p.next
        if p.ref <= 0:
            raise ValueError("pbuf freed twice")
        p.ref -= 1
        if p.ref:
            break
        if p.blk >= 0:
            pool.free(p.blk)
        p.next = None
        n += 1
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


_moved = [0] * 128  # charge(): (block, previous holder) pairs, for the undo


def charge(p, holder):
    """Recharge every pool block of the chain to `holder`, all or nothing:
    when the pool refuses one (quota, or the RX reserve), the blocks already
    moved go back to their previous holders and the answer is False."""
    n = 0
    q = p
    while q is not None:
        if q.kind == POOL:
            was = pool.holder(q.blk)
            if was != holder:
                if 2 * n == len(_moved) or not pool.move(q.blk, holder):
                    for k in range(n):
                        pool.move(_moved[2 * k], _moved[2 * k + 1])
                    return False
                _moved[2 * n] = q.blk
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


def copy(dst, doff, src, soff, n):
    """The only way payload bytes are copied in zcstack: counted."""
    if n > 0:
        dst[doff:doff + n] = memoryview(src)[soff:soff + n]
        _copied[0] += n
    return n


def copied():
    return _copied[0]


def _chain_copy(p, offset, ext, eoff, n, into_chain):
    """Copy n bytes between chain p (from `offset` bytes in) and ext[eoff:],
    one window at a time, through the counting helper."""
    done = 0
    while p is not None and done < n:
        if offset >= p.len:
            offset -= p.len
        else:
            k = min(p.len - offset, n - done)
            if into_chain:
                copy(p.buf, p.off + offset, ext, eoff + done, k)
            else:
                copy(ext, eoff + done, p.buf, p.off + offset, k)
            done += k
            offset = 0
        p = p.next
    return done


def copy_out(p, offset, dst, doff, n):
    """Copy n bytes starting `offset` bytes into chain p to dst[doff:]."""
    return _chain_copy(p, offset, dst, doff, n, False)


def copy_in(p, offset, src, soff, n):
    """Copy n bytes of src into chain p at `offset` (p must be writable)."""
    return _chain_copy(p, offset, src, soff, n, True)


def to_bytes(p):
    """The chain's bytes as one `bytes` (diagnostics and tests; counted)."""
    b = bytearray(p.tot)
    copy_out(p, 0, b, 0, p.tot)
    return bytes(b)


def gather(p, table):
    """Describe chain p as driver gather entries (buf, off, len) in `table`;
    pool-backed pbufs are named by block index. Returns the entry count, or
    -1 when the chain has more pieces than the table holds."""
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
