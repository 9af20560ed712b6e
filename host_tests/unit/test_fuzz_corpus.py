# The in-process fuzz corpus (host_tests/fuzz_corpus/: the seeds of
# tools/fuzz_atheris.py and what coverage-guided runs added) through the
# same target on every lane: atheris only ever runs the CPython twins, so
# MicroPython (64- and 32-bit, Viper kernels) replays what it found. Each
# input must run without an exception, every frame the stack sends must be
# right, and after shutdown the pool must be whole (fuzz_inproc.run).
import os

import fuzz_inproc
from support import REPO_ROOT

CORPUS = REPO_ROOT + "/host_tests/fuzz_corpus"


TIGHT = CORPUS + "/tight"


def _names(where=CORPUS):
    # inputs are seed-* and min-* files (tight/ is a folder of its own)
    return sorted(n for n in os.listdir(where) if n.startswith("seed-") or n.startswith("min-"))


def _read(name, where=CORPUS):
    with open(where + "/" + name, "rb") as f:
        return f.read()


def _replay(names, where=CORPUS, settings=None):
    for n in names:
        try:
            fuzz_inproc.run(_read(n, where), settings=settings)
        except Exception as e:
            raise AssertionError("corpus input %s: %s: %s" % (n, type(e).__name__, e))


def test_seeds_reach_what_they_are_named_for():
    # the seeds are conversations, not noise: each gets where its name says
    want = {
        "seed-ping_fragmented": {"reasm_ok": 1, "icmp_echo_tx": 1},
        "seed-udp_echo": {"udp_tx": 1},
        "seed-tcp_echo": {"tcp_accepted": 1, "tcp_rx_bytes": 5, "tcp_closed": 1},
        "seed-tcp_ooseq_sack": {"tcp_ooseq": 2, "tcp_rx_bytes": 300},
        "seed-tcp_rst_in_window": {"tcp_challenge_ack": 2, "tcp_rst_rx": 2},
        "seed-tcp_source_zero_window": {"tcp_window_probe": 2},
        "seed-tcp_qotd_time_wait": {"tcp_timewait_reopened": 1},
        "seed-frag_timeout": {"reasm_timeout": 1},
        "seed-tcp_source_sack": {"tcp_dup_ack": 3, "tcp_fast_retransmit": 1},
        "seed-tcp_client_echo": {"tcp_connected": 1, "tcp_rx_bytes": 200, "tcp_timewait_expired": 1},
    }
    for name in sorted(want):
        d = fuzz_inproc.run(_read(name))
        for k in want[name]:
            assert d.get(k, 0) == want[name][k], (name, k, d)


def test_record_format():
    data = fuzz_inproc.record(b"abc", 1000) + fuzz_inproc.record(b"", 0, fix=False) + b"\x00"
    assert fuzz_inproc.records(data) == [(True, 1000, b"abc"), (False, 0, b"")]
    # a length past the end takes what is there
    assert fuzz_inproc.records(b"\x00\x05ab") == [(False, 0, b"ab")]


# the corpus in four parts (a MicroPython process runs a module's tests one
# after the other; each part stays well inside the per-test time limit)
def _part(k):
    names = _names()
    assert len(names) >= 20, "corpus missing: %d inputs in %s" % (len(names), CORPUS)
    _replay(names[k::4])


def test_corpus_part_0():
    _part(0)


def test_corpus_part_1():
    _part(1)


def test_corpus_part_2():
    _part(2)


def test_corpus_part_3():
    _part(3)


def test_tight_corpus():
    # what a run with quotas and tables small enough to run out kept
    # (tools/fuzz_atheris.py --tight): the no-buffer and eviction paths
    names = _names(TIGHT)
    assert len(names) >= 10, "tight corpus missing: %d inputs in %s" % (len(names), TIGHT)
    _replay(names, TIGHT, fuzz_inproc.TIGHT)
