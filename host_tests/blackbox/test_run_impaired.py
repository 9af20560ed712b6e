"""Black-box: the impairment layer in `make run` (tools/run.py with
`--set IMPAIR_*`, as `make run SET="IMPAIR_TX_LOSS_PCT=10 ..."`): with 10 %
loss each way the stack still answers pings (eventually: the ARP exchange
may lose a frame too) and UDP echo is lossy as configured; the layer's
counters account for every frame, and the pool ends at baseline (the
fixture checks it live and in STOPPED)."""
import re
import socket
import time

import pytest
from zcrun import driver_delta

pytestmark = pytest.mark.blackbox

LOSSY = {"IMPAIR_RX_LOSS_PCT": 10, "IMPAIR_TX_LOSS_PCT": 10, "IMPAIR_SEED": 7}


def _ping(stack, *args, timeout=60):
    r = stack.run(["ping", "-n", "-q"] + list(args) + [stack.stack_ip], timeout=timeout)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, "no ping summary:\n%s\n%s" % (r.stdout, r.stderr)
    return int(m.group(1)), int(m.group(2)), r


@pytest.mark.parametrize("stack", ("64", "32"), indirect=True)
@pytest.mark.stack_config(**LOSSY)
def test_lossy_ping_still_answered(stack):
    assert stack.ready.get("impair") is True, stack.ready
    before = stack.counters()
    # eventually: the first exchange may lose the ARP request or reply
    sent, got, r = _ping(stack, "-c", "200", "-i", "0.01", "-W", "1")
    assert sent == 200, r.stdout
    # 0.9 * 0.9 = 81 % of the pings make the round trip (seeded, bounded)
    assert 130 <= got <= 190, r.stdout
    after = stack.wait_baseline()
    d = stack.delta(before, after)
    drv = driver_delta(before, after)
    assert d["icmp_echo_rx"] >= got and d["icmp_echo_tx"] == d["icmp_echo_rx"], d
    assert drv["rx_frames"] - drv["impair_rx_lost"] == d["eth_rx"], (d, drv)
    # everything the stack queued either went out or was lost in the layer
    queued = d.get("icmp_echo_tx", 0) + d.get("arp_reply_tx", 0) + d.get("arp_request_tx", 0) \
        + d.get("arp_gratuitous_tx", 0)
    assert drv["tx_frames"] + drv["impair_tx_lost"] == queued, (d, drv)
    assert 5 <= drv["impair_rx_lost"] <= 40 and 5 <= drv["impair_tx_lost"] <= 40, drv
    for k in ("impair_rx_dup", "impair_tx_dup", "impair_rx_corrupted", "impair_tx_corrupted",
              "impair_rx_delayed", "impair_tx_delayed", "impair_copied_bytes"):
        assert drv.get(k, 0) == 0, (k, drv)
    assert d["copied"] == 0


@pytest.mark.stack_config(**LOSSY)
def test_lossy_udp_echo_counts_match(stack):
    # make sure ARP is settled both ways first (a lost ARP frame is fine)
    sent, got, r = _ping(stack, "-c", "20", "-i", "0.05", "-W", "1")
    assert got > 0, r.stdout
    before = stack.counters()
    replies = 0
    with stack.ns():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((stack.host_ip, 0))
        s.settimeout(0.01)
        n = 300
        for k in range(n):
            s.sendto(b"lossy %d" % k, (stack.stack_ip, 7))
            time.sleep(0.002)
            try:
                while True:
                    s.recv(2048)
                    replies += 1
            except socket.timeout:
                pass
        deadline = time.monotonic() + 2
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                s.recv(2048)
                replies += 1
            except socket.timeout:
                break
    finally:
        s.close()
    after = stack.wait_baseline()
    d = stack.delta(before, after)
    drv = driver_delta(before, after)
    # what reached the echo service is what the host sent less the RX loss;
    # what came back is what the service sent less the TX loss
    assert d["udp_rx"] == n - drv["impair_rx_lost"], (d, drv)
    assert d["udp_tx"] == d["udp_rx"]
    assert replies == d["udp_tx"] - drv["impair_tx_lost"], (replies, d, drv)
    assert 0.7 * n <= replies <= 0.92 * n, replies
    assert drv["tx_frames"] == replies
    assert d["copied"] == 0


@pytest.mark.stack_config(IMPAIR_RX_DELAY_MS=20, IMPAIR_TX_DELAY_MS=30)
def test_delay_comes_out_on_time(stack):
    # run.py sleeps until the stack's deadline, which includes the layer's:
    # a held frame leaves when due, not at the next 100 ms timer tick
    before = stack.counters()
    sent, got, r = _ping(stack, "-c", "20", "-i", "0.05", "-W", "2")
    assert (sent, got) == (20, 20), r.stdout
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/", r.stdout)
    assert m, r.stdout
    rmin, ravg = float(m.group(1)), float(m.group(2))
    assert rmin >= 48.0, r.stdout                   # 20 ms in + 30 ms out (ms ticks: -1 each)
    assert ravg < 70.0, r.stdout
    drv = driver_delta(before, stack.wait_baseline())
    assert drv["impair_rx_delayed"] >= 20 and drv["impair_tx_delayed"] >= 20, drv
