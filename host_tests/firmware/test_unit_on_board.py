"""The unit modules of host_tests/unit (the MicroPython lane's tests) run ON
the firmware: the frozen stack, zcpool and the Viper kernels as the board's
native emitter compiled them, on a 32-bit core with 2^30 small ints. The
board has no file system: support.py, frames.py, tcpscript.py and fuzz.py,
then each test module, go through the raw REPL as source and become modules
on the board (on_board.load_module); each module's tests run in source
order, and every one must pass.

By default, to stay within the suite's time budget, the per-packet set
(CORE) runs on the Cortex-M7 (the STM32F7's core) and the kernel set
(KERNELS: the modules that exercise the Viper kernels, the pool and the
heap) on the ARM926 (the OMAP-L137's); ZC_FW_UNIT=all runs every module on
every bootable board (about a minute per board under QEMU, plus 80 s for
test_fuzz)."""
import os
import re

import pytest

import qemu
from conftest import BOOT_BOARDS, boot

UNIT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit")
HELPERS = ("support", "frames", "tcpscript", "fuzz")

CORE = ("test_seq", "test_wire", "test_checksum", "test_clock", "test_pool", "test_pbuf",
        "test_arp", "test_ipv4", "test_reasm", "test_tx", "test_memif", "test_heap",
        "test_counters", "test_tcp_l2", "test_tcp_blocks")
# Not on these images: the qemu port has no `select` or `time`.
NEVER = {"test_socket": "needs select/time", "test_zselect": "needs select"}
# Single tests that cannot run on a board, and why.
NOT_HERE = {("test_counters", "test_doc_lists_exactly_the_schema"): "reads docs/ from the repository"}

KERNELS = ("test_seq", "test_wire", "test_checksum", "test_clock", "test_pool", "test_pbuf",
           "test_heap")

ALL = os.environ.get("ZC_FW_UNIT") == "all"


def _modules():
    return sorted(f[:-3] for f in os.listdir(UNIT_DIR)
                  if f.startswith("test_") and f.endswith(".py") and not f.endswith("_cpy.py")
                  and f[:-3] not in NEVER)


def _plan():
    """(board, module) pairs, grouped by board."""
    if ALL:
        sets = [(b, _modules()) for b in BOOT_BOARDS]
    else:
        sets = [(b, m) for b, m in (("MPS2_AN500", CORE), ("VERSATILEPB", KERNELS)) if b in BOOT_BOARDS]
    return [(b, m) for b, mods in sets for m in mods]


PLAN = _plan()

pytestmark = pytest.mark.timeout(900)


def _read(name):
    with open(os.path.join(UNIT_DIR, name + ".py")) as f:
        return f.read()


def _needs(src):
    """The helpers a source imports (directly)."""
    return [h for h in HELPERS if re.search(r"^\s*(import|from)\s+%s\b" % h, src, re.M)]


def _load(q, loaded, name, src):
    """Load name's helpers (first, recursively), then name itself."""
    for h in _needs(src):
        if h not in loaded:
            _load(q, loaded, h, _read(h))
            loaded.add(h)
    q.run("load_module(%r, %r)\n" % (name, src), timeout=120)


class Boards:
    """One booted board at a time: the plan is grouped by board, so asking
    for the next board closes the previous one."""

    def __init__(self, fw_images):
        self.fw_images = fw_images
        self.board = None
        self.cm = None
        self.cur = None

    def get(self, board):
        if board != self.board:
            self.close()
            cm = boot(self.fw_images, board)
            info, q = cm.__enter__()
            self.cm, self.board, self.cur = cm, board, (info, q, set())
        return self.cur

    def close(self):
        if self.cm is not None:
            cm, self.cm, self.board = self.cm, None, None
            cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def boards(fw_images):
    b = Boards(fw_images)
    try:
        yield b
    finally:
        b.close()


def test_named_sets_are_all_there():
    """Every name in CORE and KERNELS is a unit module (a renamed one must
    not silently drop out of the plan)."""
    for m in CORE + KERNELS:
        assert os.path.isfile(os.path.join(UNIT_DIR, m + ".py")), m
    assert set(KERNELS) <= set(CORE)


@pytest.mark.parametrize("board,module", PLAN)
def test_unit_module_on_board(boards, board, module):
    info, q, loaded = boards.get(board)
    src = _read(module)
    names = [n for n in dict.fromkeys(re.findall(r"^def (test_\w+)\s*\(", src, re.M))
             if (module, n) not in NOT_HERE]
    assert names, module
    try:
        _load(q, loaded, module, src)
        res = q.call("run_tests(%r, %r)" % (module, names), timeout=600)
    except qemu.FirmwareError:
        boards.close()      # the REPL is in an unknown state: the next test boots afresh
        raise
    assert [r[0] for r in res] == names
    failed = ["%s:\n%s" % (r[0], r[2]) for r in res if r[1] == "fail"]
    assert not failed, "on %s:\n%s" % (info["board"], "\n".join(failed))
    skipped = [r for r in res if r[1] == "skip"]
    print("%s %s: %d passed, %d skipped %s" % (info["board"], module, len(res) - len(skipped),
                                              len(skipped), [r[0] + ": " + r[2] for r in skipped]))
