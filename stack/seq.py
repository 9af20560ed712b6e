# TCP sequence-number arithmetic (RFC 793 3.3, RFC 1982 serial numbers) on
# 32-bit big-endian fields where they lie: (buffer, offset) in, a bool or a
# small int out. A sequence number never becomes a Python int, so nothing
# allocates on a 32-bit port (small ints stop at 2^30 there). Each kernel
# works on 16-bit halves, so it computes the same on 32- and 64-bit builds;
# each has a plain twin (CPython runs it; a MicroPython test checks they agree).
#
# Order is the sign of (a - b) mod 2^32 read as a signed 32-bit value, as
# lwIP's TCP_SEQ_LT and Linux's before(): when a and b are exactly 2^31 apart
# each is "before" the other (seq_lt(a, b) and seq_lt(b, a) both hold).
import micropython
from micropython import const

from .compat import IS_MPY

SEQ_DIFF_MAX = const(0x1FFFFFFF)    # 2^29 - 1: seq_diff saturates to +-this


# --- plain twins ------------------------------------------------------------------

def _sign_plain(a, ao, b, bo):
    """-1, 0 or 1: the sign of (a - b) mod 2^32 read as a signed 32-bit value."""
    lo = ((a[ao + 2] << 8) | a[ao + 3]) - ((b[bo + 2] << 8) | b[bo + 3])
    hi = ((a[ao] << 8) | a[ao + 1]) - ((b[bo] << 8) | b[bo + 1])
    if lo < 0:
        hi -= 1
    hi &= 0xFFFF
    if hi >= 0x8000:
        return -1
    return 1 if hi or lo else 0


def seq_lt_plain(a, ao, b, bo):
    return _sign_plain(a, ao, b, bo) < 0


def seq_le_plain(a, ao, b, bo):
    return _sign_plain(a, ao, b, bo) <= 0


def seq_gt_plain(a, ao, b, bo):
    return _sign_plain(a, ao, b, bo) > 0


def seq_ge_plain(a, ao, b, bo):
    return _sign_plain(a, ao, b, bo) >= 0


def seq_diff_plain(a, ao, b, bo):
    """a - b as a signed value, saturated to +-(2^29 - 1)."""
    lo = ((a[ao + 2] << 8) | a[ao + 3]) - ((b[bo + 2] << 8) | b[bo + 3])
    hi = ((a[ao] << 8) | a[ao + 1]) - ((b[bo] << 8) | b[bo + 1])
    if lo < 0:
        lo += 0x10000
        hi -= 1
    hi &= 0xFFFF
    if hi < 0x8000:
        if hi >= 0x2000:
            return SEQ_DIFF_MAX
        return (hi << 16) | lo
    # negative: magnitude is 2^32 - (hi:lo)
    lo = 0x10000 - lo
    hi = 0xFFFF - hi
    if lo == 0x10000:
        lo = 0
        hi += 1
    if hi >= 0x2000:
        return -SEQ_DIFF_MAX
    return -((hi << 16) | lo)


def seq_add_plain(d, do, s, so, delta):
    """d[do:do+4] = s[so:so+4] + delta (mod 2^32); delta is a small int."""
    lo = ((s[so + 2] << 8) | s[so + 3]) + (delta & 0xFFFF)
    hi = ((s[so] << 8) | s[so + 1]) + ((delta >> 16) & 0xFFFF) + (lo >> 16)
    d[do] = (hi >> 8) & 0xFF
    d[do + 1] = hi & 0xFF
    d[do + 2] = (lo >> 8) & 0xFF
    d[do + 3] = lo & 0xFF


def seq_between_plain(s, so, left, lo, right, ro):
    """left <= s <= right on the circle: (s - left) mod 2^32 <= (right - left) mod 2^32."""
    return _udiff_le_plain(s, so, left, lo, right, ro)


def _udiff_le_plain(s, so, left, lo, right, ro):
    al = ((s[so + 2] << 8) | s[so + 3]) - ((left[lo + 2] << 8) | left[lo + 3])
    ah = ((s[so] << 8) | s[so + 1]) - ((left[lo] << 8) | left[lo + 1])
    if al < 0:
        al += 0x10000
        ah -= 1
    ah &= 0xFFFF
    bl = ((right[ro + 2] << 8) | right[ro + 3]) - ((left[lo + 2] << 8) | left[lo + 3])
    bh = ((right[ro] << 8) | right[ro + 1]) - ((left[lo] << 8) | left[lo + 1])
    if bl < 0:
        bl += 0x10000
        bh -= 1
    bh &= 0xFFFF
    return ah < bh or (ah == bh and al <= bl)


def seq_in_window_plain(s, so, left, lo, size):
    """left <= s < left + size on the circle (size a small int >= 0): the
    receive-window test of RFC 793 3.3."""
    al = ((s[so + 2] << 8) | s[so + 3]) - ((left[lo + 2] << 8) | left[lo + 3])
    ah = ((s[so] << 8) | s[so + 1]) - ((left[lo] << 8) | left[lo + 1])
    if al < 0:
        al += 0x10000
        ah -= 1
    ah &= 0xFFFF
    sh = size >> 16
    return ah < sh or (ah == sh and al < (size & 0xFFFF))


# --- Viper kernels ------------------------------------------------------------------

@micropython.viper
def seq_lt_viper(a, ao: int, b, bo: int) -> bool:
    pa = ptr8(a)  # noqa: F821  (Viper builtin)
    pb = ptr8(b)  # noqa: F821
    lo = ((pa[ao + 2] << 8) | pa[ao + 3]) - ((pb[bo + 2] << 8) | pb[bo + 3])
    hi = ((pa[ao] << 8) | pa[ao + 1]) - ((pb[bo] << 8) | pb[bo + 1])
    if lo < 0:
        hi -= 1
    return (hi & 0xFFFF) >= 0x8000


@micropython.viper
def seq_ge_viper(a, ao: int, b, bo: int) -> bool:
    pa = ptr8(a)  # noqa: F821
    pb = ptr8(b)  # noqa: F821
    lo = ((pa[ao + 2] << 8) | pa[ao + 3]) - ((pb[bo + 2] << 8) | pb[bo + 3])
    hi = ((pa[ao] << 8) | pa[ao + 1]) - ((pb[bo] << 8) | pb[bo + 1])
    if lo < 0:
        hi -= 1
    return (hi & 0xFFFF) < 0x8000


@micropython.viper
def seq_gt_viper(a, ao: int, b, bo: int) -> bool:
    pa = ptr8(a)  # noqa: F821
    pb = ptr8(b)  # noqa: F821
    lo = ((pa[ao + 2] << 8) | pa[ao + 3]) - ((pb[bo + 2] << 8) | pb[bo + 3])
    hi = ((pa[ao] << 8) | pa[ao + 1]) - ((pb[bo] << 8) | pb[bo + 1])
    if lo < 0:
        hi -= 1
    hi = hi & 0xFFFF
    if hi >= 0x8000:
        return False
    return hi != 0 or lo != 0


def seq_le_viper(a, ao, b, bo):
    return not seq_gt_viper(a, ao, b, bo)


@micropython.viper
def seq_diff_viper(a, ao: int, b, bo: int) -> int:
    pa = ptr8(a)  # noqa: F821
    pb = ptr8(b)  # noqa: F821
    lo = ((pa[ao + 2] << 8) | pa[ao + 3]) - ((pb[bo + 2] << 8) | pb[bo + 3])
    hi = ((pa[ao] << 8) | pa[ao + 1]) - ((pb[bo] << 8) | pb[bo + 1])
    if lo < 0:
        lo += 0x10000
        hi -= 1
    hi = hi & 0xFFFF
    if hi < 0x8000:
        if hi >= 0x2000:
            return 0x1FFFFFFF
        return (hi << 16) | lo
    lo = 0x10000 - lo
    hi = 0xFFFF - hi
    if lo == 0x10000:
        lo = 0
        hi += 1
    if hi >= 0x2000:
        return 0 - 0x1FFFFFFF
    return 0 - ((hi << 16) | lo)


@micropython.viper
def seq_add_viper(d, do: int, s, so: int, delta: int):
    pd = ptr8(d)  # noqa: F821
    ps = ptr8(s)  # noqa: F821
    lo = ((ps[so + 2] << 8) | ps[so + 3]) + (delta & 0xFFFF)
    hi = ((ps[so] << 8) | ps[so + 1]) + ((delta >> 16) & 0xFFFF) + (lo >> 16)
    pd[do] = (hi >> 8) & 0xFF
    pd[do + 1] = hi & 0xFF
    pd[do + 2] = (lo >> 8) & 0xFF
    pd[do + 3] = lo & 0xFF


@micropython.viper
def seq_between_viper(s, so: int, left, lo: int, right, ro: int) -> bool:
    ps = ptr8(s)  # noqa: F821
    pl = ptr8(left)  # noqa: F821
    pr = ptr8(right)  # noqa: F821
    ll = (pl[lo + 2] << 8) | pl[lo + 3]
    lh = (pl[lo] << 8) | pl[lo + 1]
    al = ((ps[so + 2] << 8) | ps[so + 3]) - ll
    ah = ((ps[so] << 8) | ps[so + 1]) - lh
    if al < 0:
        al += 0x10000
        ah -= 1
    ah = ah & 0xFFFF
    bl = ((pr[ro + 2] << 8) | pr[ro + 3]) - ll
    bh = ((pr[ro] << 8) | pr[ro + 1]) - lh
    if bl < 0:
        bl += 0x10000
        bh -= 1
    bh = bh & 0xFFFF
    if ah < bh:
        return True
    return ah == bh and al <= bl


@micropython.viper
def seq_in_window_viper(s, so: int, left, lo: int, size: int) -> bool:
    ps = ptr8(s)  # noqa: F821
    pl = ptr8(left)  # noqa: F821
    al = ((ps[so + 2] << 8) | ps[so + 3]) - ((pl[lo + 2] << 8) | pl[lo + 3])
    ah = ((ps[so] << 8) | ps[so + 1]) - ((pl[lo] << 8) | pl[lo + 1])
    if al < 0:
        al += 0x10000
        ah -= 1
    ah = ah & 0xFFFF
    sh = size >> 16
    if ah < sh:
        return True
    return ah == sh and al < (size & 0xFFFF)


if IS_MPY:
    seq_lt = seq_lt_viper
    seq_le = seq_le_viper
    seq_gt = seq_gt_viper
    seq_ge = seq_ge_viper
    seq_diff = seq_diff_viper
    seq_add = seq_add_viper
    seq_between = seq_between_viper
    seq_in_window = seq_in_window_viper
else:
    seq_lt = seq_lt_plain
    seq_le = seq_le_plain
    seq_gt = seq_gt_plain
    seq_ge = seq_ge_plain
    seq_diff = seq_diff_plain
    seq_add = seq_add_plain
    seq_between = seq_between_plain
    seq_in_window = seq_in_window_plain
