"""The C6747 EMAC driver's portable core without MicroPython:

- it compiles as strict C99 (`gcc -std=c99 -pedantic -Wall -Wextra -Werror`,
  64- and 32-bit): the C6747 DSP build (TI's compiler, COFF ABI with a 40-bit
  long) gets the same source;
- a C program drives it through its C API against the behavioural model
  with the real pool (drivers/c6747_emac/test/c6747_core_test.c), both widths;
- it and the MicroPython binding compile for the OMAP-L137's ARM926 with
  Debian's arm-none-eabi-gcc, warnings as errors (compile only: the firmware
  build links it).
"""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRV = "drivers/c6747_emac"
CORE = [DRV + "/c6747_emac.c", DRV + "/c6747_mdio.c", DRV + "/c6747_phy.c"]
INC = ["-Idrivers/dma", "-Idrivers/pool", "-I" + DRV]
WIDTHS = ("64", "32")
MPY_TREE = os.path.join(ROOT, ".cache", "micropython-1.25.0")
GENHDR = os.path.join(ROOT, "build", "unix", "obj")
ARM_FLAGS = ["-mcpu=arm926ej-s", "-marm", "-O2", "-Wall", "-Wextra", "-Werror",
             "-DZCDMA_CACHE=ZCDMA_CACHE_ARM926"]


def cc(argv, compiler="gcc"):
    r = subprocess.run([compiler] + argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "%s %s\n%s%s" % (compiler, " ".join(argv), r.stdout, r.stderr)
    return r


def mflag(bits):
    return ["-m32"] if bits == "32" else []


@pytest.mark.parametrize("bits", WIDTHS)
def test_core_is_pedantic_c99(bits, tmp_path):
    # the core, the shared access layer (board side) and the pool, as a DSP build sees them
    for src in CORE + ["drivers/dma/zcdma.c"]:
        cc(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror"] + mflag(bits) + INC
           + ["-c", src, "-o", str(tmp_path / "x.o")])
    cc(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-DZCPOOL_NO_MP"] + mflag(bits) + INC
       + ["-c", "drivers/pool/zcpool.c", "-o", str(tmp_path / "p.o")])
    # with the DSP's cache hooks (L2 block operations, local-to-global addresses)
    for src in CORE + ["drivers/dma/zcdma.c"]:
        cc(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-DZCDMA_CACHE=ZCDMA_CACHE_C674X"]
           + mflag(bits) + INC + ["-c", src, "-o", str(tmp_path / "d.o")])
    # and the core alone in the unix (model) configuration
    for src in CORE:
        cc(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-DZCDMA_HOST=1"] + mflag(bits)
           + INC + ["-c", src, "-o", str(tmp_path / "h.o")])


@pytest.mark.parametrize("bits", WIDTHS)
def test_core_against_the_model(bits, tmp_path):
    exe = str(tmp_path / "c6747_core_test")
    cc(["-O1", "-std=gnu99", "-Wall", "-Wextra", "-Werror", "-DZCDMA_HOST=1", "-DZCPOOL_NO_MP"]
       + mflag(bits) + INC + [DRV + "/test/c6747_core_test.c"] + CORE
       + [DRV + "/model/c6747_model.c", "drivers/dma/zcdma.c", "drivers/dma/zcmodel.c",
          "drivers/pool/zcpool.c", "-o", exe])
    r = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("ALL PASSED"), r.stdout + r.stderr
    for name in ("model_rejects_malformed_chains", "rx_tx_basic", "race", "property_chains", "teardown_and_host_error",
                 "starvation_and_phy"):
        assert "PASS " + name in r.stdout


def test_arm926_cross_build(tmp_path):
    gcc = shutil.which("arm-none-eabi-gcc")
    assert gcc, ("arm-none-eabi-gcc missing: apt-get install -y --no-install-recommends "
                 "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    for src in CORE + ["drivers/dma/zcdma.c"]:
        cc(ARM_FLAGS + ["-std=c99"] + INC + ["-c", src, "-o", str(tmp_path / "a.o")], gcc)
    cc(ARM_FLAGS + ["-std=c99", "-DZCPOOL_NO_MP"] + INC
       + ["-c", "drivers/pool/zcpool.c", "-o", str(tmp_path / "p.o")], gcc)
    # The binding needs a port's configuration and the generated qstr
    # headers: the qemu port's, and those of our unix build (`make build`),
    # which knows the module's names.
    assert os.path.isdir(os.path.join(GENHDR, "genhdr")), "run `make build` first (genhdr)"
    mp = ["-std=gnu99", "-I" + os.path.join(MPY_TREE, "ports", "qemu"), "-I" + MPY_TREE, "-I" + GENHDR,
          "-DMICROPY_HW_BOARD_NAME=\"OMAP-L137\"", "-DMICROPY_HW_MCU_NAME=\"ARM926EJ-S\""]
    for src in (DRV + "/c6747_emac_mp.c", "drivers/dma/zcdma_mp.c"):
        cc(ARM_FLAGS + mp + INC + ["-c", src, "-o", str(tmp_path / "b.o")], gcc)
