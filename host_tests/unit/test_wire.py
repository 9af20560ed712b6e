# Field helpers of stack/wire.py: the Viper kernels (MicroPython) agree with
# their plain twins, which CPython runs; no slicing, no allocation needed.
import random

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
