# The fuzz lane under hypothesis (CPython only): structured strategies that
# mutate fuzz.py's corpus, raw bytes behind an Ethernet header, and fragment
# sets reordered/duplicated/damaged, each case run through a fresh Harness
# (every sent frame checked; counters and the pool checked after quiescing).
# A failure shrinks to a few exact frames: copy them into test_fuzz.py as a
# regression that runs on both lanes.
import os

import frames
import fuzz
from frames import ETH_ARP, ETH_IP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import US_MAC, PEER_MAC

CORPUS = fuzz.corpus()
SINGLES = [e for e in CORPUS if len(e[1]) == 1]
SETS = [e for e in CORPUS if len(e[1]) > 1]

# ZC_FUZZ_EXAMPLES=5000 for a longer campaign
SETTINGS = settings(max_examples=int(os.environ.get("ZC_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

# IPv4 header fields an edit may hit: (offset in the frame, width in bytes)
IP_FIELDS = ((14, 1), (15, 1), (16, 2), (18, 2), (20, 2), (22, 1), (23, 1), (24, 2), (26, 4), (30, 4))
ARP_FIELDS = ((14, 2), (16, 2), (18, 1), (19, 1), (20, 2), (22, 6), (28, 4), (32, 6), (38, 4))

edit = st.tuples(st.integers(0, 7), st.integers(0, 1600), st.integers(0, 0xFFFFFFFF))


def apply_edit(f, e):
    """One mutation, parameterised so that hypothesis can shrink it."""
    op, pos, val = e
    b = bytearray(f)
    n = len(b)
    if op == 0 and n:
        b[pos % n] ^= 1 << (val & 7)
    elif op == 1 and n:
        b[pos % n] = val & 0xFF
    elif op == 2 and n >= 2:
        i = pos % min(n - 1, 64)
        b[i] = (val >> 8) & 0xFF
        b[i + 1] = val & 0xFF
    elif op == 3:
        b = b[:pos % (n + 1)]
    elif op == 4:
        b += bytes([(pos + k * val) & 0xFF for k in range(val % 64 + 1)])
    elif op == 5 and n >= 42:
        fields = ARP_FIELDS if b[12:14] == b"\x08\x06" else IP_FIELDS
        off, width = fields[pos % len(fields)]
        for k in range(width):
            if off + k < n:
                b[off + k] = (val >> (8 * (width - 1 - k))) & 0xFF
    elif op == 6 and n >= 35:
        hl = (b[14] & 15) * 4
        i = 14 + hl + pos % 8
        if i < n:
            b[i] = val & 0xFF
    elif op == 7:
        b = bytearray(fuzz.fix_checksums(b, bool(val & 1)))
    return bytes(b[:fuzz.RX_MAX])


@st.composite
def mutated_single(draw):
    name, fs = draw(st.sampled_from(SINGLES))[:2]
    f = fs[0]
    for e in draw(st.lists(edit, max_size=4)):
        f = apply_edit(f, e)
    if draw(st.booleans()):
        f = fuzz.fix_checksums(f)
    return f


@st.composite
def raw_frame(draw):
    dst = draw(st.sampled_from((US_MAC, fuzz.BCAST, fuzz.MCAST_MAC)))
    etype = draw(st.sampled_from((ETH_IP, ETH_ARP, ETH_IP)))
    body = draw(st.binary(max_size=120))
    if etype == ETH_IP and draw(st.booleans()) and len(body) >= 20:
        # a plausible header start: version 4, our address as destination
        b = bytearray(body)
        b[0] = 0x40 | (b[0] & 15)
        b[16:20] = frames.ip4(fuzz.US_IP)
        body = bytes(b)
    f = frames.eth(dst, PEER_MAC, etype, body)
    return fuzz.fix_checksums(f) if draw(st.booleans()) else f


@st.composite
def fragment_sequence(draw):
    fs = list(draw(st.sampled_from(SETS))[1])
    fs = draw(st.permutations(fs))
    extra = draw(st.lists(st.sampled_from(fs), max_size=3))
    fs = list(fs) + extra
    if draw(st.booleans()):
        i = draw(st.integers(0, len(fs) - 1))
        g = fs[i]
        for e in draw(st.lists(edit, min_size=1, max_size=2)):
            g = apply_edit(g, e)
        fs[i] = fuzz.fix_checksums(g, False) if draw(st.booleans()) else g
    return fs


@st.composite
def refragmented(draw):
    """A corpus datagram cut at drawn multiples of 8, maybe mixed with its own
    corpus fragments (identical overlaps)."""
    name, fs, d = draw(st.sampled_from(SETS))
    hl = (d[0] & 15) * 4
    n = len(d) - hl
    cuts = draw(st.lists(st.integers(1, 185).map(lambda k: 8 * k), max_size=8))
    used = []
    left = n
    for k in cuts:
        if k >= left:
            break
        used.append(k)
        left -= k
    while left > 1480:          # the rest in frames that fit the link
        used.append(1480)
        left -= 1480
    out = [frames.eth(US_MAC, PEER_MAC, ETH_IP, x) for x in frames.fragment(d, *used)]
    if draw(st.booleans()):
        out = out + list(fs)
    return draw(st.permutations(out))


frame_groups = st.one_of(refragmented(), mutated_single().map(lambda f: [f]), raw_frame().map(lambda f: [f]),
                         fragment_sequence())
clock_step = st.sampled_from((0, 1, 10, 100, 999, 1000, 3000, 15001, 300001))


def run_case(groups):
    h = fuzz.Harness()
    try:
        for i, (fs, dt) in enumerate(groups):
            for f in fs:
                h.where = "group %d: %s" % (i, fuzz._hex(f))
                h.inject(f)
            h.poll(h.r.t + dt)
        h.final()
    finally:
        if not h.r.done:
            h.r.__exit__(AssertionError, None, None)


@SETTINGS
@given(st.lists(st.tuples(frame_groups, clock_step), min_size=1, max_size=8))
def test_hypothesis_mixed_cases(groups):
    run_case(groups)


@SETTINGS
@given(st.lists(st.tuples(mutated_single().map(lambda f: [f]), clock_step), min_size=1, max_size=6))
def test_hypothesis_mutated_corpus(groups):
    run_case(groups)


@SETTINGS
@given(st.lists(st.tuples(fragment_sequence(), clock_step), min_size=1, max_size=4))
def test_hypothesis_fragment_sequences(groups):
    run_case(groups)


@SETTINGS
@given(st.lists(st.tuples(refragmented(), clock_step), min_size=1, max_size=3))
def test_hypothesis_refragmented(groups):
    run_case(groups)


@SETTINGS
@given(st.lists(st.tuples(raw_frame().map(lambda f: [f]), clock_step), min_size=1, max_size=6))
def test_hypothesis_raw_bytes(groups):
    run_case(groups)
