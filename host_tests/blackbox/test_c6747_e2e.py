"""End to end through the C6747 EMAC driver and its model (issue 10): the
stack as `make run NETIF=c6747sim` runs it (tools/run.py: the driver in
drivers/c6747_emac, the model's wire on the TAP), on both widths:

- an 8 MiB TCP echo both ways at once, sha256 identical;
- 200 of 200 full-size pings (1472 bytes of ICMP data, 1514-byte frames);
- the driver's own counters: every frame through RX and TX descriptors, no
  payload byte copied by the driver (rx_copied_bytes, tx_copied_bytes), no
  error, no host error, no overrun; the stack copied nothing either.
The pool back at baseline and a clean exit are the `stack` fixture's checks.
"""
import re

import pytest

from tcp_util import echo_sha256, MIB, assert_quiet_then_empty, figure

pytestmark = [pytest.mark.blackbox, pytest.mark.netifs("c6747sim")]

both_widths = pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
N = 8 * MIB
MSL_MS = 500


def drv_delta(before, after):
    b, a = before["driver"], after["driver"]
    return {k: a[k] - b.get(k, 0) for k in a}


def clean_driver(dd):
    for k in ("rx_copied_bytes", "tx_copied_bytes", "rx_errors", "tx_errors", "host_errors",
              "rx_no_buffer", "rx_oversize", "tx_ref_moved", "teardown_timeouts", "mdio_timeouts"):
        assert dd.get(k, 0) == 0, "driver %s moved by %d: %s" % (k, dd.get(k, 0), dd)


@both_widths
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_c6747sim_tcp_echo_8mib_sha256(stack):
    assert stack.ready.get("netif") == "c6747sim"
    before = stack.counters()
    took = echo_sha256(stack, N, 120)
    snap, _ = assert_quiet_then_empty(stack, MSL_MS)
    d = stack.delta(before, snap)
    assert d.get("tcp_rx_bytes") == N and d["copied"] == 0, d
    dd = drv_delta(before, snap)
    clean_driver(dd)
    # every byte of the echo went through the EMAC's descriptors both ways
    assert dd["rx_bytes"] > N and dd["tx_bytes"] > N, dd
    assert dd["rx_frames"] >= N // 1514 and dd["tx_frames"] >= N // 1514, dd
    figure("c6747sim_tcp_echo", width="32" if "unix32" in stack.mpy else "64",
           mib_each_way=N // MIB, seconds=round(took, 3), mb_s_each_way=round(N / took / 1e6, 2),
           tx_restarts=dd["tx_restarts"], rx_restarts=dd["rx_restarts"])


@both_widths
def test_c6747sim_ping_200_full_size(stack):
    before = stack.counters()
    r = stack.run(["ping", "-n", "-q", "-c", "200", "-i", "0.01", "-s", "1472", "-W", "2", "-w", "30",
                   stack.stack_ip], timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m and (int(m.group(1)), int(m.group(2))) == (200, 200), r.stdout
    after = stack.counters()
    d = stack.delta(before, after)
    assert d.get("icmp_echo_rx") == 200 and d.get("icmp_echo_tx") == 200 and d["copied"] == 0, d
    dd = drv_delta(before, after)
    clean_driver(dd)
    assert dd["rx_frames"] >= 200 and dd["tx_frames"] >= 200, dd
    assert dd["tx_bytes"] >= 200 * 1514, dd
