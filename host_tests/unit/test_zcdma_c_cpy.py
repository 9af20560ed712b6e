"""The shared DMA layer's host side (drivers/dma: bus map, simulated bus and
its seeded race points, cache/barrier hooks, the model harness) as a C test
program, built with -Wall -Wextra -Werror and run on both widths."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DMA = os.path.join(ROOT, "drivers", "dma")
SOURCES = [os.path.join(DMA, "test", "test_zcdma.c"), os.path.join(DMA, "zcdma.c"), os.path.join(DMA, "zcmodel.c")]


@pytest.mark.parametrize("bits", ["64", "32"])
def test_zcdma_host_layer(bits, tmp_path):
    exe = str(tmp_path / ("test_zcdma" + bits))
    cc = subprocess.run(["gcc", "-m" + bits, "-std=gnu99", "-Wall", "-Wextra", "-Werror", "-DZCDMA_HOST=1",
                         "-I", DMA, "-o", exe] + SOURCES, capture_output=True, text=True, timeout=120)
    assert cc.returncode == 0, cc.stderr
    r = subprocess.run([exe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.rstrip().endswith(" 0 failed"), r.stdout + r.stderr


def test_zcdma_core_is_pedantic_c99(tmp_path):
    """What a DSP build compiles (no POSIX, no GNU C): the layer itself, both ways."""
    for host in ("0", "1"):
        cc = subprocess.run(["gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
                             "-DZCDMA_HOST=" + host, "-c", os.path.join(DMA, "zcdma.c"),
                             "-o", str(tmp_path / ("zcdma%s.o" % host))],
                            capture_output=True, text=True, timeout=120)
        assert cc.returncode == 0, cc.stderr
