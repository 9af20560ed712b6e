# Field helpers of stack/wire.py: the Viper kernels (MicroPython) agree with
# their plain twins, which CPython runs; no slicing, no allocation needed.
import random

from support import raises

from stack import wire


def _rand_bytes(rng, n):
    return bytearray(rng.getrandbits(8) for _ in range(n))


def test_same_agrees_with_plain_twin():
    rng = random.Random(7) if hasattr(random, "Random") else None
    if rng is None:                       # MicroPython's random: module-level
        random.seed(7)
        rng = random
    for _ in range(300):
        n = rng.getrandbits(6)
        a = _rand_bytes(rng, n + 8)
        b = bytearray(a) if rng.getrandbits(1) else _rand_bytes(rng, n + 8)
        ao = rng.getrandbits(3)
        bo = ao if rng.getrandbits(1) else rng.getrandbits(3)
        k = min(n, len(a) - ao, len(b) - bo)
        if k > 0 and rng.getrandbits(1):
            b[bo + rng.getrandbits(8) % k] ^= 1 << rng.getrandbits(3)
        want = bytes(a[ao:ao + k]) == bytes(b[bo:bo + k])
        assert wire.same_plain(a, ao, b, bo, k) == want
        assert wire.same(a, ao, memoryview(b), bo, k) == want


def test_put_bytes_writes_only_the_field():
    for put in (wire.put_bytes_plain, wire.put_bytes):
        buf = bytearray(b"\xee" * 16)
        put(memoryview(buf), 5, b"\x02\x00\x00\x00\x00\x02")
        assert buf == b"\xee" * 5 + b"\x02\x00\x00\x00\x00\x02" + b"\xee" * 5


def test_fields_big_endian():
    b = bytearray(8)
    wire.put16(b, 1, 0xABCD)
    wire.put32(b, 3, 0xC6336402)
    assert b == b"\x00\xab\xcd\xc6\x33\x64\x02\x00"
    assert wire.be16(b, 1) == 0xABCD and wire.be32(b, 3) == 0xC6336402
    assert wire.ip_str(wire.ip_parse("198.51.100.2")) == "198.51.100.2"
    assert wire.mac_str(wire.mac_parse("02:00:00:00:00:0a")) == "02:00:00:00:00:0a"


def test_addresses_are_4_byte_buffers():
    a = wire.ip_parse("198.51.100.2")
    assert a == b"\xc6\x33\x64\x02" and isinstance(a, bytes)
    assert wire.ip_str(a) == "198.51.100.2"
    assert wire.ip_str(bytearray(b"\x00\xff\x7f\x80")) == "0.255.127.128"
    assert wire.ip_str(b"xx\xff\xff\xff\xff", 2) == "255.255.255.255"
    for bad in ("198.51.100", "198.51.100.256", "1.2.3.4.5", "a.b.c.d", "1..2.3", "-1.2.3.4"):
        raises(ValueError, wire.ip_parse, bad)
    assert wire.ip_addr("198.51.100.9") == b"\xc6\x33\x64\x09"
    assert wire.ip_addr(bytearray(b"\x01\x02\x03\x04")) == b"\x01\x02\x03\x04"
    raises(ValueError, wire.ip_addr, b"\x01\x02\x03")
    raises(ValueError, wire.ip_addr, 0xC6336402)     # an int is not an address
    assert wire.is_addr(memoryview(b"abcd")) and not wire.is_addr(b"abc") and not wire.is_addr(7)


def test_copy_field_agrees_with_plain_twin():
    for cp in (wire.copy_field_plain, wire.copy_field):
        d = bytearray(b"\xee" * 10)
        cp(d, 3, memoryview(b"..\xc6\x33\x64\x02.."), 2, 4)
        assert d == b"\xee" * 3 + b"\xc6\x33\x64\x02" + b"\xee" * 3


TMAX = 0x3FFFFFFF


def test_ticks_wrap_at_2_30():
    assert wire.TICKS_MAX == TMAX and wire.TICKS_PERIOD == TMAX + 1
    assert wire.ticks_add(TMAX - 2, 5) == 2
    assert wire.ticks_add(TMAX, 1) == 0
    assert wire.ticks_add(0, -1) == TMAX
    assert wire.ticks_add(100, -3000) == TMAX + 1 - 2900
    assert wire.ticks_add(5, 0) == 5
    assert wire.ticks_add(TMAX, 0x1FFFFFFF) == 0x1FFFFFFF - 1
    assert wire.ticks_diff(2, TMAX - 2) == 5
    assert wire.ticks_diff(TMAX - 2, 2) == -5
    assert wire.ticks_diff(7, 7) == 0
    assert wire.ticks_diff(0x20000000, 0) == -0x20000000       # half a period: "earlier"
    assert wire.ticks_diff(0x1FFFFFFF, 0) == 0x1FFFFFFF
    for t in (0, 1, 12345, TMAX - 3000, TMAX):
        for d in (0, 1, 100, 300000, -1, -1000, 0x1FFFFFFF, -0x20000000):
            u = wire.ticks_add(t, d)
            assert 0 <= u <= TMAX and wire.ticks_diff(u, t) == d, (t, d)
