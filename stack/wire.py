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
    same = same_viper
else:
    put_bytes = put_bytes_plain
    same = same_plain


def ip_str(a):
    return "%d.%d.%d.%d" % ((a >> 24) & 255, (a >> 16) & 255, (a >> 8) & 255, a & 255)


def ip_parse(s):
    parts = s.split(".")
    if len(parts) != 4:
        raise ValueError("bad IPv4 address: " + s)
    v = 0
    for x in parts:
        n = int(x)
        if not 0 <= n <= 255:
            raise ValueError("bad IPv4 address: " + s)
        v = (v << 8) | n
    return v


def mac_parse(s):
    parts = s.split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC address: " + s)
    return bytes(int(x, 16) for x in parts)


def mac_str(m):
    return ":".join("%02x" % x for x in m)


# ---- time: a ticks clock in [0, TICKS_PERIOD) that wraps ----------------------------
TICKS_PERIOD = const(0x40000000)     # 2^30: MicroPython's ticks period on 32-bit ports
TICKS_MAX = const(0x3FFFFFFF)
TICKS_HALF = const(0x20000000)


def ticks_add(t, delta):
    return (t + delta) & TICKS_MAX


def ticks_diff(a, b):
    """a - b on the wrapping clock, in (-2^29, 2^29]: positive when a is later."""
    return ((a - b + TICKS_HALF) & TICKS_MAX) - TICKS_HALF
