# CPython only: property tests for the checksum against a reference built a
# different way (int.from_bytes over padded words, folded by modular
# arithmetic), and pbuf_sum over arbitrary chain splits.
from hypothesis import given, settings, strategies as st

from stack import checksum, pbuf
from stack import pool as poolmod
from stack.pool import pool


def _reference(data, acc=0):
    """One's-complement sum as arithmetic mod 0xFFFF, mapped to the folded
    form the kernels return (0 only when everything was zero)."""
    if len(data) % 2:
        data = data + b"\x00"
    words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    total = acc + sum(words)
    if total == 0:
        return 0
    r = total % 0xFFFF
    return r if r else 0xFFFF


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 5), st.integers(0, 0xFFFF))
def test_sum_plain_matches_reference(data, pre, acc):
    buf = b"\xa5" * pre + data + b"\x5a"
    assert checksum.sum_plain(buf, pre, len(data), acc) == _reference(data, acc)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_inet_verifies_its_own_checksum(data):
    if len(data) % 2:
        data += b"\x00"
    c = checksum.inet(data, 0, len(data))
    assert checksum.inet(data + c.to_bytes(2, "big"), 0, len(data) + 2) == 0


@st.composite
def _chains(draw):
    data = draw(st.binary(max_size=200))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    kinds = draw(st.lists(st.sampled_from(("pool", "ram", "rom")),
                          min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    rooms = draw(st.lists(st.integers(0, 3), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    off = draw(st.integers(0, len(data)))
    ln = draw(st.integers(0, len(data) - off))
    return data, [0] + cuts + [len(data)], kinds, rooms, off, ln


def _build(data, bounds, kinds, rooms):
    head = None
    for j in range(len(bounds) - 1):
        piece = data[bounds[j]:bounds[j + 1]]
        k, room = kinds[j], rooms[j]
        if k == "pool":
            p = pbuf.alloc(pool.H_TX, len(piece), room)
            assert p is not None
            p.buf[p.off:p.off + len(piece)] = piece
        elif k == "ram":
            p = pbuf.ram(len(piece), room)
            p.buf[p.off:p.off + len(piece)] = piece
        else:
            p = pbuf.rom(b"\x00" * room + piece, room)
        if head is None:
            head = p
        else:
            pbuf.cat(head, p)
    return head


@settings(max_examples=300, deadline=None)
@given(_chains(), st.integers(0, 0xFFFF))
def test_pbuf_sum_over_splits(case, acc):
    data, bounds, kinds, rooms, off, ln = case
    p = _build(data, bounds, kinds, rooms)
    try:
        assert p.tot == len(data)
        assert checksum.pbuf_sum(p, off, ln, acc) == _reference(data[off:off + ln], acc)
    finally:
        pbuf.free(p)
    assert poolmod.at_baseline()
    assert pool.nfree() == pool.NBLOCKS
