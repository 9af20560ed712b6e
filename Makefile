# zcstack top-level targets. See README.md.
MPY := build/unix/micropython
PY ?= python3
NETIF ?= tap

.PHONY: build deps run test test-unit bench clean

# Each target first installs what it needs that the machine lacks (tools/deps.sh).
build:
	@tools/deps.sh build
	tools/build_micropython.sh

run: build
	$(MPY) tools/run.py --netif $(NETIF) $(if $(TAP),--tap $(TAP)) \
	    $(if $(HOST_IP),--host-ip $(HOST_IP)) $(if $(STACK_IP),--ip $(STACK_IP)) \
	    $(if $(PREFIX),--prefix $(PREFIX)) $(if $(MAC),--mac $(MAC)) \
	    $(foreach s,$(SET),--set $(s))

test: build
	@tools/deps.sh test
	$(PY) -m pytest -q host_tests

test-unit:
	$(PY) -m pytest -q host_tests/unit

# BENCH_ARGS: e.g. "--count 200 --cases icmp_56,udp_64" (see tools/bench/echo_rtt.py)
bench: build
	$(PY) tools/bench/echo_rtt.py --micropython $(MPY) $(BENCH_ARGS)

clean:
	rm -rf build
