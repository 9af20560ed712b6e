# The Internet checksum (RFC 1071): a Viper kernel for MicroPython and its
# plain twin, which CPython runs and which a MicroPython test checks against
# the kernel. Sums are kept "folded" (16 bits) between calls so chains of
# windows with odd lengths can be combined (see pbuf_sum).
import micropython

from .compat import IS_MPY


def sum_plain(buf, off, n, acc):
    """One's-complement sum of buf[off:off+n] as big-endian 16-bit words,
    added to acc; returns the folded 16-bit sum."""
    end = off + (n & ~1)
    i = off
    while i < end:
        acc += (buf[i] << 8) | buf[i + 1]
        i += 2
    if n & 1:
        acc += buf[end] << 8
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


@micropython.viper
def sum_viper(buf, off: int, n: int, acc: int) -> int:
    p = ptr8(buf)  # noqa: F821  (Viper builtin)
    i = off
    end = off + (n & (0 - 2))
    while i < end:
        acc += (p[i] << 8) | p[i + 1]
        i += 2
        if acc >> 30:
            acc = (acc & 0xFFFF) + (acc >> 16)
    if n & 1:
        acc += p[end] << 8
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


sum16 = sum_viper if IS_MPY else sum_plain


def swap16(s):
    return ((s & 0xFF) << 8) | (s >> 8)


def pbuf_sum(p, offset, n, acc):
    """Sum n bytes of chain p starting `offset` bytes in; windows of odd
    length shift the byte lanes, which a byte swap of the partial sum undoes."""
    odd = 0
    while p is not None and n > 0:
        if offset >= p.len:
            offset -= p.len
            p = p.next
            continue
        k = p.len - offset
        if k > n:
            k = n
        s = sum16(p.buf, p.off + offset, k, 0)
        if odd:
            s = swap16(s)
        acc += s
        odd ^= k & 1
        n -= k
        offset = 0
        p = p.next
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def finish(acc):
    """The checksum field value for a folded sum."""
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return (~acc) & 0xFFFF


def inet(buf, off, n):
    """Checksum of one contiguous range (e.g. an IPv4 header)."""
    return finish(sum16(buf, off, n, 0))
