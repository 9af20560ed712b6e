# TCP sequence-number helpers (stack/seq.py) at the 2^32 wrap: the Viper
# kernels (MicroPython) against their plain twins and against arithmetic done
# the long way here; every result is a bool or a small int.
import random

from stack import seq

M = 1 << 32


def _b(v, pad=0):
    """v as a 4-byte big-endian field at offset `pad` of a buffer."""
    return bytearray(pad) + bytearray(((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255))


def _signed(d):
    d %= M
    return d - M if d >= (1 << 31) else d


def _want_diff(a, b):
    d = _signed(a - b)
    lim = (1 << 29) - 1
    return lim if d > lim else (-lim if d < -lim else d)


PAIRS = ((0xFFFFFFF0, 0x10), (0x10, 0xFFFFFFF0), (5, 5), (0, 0x80000000), (0x80000000, 0),
         (0x7FFFFFFF, 0xFFFFFFFF), (0, 0x1FFFFFFF), (0x1FFFFFFF, 0), (0, 0x20000000),
         (0x20000000, 0), (0xFFFFFFFF, 0), (0, 0xFFFFFFFF), (0x12345678, 0x12345677),
         (0xE0000000, 0x00000001), (0x00000001, 0xE0000001))

KERNELS = (("plain", seq.seq_lt_plain, seq.seq_le_plain, seq.seq_gt_plain, seq.seq_ge_plain,
            seq.seq_diff_plain),
           ("live", seq.seq_lt, seq.seq_le, seq.seq_gt, seq.seq_ge, seq.seq_diff))


def _check_pair(a, b):
    d = _signed(a - b)
    ab = _b(a, 3)
    bb = _b(b, 1)
    for name, lt, le, gt, ge, diff in KERNELS:
        got = (lt(ab, 3, bb, 1), le(ab, 3, bb, 1), gt(ab, 3, bb, 1), ge(ab, 3, bb, 1))
        assert got == (d < 0, d <= 0, d > 0, d >= 0), (name, hex(a), hex(b), got)
        assert diff(ab, 3, bb, 1) == _want_diff(a, b), (name, hex(a), hex(b))


def test_compare_at_the_wrap():
    for a, b in PAIRS:
        _check_pair(a, b)
    lt = seq.seq_lt
    # the cases a TCP relies on, spelled out
    assert lt(_b(0xFFFFFFF0), 0, _b(0x10), 0) and not lt(_b(0x10), 0, _b(0xFFFFFFF0), 0)
    assert seq.seq_diff(_b(0x10), 0, _b(0xFFFFFFF0), 0) == 0x20
    assert seq.seq_diff(_b(0xFFFFFFF0), 0, _b(0x10), 0) == -0x20
    # equal
    assert not lt(_b(7), 0, _b(7), 0) and seq.seq_le(_b(7), 0, _b(7), 0)
    assert seq.seq_diff(_b(7), 0, _b(7), 0) == 0
    # exactly 2^31 apart: each is before the other (as lwIP and Linux)
    assert lt(_b(0), 0, _b(0x80000000), 0) and lt(_b(0x80000000), 0, _b(0), 0)
    assert not seq.seq_gt(_b(0), 0, _b(0x80000000), 0)
    # saturation: a small int on every port
    assert seq.seq_diff(_b(0x40000000), 0, _b(0), 0) == (1 << 29) - 1
    assert seq.seq_diff(_b(0), 0, _b(0x40000000), 0) == -((1 << 29) - 1)
    assert seq.seq_diff(_b(0x1FFFFFFF), 0, _b(0), 0) == (1 << 29) - 1
    assert seq.seq_diff(_b(0x1FFFFFFE), 0, _b(0), 0) == (1 << 29) - 2
    assert seq.seq_diff(_b(0), 0, _b(0x1FFFFFFF), 0) == -((1 << 29) - 1)


def test_compare_random_against_long_arithmetic():
    random.seed(11)
    for _ in range(300):
        a = random.getrandbits(32)
        if random.getrandbits(1):
            b = (a + random.getrandbits(31) - (1 << 30)) % M
        else:
            b = random.getrandbits(32)
        _check_pair(a, b)


def test_add_wraps():
    for add in (seq.seq_add_plain, seq.seq_add):
        for s, delta in ((0xFFFFFFF0, 0x20), (0x10, -0x20), (0, -1), (0xFFFFFFFF, 1),
                         (0x1234FFFF, 1), (0x12340000, -1), (0x7FFFFFFF, 0x3FFFFFFF),
                         (0x80000000, -0x40000000), (5, 0)):
            d = bytearray(b"\xee" * 8)
            src = _b(s, 2)
            add(d, 1, src, 2, delta)
            assert d == b"\xee" + _b((s + delta) % M) + b"\xee" * 3, (add, hex(s), delta)
        # in place
        x = _b(0xFFFFFFFE)
        add(x, 0, x, 0, 3)
        assert x == _b(1)


def test_between_and_in_window():
    cases = (  # (s, left, right), inclusive window on the circle
        (0x10, 0xFFFFFFF0, 0x20, True), (0xFFFFFFF0, 0xFFFFFFF0, 0x20, True),
        (0x20, 0xFFFFFFF0, 0x20, True), (0x21, 0xFFFFFFF0, 0x20, False),
        (0xFFFFFFEF, 0xFFFFFFF0, 0x20, False), (5, 5, 5, True), (6, 5, 5, False),
        (0x80000000, 0, 0xFFFFFFFF, True))
    for s, left, right, want in cases:
        for f in (seq.seq_between_plain, seq.seq_between):
            assert f(_b(s), 0, _b(left, 1), 1, _b(right, 2), 2) == want, (f, hex(s), hex(left), hex(right))
    wins = (  # (s, left, size): left <= s < left + size
        (0x10, 0xFFFFFFF0, 0x21, True), (0x10, 0xFFFFFFF0, 0x20, False),
        (0xFFFFFFF0, 0xFFFFFFF0, 1, True), (0xFFFFFFF0, 0xFFFFFFF0, 0, False),
        (0xFFFFFFEF, 0xFFFFFFF0, 0x10000, False), (0x0000FFEF, 0xFFFFFFF0, 0x10000, True),
        (0x0000FFF0, 0xFFFFFFF0, 0x10000, False), (0x3FFFFFFE, 0xFFFFFFFF, 0x3FFFFFFF, False),
        (0x3FFFFFFD, 0xFFFFFFFF, 0x3FFFFFFF, True))
    for s, left, size, want in wins:
        for f in (seq.seq_in_window_plain, seq.seq_in_window):
            assert f(_b(s), 0, _b(left, 3), 3, size) == want, (f, hex(s), hex(left), size)
    random.seed(5)
    for _ in range(200):
        s = random.getrandbits(32)
        left = random.getrandbits(32)
        size = random.getrandbits(20)
        want = (s - left) % M < size
        assert seq.seq_in_window(_b(s), 0, _b(left), 0, size) == want
        assert seq.seq_in_window_plain(_b(s), 0, _b(left), 0, size) == want
        right = (left + size) % M
        assert seq.seq_between(_b(s), 0, _b(left), 0, _b(right), 0) == ((s - left) % M <= size)
