"""Black-box: TX checksum offload end to end (`make run NETIF=stm32sim-csum`:
the STM32 ETH driver with CIC on, its model on a TAP). The driver says
TX_CSUM, so the stack leaves the TCP checksum of every unfragmented segment
at 0 and the MAC (the model, as RM0410 describes CIC) inserts it. Linux
checks every checksum of what comes out of the TAP: an 8 MiB echo with
identical sha256 is only possible if every inserted checksum was right.
The driver counts the frames the stack left to it (tx_csum_left_zero) and
the fragments it never asks the MAC to touch (tx_csum_bypass_frag: ES0206).
"""
import re

import pytest

from tcp_util import MIB, assert_quiet_then_empty, echo_sha256, figure
import zcrun

pytestmark = pytest.mark.blackbox

N = 8 * MIB
MSL_MS = 500


@pytest.fixture(params=("stm32sim-csum",))
def bb_netif(request):
    """This module's NETIF (not in ALL_NETIFS: the rest of the suite runs
    through stm32sim, whose stack computes its checksums)."""
    return request.param


@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
@pytest.mark.stack_config(TCP_MSL_MS=MSL_MS)
def test_tx_checksums_left_to_the_mac(stack):
    before = stack.counters()
    took = echo_sha256(stack, N, 120)
    snap, _ = assert_quiet_then_empty(stack, MSL_MS)
    d = stack.delta(before, snap)
    assert d["copied"] == 0
    dd = zcrun.driver_delta(before, snap)
    # every TCP segment the stack sent had its checksum left to the MAC
    assert dd["tx_csum_left_zero"] == d["tcp_tx"] > N // 1500, (dd, d)
    assert dd["tx_csum_offload"] == d["tcp_tx"] and dd.get("tx_errors", 0) == 0, dd
    figure("e2e_tcp_echo_tx_csum", netif=stack.netif, width="32" if "unix32" in stack.mpy else "64",
           mib_each_way=N // MIB, seconds=round(took, 3), mb_s_each_way=round(N / took / 1e6, 2))
    # fragments (an 8000-byte ping's reply) go out with the stack's own
    # checksums: the driver never sets CIC on them
    before = stack.counters()
    r = stack.run(["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-s", "8000", "-W", "3", "-w", "30",
                   stack.stack_ip], timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m and m.group(1) == m.group(2) == "3", r.stdout
    after = stack.wait_baseline()
    dd = zcrun.driver_delta(before, after)
    assert dd["tx_csum_bypass_frag"] >= 3 * 5, dd
    assert dd.get("tx_csum_left_zero", 0) == 0, dd
