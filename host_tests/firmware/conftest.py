"""Fixtures of the firmware suite: every board's image built (or found up to
date) once per session, each bootable board booted once per module in
qemu-system-arm with the on-board helpers loaded; the image sizes printed in
pytest's closing summary."""
import contextlib
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "unit"))   # frames.py

import qemu  # noqa: E402

BOARDS = qemu.all_boards()


def _boots(board):
    with open(os.path.join(qemu.BOARDS_DIR, board, "mpconfigboard.mk")) as f:
        return re.search(r"^FW_BOOT\s*=\s*1\s*$", f.read(), re.M) is not None


BOOT_BOARDS = [b for b in BOARDS if _boots(b)]

_built = {}       # board -> board.json + size.json, or the build's exception
_boot_times = {}  # board -> seconds to the first prompt


@pytest.fixture(scope="session")
def fw_images():
    """Every board's image, built once per session (incremental: an
    up-to-date image costs about a second). A failed build fails the tests
    that need it, with the build's log tail."""
    if not _built:
        for b in BOARDS:
            try:
                _built[b] = qemu.build(b)
            except Exception as e:   # reported by each test that needs the board
                _built[b] = e
    return _built


def image(fw_images, board):
    info = fw_images[board]
    if isinstance(info, Exception):
        raise info
    return info


@contextlib.contextmanager
def boot(fw_images, board):
    """(board info, Qemu) with on_board.py loaded; QEMU killed afterwards."""
    info = image(fw_images, board)
    with qemu.Qemu(info["qemu_machine"], info["elf"]) as q:
        banner = q.boot()
        _boot_times.setdefault(board, q.boot_s)
        with open(os.path.join(HERE, "on_board.py")) as f:
            q.run(f.read(), timeout=30)
        yield dict(info, banner=banner), q


@pytest.fixture(scope="module", params=BOOT_BOARDS)
def booted(request, fw_images):
    with boot(fw_images, request.param) as b:
        yield b


def pytest_terminal_summary(terminalreporter):
    if not _built:
        return
    tr = terminalreporter
    tr.section("zcstack firmware images (bytes)")
    tr.write_line("%-12s %-12s %8s %6s %8s %8s %12s %s" % (
        "board", "qemu", "text", "data", "bss", "flash", "frozen stack", "C modules (text+data)"))
    for b, info in sorted(_built.items()):
        if isinstance(info, Exception):
            tr.write_line("%-12s build failed" % b)
            continue
        s = info["size"]
        fz = s["frozen_stack"]["text"] + s["frozen_stack"]["data"]
        mods = ", ".join("%s %d" % (m, v["text"] + v["data"]) for m, v in s["modules"].items())
        boot = " booted in %.1f s" % _boot_times[b] if b in _boot_times else ""
        tr.write_line("%-12s %-12s %8d %6d %8d %8d %12d %s%s" % (
            b, info["qemu_machine"], s["image"]["text"], s["image"]["data"], s["image"]["bss"],
            s["flash"], fz, mods, boot))
