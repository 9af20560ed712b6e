# The Internet checksum (stack/checksum.py): known vectors, the plain twin
# against sum16 (the Viper kernel on MicroPython), and pbuf_sum over chains.
# Runs on both lanes; random inputs come from a seeded PRNG, loops are bounded.
import random

from stack import checksum, pbuf
from stack import pool as poolmod
from stack.pool import pool
from support import MICROPYTHON

# The IPv4 header of RFC 1071-era textbooks (and Wikipedia's example):
# 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7
IPV4_HDR = bytes((0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                  0xB8, 0x61, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7))


def _baseline():
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS


def _random_bytes(n):
    b = bytearray(n)
    for i in range(n):
        b[i] = random.getrandbits(8)
    return b


def _ref_sum(data):
    """Folded one's-complement sum, computed differently from the kernels:
    everything added as 16-bit words in one big int, folded at the end."""
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] * 256 + data[i + 1]
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_kernel_selection():
    # MicroPython runs the Viper kernel; CPython its plain twin.
    if MICROPYTHON:
        assert checksum.sum16 is checksum.sum_viper
    else:
        assert checksum.sum16 is checksum.sum_plain


def test_rfc1071_example():
    data = bytes((0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7))
    assert checksum.sum_plain(data, 0, 8, 0) == 0xDDF2
    assert checksum.sum16(data, 0, 8, 0) == 0xDDF2
    assert checksum.finish(0xDDF2) == 0x220D
    assert checksum.inet(data, 0, 8) == 0x220D


def test_ipv4_header_checksum():
    assert checksum.inet(IPV4_HDR, 0, 20) == 0          # a valid header sums to 0xFFFF
    hdr = bytearray(IPV4_HDR)
    hdr[10] = hdr[11] = 0
    assert checksum.inet(hdr, 0, 20) == 0xB861
    # at an offset inside a bigger buffer (as in a pool block)
    blk = bytearray(2) + bytearray(14) + hdr
    assert checksum.inet(blk, 16, 20) == 0xB861


def test_edge_values():
    assert checksum.sum16(b"", 0, 0, 0) == 0
    assert checksum.sum16(b"\xff\xff", 0, 2, 0) == 0xFFFF
    assert checksum.sum16(b"\xff\xff\x00\x01", 0, 4, 0) == 0x0001   # end-around carry
    assert checksum.sum16(b"\xab", 0, 1, 0) == 0xAB00               # odd byte is the high one
    assert checksum.sum16(b"\x00\x01", 0, 2, 0xFFFF) == 0x0001      # acc taken in
    assert checksum.finish(0) == 0xFFFF and checksum.finish(0xFFFF) == 0
    assert checksum.finish(0x1FFFE) == 0                            # unfolded acc
    assert checksum.swap16(0x1234) == 0x3412


def test_long_buffer_folds():
    # Long enough for the kernel's running sum to pass 2**30 and fold.
    data = b"\xff" * 65534 + b"\xfe\x01"
    want = _ref_sum(data)
    assert checksum.sum_plain(data, 0, len(data), 0) == want
    assert checksum.sum16(data, 0, len(data), 0) == want


def test_plain_vs_sum16_random():
    random.seed(1071)
    for it in range(300):
        n = random.randint(0, 90)
        pre = random.randint(0, 5)
        data = _random_bytes(pre + n + 3)
        acc = random.getrandbits(16)
        a = checksum.sum_plain(data, pre, n, acc)
        b = checksum.sum16(data, pre, n, acc)
        assert a == b, (it, pre, n)
        assert checksum.sum_plain(data, pre, n, 0) == _ref_sum(data[pre:pre + n]), (it, pre, n)


def test_sum16_on_buffer_kinds():
    random.seed(7)
    data = _random_bytes(301)
    want = _ref_sum(data[3:300])
    assert checksum.sum16(bytes(data), 3, 297, 0) == want
    assert checksum.sum16(data, 3, 297, 0) == want
    assert checksum.sum16(memoryview(data), 3, 297, 0) == want
    i = pool.alloc(pool.H_APP)
    v = pool.block(i)
    v[7:308] = data
    assert checksum.sum16(v, 10, 297, 0) == want
    assert checksum.sum_plain(v, 10, 297, 0) == want
    pool.free(i)
    _baseline()


def _random_chain(data):
    """Split data into a chain of POOL, RAM and ROM pbufs at random points
    (zero-length pieces included); headroom puts windows at odd offsets."""
    head = None
    i = 0
    n = len(data)
    while i < n or head is None:
        k = random.randint(0, 9)
        if i + k > n:
            k = n - i
        room = random.randint(0, 3)
        kind = random.randint(0, 2)
        if kind == 0:
            p = pbuf.alloc(pool.H_TX, k, room)
        elif kind == 1:
            p = pbuf.ram(k, room)
        else:
            p = pbuf.rom(bytes(room) + bytes(data[i:i + k]), room)
        if kind != 2:
            p.buf[p.off:p.off + k] = data[i:i + k]
        if head is None:
            head = p
        else:
            pbuf.cat(head, p)
        i += k
    return head


def test_pbuf_sum_over_chains():
    random.seed(1624)
    for it in range(60):
        n = random.randint(0, 60)
        data = _random_bytes(n)
        p = _random_chain(data)
        assert p.tot == n
        for _ in range(6):
            off = random.randint(0, n)
            ln = random.randint(0, n - off)
            acc = random.getrandbits(16)
            want = checksum.sum_plain(data, off, ln, acc)
            got = checksum.pbuf_sum(p, off, ln, acc)
            assert got == want, (it, n, off, ln)
        # asking past the end sums what is there
        assert checksum.pbuf_sum(p, 0, n + 5, 0) == checksum.sum_plain(data, 0, n, 0)
        pbuf.free(p)
    _baseline()


def test_pbuf_sum_ipv4_header_split():
    # A header split 1 + 9 + 10 bytes across three pbufs still checks out.
    a = pbuf.rom(IPV4_HDR, 0, 1)
    b = pbuf.ram(9, 1)
    b.buf[1:10] = IPV4_HDR[1:10]
    c = pbuf.rom(IPV4_HDR, 10, 10)
    pbuf.cat(a, b)
    pbuf.cat(a, c)
    assert checksum.finish(checksum.pbuf_sum(a, 0, 20, 0)) == 0
    pbuf.free(a)
    _baseline()
