# Field access straight in the frame: (buffer, offset) in, ints out. No
# slices, no objects: the per-packet path allocates nothing here. Protocol
# field offsets live beside the code that uses them, as consts.
import micropython
from micropython import const

from .compat import IS_MPY

ETH_HLEN = const(14)
ETHERTYPE_IPV4 = const(0x0800)
ETHERTYPE_ARP = const(0x0806)

IPV4_HLEN = const(20)
PROTO_ICMP = const(1)
PROTO_TCP = const(6)
PROTO_UDP = const(17)

UDP_HLEN = const(8)
ICMP_HLEN = const(8)

BCAST_MAC = b"\xff\xff\xff\xff\xff\xff"
ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"


def be16(b, o):
    return (b[o] << 8) | b[o + 1]


def be32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def put16(b, o, v):
    b[o] = (v >> 8) & 0xFF
    b[o + 1] = v & 0xFF


def put32(b, o, v):
    """Not for the per-packet path: a 32-bit value is a heap int on 32-bit
    ports. Addresses are 4-byte buffers (put_bytes), sequence numbers use
    stack/seq.py."""
    b[o] = (v >> 24) & 0xFF
    b[o + 1] = (v >> 16) & 0xFF
    b[o + 2] = (v >> 8) & 0xFF
    b[o + 3] = v & 0xFF


def put_bytes_plain(b, o, src):
    """Write a short header field (a MAC address): header bytes, not payload,
    so not the counted copy helper's business."""
    for i in range(len(src)):
        b[o + i] = src[i]


@micropython.viper
def put_bytes_viper(b, o: int, src):
    d = ptr8(b)  # noqa: F821  (Viper builtin)
    s = ptr8(src)  # noqa: F821
    n = int(len(src))
    i = 0
    while i < n:
        d[o + i] = s[i]
        i += 1


def copy_field_plain(d, do, s, so, n):
    """d[do:do+n] = s[so:so+n] for a short header field (an address), no slice."""
    for i in range(n):
        d[do + i] = s[so + i]


@micropython.viper
def copy_field_viper(d, do: int, s, so: int, n: int):
    pd = ptr8(d)  # noqa: F821
    ps = ptr8(s)  # noqa: F821
    i = 0
    while i < n:
        pd[do + i] = ps[so + i]
        i += 1


def same_plain(a, ao, b, bo, n):
    """True when a[ao:ao+n] == b[bo:bo+n], without slicing."""
    for i in range(n):
        if a[ao + i] != b[bo + i]:
            return False
    return True


@micropython.viper
def same_viper(a, ao: int, b, bo: int, n: int) -> bool:
    pa = ptr8(a)  # noqa: F821
    pb = ptr8(b)  # noqa: F821
    i = 0
    while i < n:
        if pa[ao + i] != pb[bo + i]:
            return False
        i += 1
    return True


if IS_MPY:
    put_bytes = put_bytes_viper
    copy_field = copy_field_viper
    same = same_viper
else:
    put_bytes = put_bytes_plain
    copy_field = copy_field_plain
    same = same_plain


# --- the clock -------------------------------------------------------------------
# The stack's time is a ticks value in [0, 2^30) that wraps, as MicroPython's
# ticks_ms() on a 32-bit port. Deadlines are compared by their difference,
# never by `>=` on raw values. Every intermediate below stays inside the
# small-int range of a 32-bit port ([-2^30, 2^30)): nothing allocates.
TICKS_MAX = const(0x3FFFFFFF)       # 2^30 - 1, the largest small int on 32-bit
TICKS_HALF = const(0x20000000)      # 2^29: differences live in [-2^29, 2^29)
TICKS_PERIOD = TICKS_MAX + 1        # 2^30 (a heap int on 32-bit: not for the hot path)


def ticks_add(t, delta):
    """t + delta on the ticks circle (t in [0, 2^30), |delta| < 2^29)."""
    if delta >= 0:
        r = t - TICKS_MAX + delta - 1       # t + delta - 2^30, never above 2^29
        if r < 0:
            r = r + TICKS_MAX + 1
        return r
    r = t + delta
    if r < 0:
        r = r + TICKS_MAX + 1
    return r


def ticks_diff(a, b):
    """a - b on the ticks circle, in [-2^29, 2^29): positive when a is later."""
    d = (a - b) & TICKS_MAX
    if d >= TICKS_HALF:
        d = d - TICKS_HALF - TICKS_HALF
    return d


# --- addresses -------------------------------------------------------------------
# An IPv4 address is a 4-byte buffer (bytes, bytearray or a window of a frame),
# never a 32-bit int: on a 32-bit port that would be a heap object. Code that
# compares addresses reads them as two 16-bit halves (be16) or uses `same`.

def ip_str(a, o=0):
    """"a.b.c.d" for the 4-byte address at a[o:o+4] (allocates: not per packet)."""
    return "%d.%d.%d.%d" % (a[o], a[o + 1], a[o + 2], a[o + 3])


def ip_parse(s):
    """"a.b.c.d" -> bytes(4); ValueError for anything else."""
    parts = s.split(".")
    if len(parts) != 4:
        raise ValueError("bad IPv4 address: " + s)
    v = bytearray(4)
    for i in range(4):
        x = parts[i]
        if not x or len(x) > 3 or not x.isdigit():
            raise ValueError("bad IPv4 address: " + s)
        n = int(x)
        if n > 255:
            raise ValueError("bad IPv4 address: " + s)
        v[i] = n
    return bytes(v)


_BUF_TYPES = (bytes, bytearray, memoryview)   # built once: a tuple display allocates per call


def is_addr(a):
    """a is a 4-byte buffer (what the stack takes as an IPv4 address)."""
    return isinstance(a, _BUF_TYPES) and len(a) == 4


def ip_addr(a):
    """An address given as "a.b.c.d" or a 4-byte buffer -> bytes(4) (set-up
    and application entry points; not per packet)."""
    if isinstance(a, str):
        return ip_parse(a)
    if not is_addr(a):
        raise ValueError("an IPv4 address is a 4-byte buffer or \"a.b.c.d\"")
    return bytes(a)


def mac_parse(s):
    parts = s.split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC address: " + s)
    return bytes(int(x, 16) for x in parts)


def mac_str(m):
    return ":".join("%02x" % x for x in m)

