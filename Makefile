# zcstack top-level targets. See README.md.
# BITS=64 (default): build/unix/micropython for this machine; BITS=32: an i386
# build (build/unix32/micropython) whose small ints stop at 2^30, as on the boards.
BITS ?= 64
MPY64 := build/unix/micropython
MPY32 := build/unix32/micropython
ifeq ($(BITS),64)
MPY := $(MPY64)
else ifeq ($(BITS),32)
MPY := $(MPY32)
else
$(error BITS must be 32 or 64, not "$(BITS)")
endif
PY ?= python3
NETIF ?= tap

# tools/run.py's arguments, on one line (make echoes the command as written).
RUN_ARGS := --netif $(NETIF) $(if $(APP),--app $(APP)) $(if $(TAP),--tap $(TAP)) $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(STACK_IP),--ip $(STACK_IP)) $(if $(PREFIX),--prefix $(PREFIX)) $(if $(MAC),--mac $(MAC)) $(foreach s,$(SET),--set $(s))

.PHONY: build build-all deps run test test-unit soak bench firmware fuzz clean

# Each target first installs what it needs that the machine lacks (tools/deps.sh).
# The built binary's path goes to stderr: `make bench` prints JSON on stdout.
build:
	@tools/deps.sh build $(BITS)
	tools/build_micropython.sh $(BITS) >&2

# Both widths (what `make test` runs on).
build-all:
	@tools/deps.sh build 32
	tools/build_micropython.sh 64 >&2
	tools/build_micropython.sh 32 >&2

run: build
	$(MPY) tools/run.py $(strip $(RUN_ARGS))

# Every MicroPython lane runs on both binaries: ZC_MICROPYTHON (64-bit) and
# ZC_MICROPYTHON32 (32-bit); a missing binary fails its items, never skips them.
test: build-all
	@tools/deps.sh test
	ZC_MICROPYTHON=$(MPY64) ZC_MICROPYTHON32=$(MPY32) $(PY) -m pytest -q host_tests

# The unit modules only (CPython, and the MicroPython twins on both widths).
test-unit:
	ZC_MICROPYTHON=$(MPY64) ZC_MICROPYTHON32=$(MPY32) $(PY) -m pytest -q host_tests/unit

# The long TCP runs over TAP (64 MiB each way, 16 MiB through loss, reordering
# and duplication, 1,000 connect/close cycles each way) on both widths, the same tests as `make test` with ZC_SOAK=1; the
# measured figures (MB/s, seconds) end up in build/soak/tcp_figures.jsonl.
SOAK_TESTS := host_tests/blackbox/test_tcp_transfer.py host_tests/blackbox/test_tcp_cycles.py
soak: build-all
	@tools/deps.sh test
	@mkdir -p build/soak && rm -f build/soak/tcp_figures.jsonl
	ZC_SOAK=1 ZC_TCP_FIGURES=build/soak/tcp_figures.jsonl ZC_MICROPYTHON=$(MPY64) ZC_MICROPYTHON32=$(MPY32) $(PY) -m pytest -q -o timeout=1800 $(SOAK_TESTS)
	@cat build/soak/tcp_figures.jsonl

# BENCH_ARGS: e.g. "--count 200 --cases icmp_56,udp_64" (see tools/bench/echo_rtt.py)
# TCP_BENCH_ARGS: e.g. "--bulk-mb 256 --conns 5000 --cases bulk_in,cps" (tools/bench/tcp_bench.py)
# The reports go to build/bench/echo_rtt.json and tcp.json (BITS=32: echo_rtt32.json, tcp32.json).
bench: build
	$(PY) tools/bench/echo_rtt.py --micropython $(MPY) --out build/bench/echo_rtt$(if $(filter 32,$(BITS)),32).json $(BENCH_ARGS)
	$(PY) tools/bench/tcp_bench.py --micropython $(MPY) --out build/bench/tcp$(if $(filter 32,$(BITS)),32).json $(TCP_BENCH_ARGS)
	$(PY) tools/bench/tcp_bench.py --api socket --micropython $(MPY) --out build/bench/tcp_socket$(if $(filter 32,$(BITS)),32).json $(TCP_BENCH_ARGS)

# make firmware BOARD=X: a MicroPython image for board X (firmware/boards/X:
# MPS2_AN385 Cortex-M3, MPS2_AN386 Cortex-M4, MPS2_AN500 Cortex-M7 under QEMU,
# VERSATILEPB ARM926EJ-S) with the stack frozen in and our C modules:
# firmware/build/X/firmware.{elf,bin,hex}, size.json. BOARD=all: every board.
# docs/firmware.md tells how to boot one and how a driver gets in.
BOARD ?= MPS2_AN385
FW_ALL := $(notdir $(patsubst %/,%,$(dir $(wildcard firmware/boards/*/mpconfigboard.mk))))
firmware:
	@tools/deps.sh firmware
	@for b in $(if $(filter all,$(BOARD)),$(FW_ALL),$(BOARD)); do tools/build_firmware.sh $$b >&2 || exit 1; done

# A seeded fuzz campaign (tools/fuzz, docs/fuzz.md) against tools/run.py in a
# private namespace it makes: COUNT frames (or TIME seconds), SEED, NETIF and
# BITS as for run; FUZZ_ARGS for more (e.g. "--kinds tcp,tcpopt --batch 2000").
# Exits non-zero on any crash, hang, leak or bad frame (pcap in build/fuzz/).
COUNT ?= 10000
SEED ?= 1
fuzz: build
	@tools/deps.sh test
	$(PY) tools/fuzz --bits $(BITS) --netif $(NETIF) --seed $(SEED) $(if $(TIME),--time $(TIME),--count $(COUNT)) $(foreach s,$(SET),--set $(s)) $(FUZZ_ARGS)

clean:
	rm -rf build
