# `make run`: the stack in the foreground on a TAP device (MicroPython script).
#
#   micropython tools/run.py [--netif tap] [--tap NAME] [--ip A] [--host-ip B]
#                            [--prefix N] [--mac M] [--set NAME=VALUE]...
#                            [--connect A.B.C.D:PORT [--count N] [--bytes B]]
#                            [--app PROG.py]
#
# Without --tap it creates TAP `zc0` (gone when this process ends, whatever
# happens) and gives the host side --host-ip/--prefix; with --tap it attaches
# to an existing device and leaves the host side alone. Prints one line
# `READY {json}` when up. Signals come through a signalfd in the poll set (the
# unix port has no `signal` module): SIGTERM/SIGINT shut down cleanly and print
# `STOPPED {json}`; SIGUSR1 prints the counters and pool levels as one JSON line.
#
# --connect: besides the services, a TCP client (stack/services.Client) makes
# N connections to an echo server there, one after the other, each sending
# B bytes and checking they come back, and prints `CLIENT {json}` (cycles, ok,
# bad, errors, bytes) when the last one ended.
#
# --tap NAME must name an existing device (attaching never creates one). The
# PID goes to .run/<tap>.net<N>.pid, N the inode of this process's network
# namespace (/proc/self/ns/net), so instances in different namespaces each
# have their own; a TAP already in use is refused naming the PID found there.
# --app PROG.py (`make run APP=PROG.py`): once the stack is up (READY), the
# user's MicroPython program runs with our socket module (stack/socket.py)
# as `socket` (and `usocket`); its blocking calls drive the stack through the
# same poll loop (stack/runner.py). When it ends, `APP {"status": ...}` is
# printed ("ok", "error" with the exception, or "stopped" by a signal) and the
# stack goes on serving until SIGTERM/SIGINT, then STOPPED as always.
# SIGTERM/SIGINT while the program runs raise KeyboardInterrupt inside it.
# Its `select` is stack/zselect.py: select.poll, and so asyncio (whose loop
# sleeps in select.poll), drives the stack while it waits.
#
# The system calls come from our C module `zcsys` (no ffi: a 32-bit build has none).
import gc
import json
import os
import sys
import time

import zcsys

from stack import config, services
from stack.core import Stack
from stack.impair import from_config as impair_from_config
from stack.runner import Runner
from stack.wire import TICKS_MAX, ip_parse, ip_str, mac_parse

SIGINT = 2
SIGUSR1 = 10
SIGTERM = 15
EBUSY = 16

USAGE = ("usage: run.py [--netif tap] [--tap NAME] [--ip A.B.C.D] [--host-ip A.B.C.D]"
         " [--prefix N] [--mac XX:..] [--set NAME=VALUE]..."
         " [--connect A.B.C.D:PORT [--count N] [--bytes B]] [--app PROG.py]")


def die(msg):
    """A clear error on stderr and exit status 2 (MicroPython prints nothing
    for SystemExit's argument)."""
    sys.stderr.write(msg + "\n")
    sys.exit(2)


def parse_args(argv):
    opts = {"netif": "tap", "tap": None, "ip": "198.51.100.2", "host_ip": "198.51.100.1",
            "prefix": "24", "mac": "02:00:00:00:00:02", "gw": None, "set": [],
            "connect": None, "count": "1", "bytes": "4096", "app": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        if not a.startswith("--") or i + 1 >= len(argv):
            die(USAGE)
        key = a[2:].replace("-", "_")
        if key not in opts:
            die("run.py: unknown option " + a + "\n" + USAGE)
        if key == "set":
            opts["set"].append(argv[i + 1])
        else:
            opts[key] = argv[i + 1]
        i += 2
    return opts


class SignalFd:
    """SIGINT, SIGTERM and SIGUSR1 blocked and read from a signalfd."""

    def __init__(self, sigs):
        self.fd = zcsys.signalfd(sigs)

    def take(self):
        """The next pending signal number, or 0."""
        return zcsys.signalfd_take(self.fd)


def pid_file(rundir, name):
    """This namespace's PID file for TAP `name`."""
    return "%s/%s.net%d.pid" % (rundir, name, zcsys.netns_id())


def pid_in(path):
    """The PID recorded in `path` when that process still exists, or None."""
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.stat("/proc/%d" % pid)
        return pid
    except (OSError, ValueError):
        return None


def open_tap(name, attach):
    import zctap
    return zctap.TAP(name=name, rx_ring=config.TAP_RX_RING, tx_ring=config.TAP_TX_RING)


# NETIF -> opener(name, attach): a driver whose wire is TAP `name` (created,
# or an existing one when attach). A MAC's model NETIF adds one line here.
NETIFS = {"tap": open_tap}


def make_driver(netif, name, attach, pidfile):
    opener = NETIFS.get(netif)
    if opener is None:
        die("run.py: unknown NETIF %s (have: %s)" % (netif, ", ".join(sorted(NETIFS))))
    if attach and not zcsys.if_nametoindex(name):
        die("run.py: no device %s in this network namespace: --tap (make run TAP=%s) "
            "attaches to an existing TAP; leave it out to create zc0" % (name, name))
    try:
        return opener(name, attach)
    except ImportError:
        die("run.py: NETIF %s: its driver is not in this build" % netif)
    except OSError as e:
        if e.errno != EBUSY:
            die("run.py: cannot open TAP %s: %s" % (name, e))
        pid = pid_in(pidfile)
        if pid is not None:
            die("run.py: %s is in use, by PID %d (%s)" % (name, pid, pidfile))
        die("run.py: %s is in use by another process (not a run.py of this "
            "namespace: no %s)" % (name, pidfile))


def sh(cmd):
    if os.system(cmd) != 0:
        die("run.py: failed: " + cmd)


def snapshot(st):
    """The stack's snapshot and the heap after a collection (what a
    connection costs is measured from it)."""
    snap = st.snapshot()
    gc.collect()
    snap["heap"] = {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
    return snap


def run_app(path, runner, state):
    """Run the user's program with our socket module as `socket`."""
    from stack import socket as zsocket
    from stack import zselect
    zsocket.attach(runner)
    sys.modules["socket"] = zsocket
    sys.modules["usocket"] = zsocket
    # select.poll (and asyncio, which polls through it) drives the stack
    sys.modules["select"] = zselect
    sys.modules["uselect"] = zselect
    try:
        with open(path) as f:
            src = f.read()
    except OSError as e:
        print("APP " + json.dumps({"status": "error", "error": "cannot read %s: %s" % (path, e)}))
        return
    status = {"status": "ok"}
    state["in_app"] = True
    try:
        exec(compile(src, path, "exec"), {"__name__": "__main__", "__file__": path})
    except KeyboardInterrupt:
        status = {"status": "stopped"}
    except SystemExit as e:
        status = {"status": "ok", "exit": e.args[0] if e.args else None}
    except Exception as e:      # the program's error: reported, the stack goes on
        if hasattr(sys, "print_exception"):
            sys.print_exception(e)
        status = {"status": "error", "error": "%s: %s" % (type(e).__name__, e)}
    state["in_app"] = False
    print("APP " + json.dumps(status))


def main():
    opts = parse_args(sys.argv[1:])
    for kv in opts["set"]:
        if "=" not in kv:
            die("run.py: --set wants NAME=VALUE, got " + kv)
        k, v = kv.split("=", 1)
        try:
            config.override(k, v)
        except KeyError as e:
            die("run.py: " + str(e.args[0]))
        except ValueError:
            die("run.py: bad value for %s: %s" % (k, v))
    # Check every address before touching any interface.
    try:
        mac = mac_parse(opts["mac"])
        ip = ip_parse(opts["ip"])
        host_ip = ip_parse(opts["host_ip"])
        gw = ip_parse(opts["gw"]) if opts["gw"] else None
        prefix = int(opts["prefix"])
        if not 0 < prefix <= 30:
            raise ValueError("prefix")
        client = None
        if opts["connect"]:
            a, p = opts["connect"].rsplit(":", 1)
            client = (ip_parse(a), int(p), int(opts["count"]), int(opts["bytes"]))
            if not (0 < client[1] < 65536 and client[2] >= 0 and 0 < client[3]):
                raise ValueError("--connect/--count/--bytes")
    except ValueError as e:
        die("run.py: bad address or prefix (%s)\n%s" % (e, USAGE))
    here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
    if here == "tools":
        top = "."
    elif here.endswith("/tools"):
        top = here[:-6] or "/"
    else:
        top = here + "/.."
    sigs = SignalFd((SIGINT, SIGTERM, SIGUSR1))
    attach = opts["tap"] is not None
    name = opts["tap"] or "zc0"
    rundir = top + "/.run"
    drv = make_driver(opts["netif"], name, attach, pid_file(rundir, name))
    name = getattr(drv, "name", name)
    # any IMPAIR_* knob set (--set): the impairment layer between driver and
    # stack (stack/impair.py); all zero: not inserted at all
    now0 = time.ticks_ms() & TICKS_MAX
    raw = drv
    drv = impair_from_config(raw, now_ms=now0)
    impaired = drv is not raw
    if not attach:
        sh("ip addr add %s/%d dev %s" % (ip_str(host_ip), prefix, name))
        sh("ip link set %s up" % name)
    st = Stack(drv, mac, ip, prefix, gw, now_ms=now0)
    try:
        os.mkdir(rundir)
    except OSError:
        pass
    pid = zcsys.getpid()
    pidfile = pid_file(rundir, name)
    with open(pidfile, "w") as f:
        f.write("%d\n" % pid)

    st.udp.bind_echo(config.UDP_ECHO_PORT)
    services.echo(st.tcp, 7)
    services.discard(st.tcp, 9)
    services.source(st.tcp, 19)
    services.qotd(st.tcp, 17)
    if client is not None:
        client = services.Client(st.tcp, *client)
    # the poll loop: the driver (a C driver answers MP_STREAM_GET_FILENO; the
    # Python layer gives its fd) and the signalfd
    runner = Runner(st, drv.fileno() if impaired else drv)
    state = {"running": True, "in_app": False}

    def on_signal(fd):
        s = sigs.take()
        while s:
            if s == SIGUSR1:
                print(json.dumps(snapshot(st)))
            elif s in (SIGTERM, SIGINT):
                state["running"] = False
                if state["in_app"]:
                    state["in_app"] = False
                    raise KeyboardInterrupt
            s = sigs.take()

    runner.add_fd(sigs.fd, on_signal)
    if client is not None:
        state["client"] = client

        def kick():
            c = state["client"]
            if c is None:
                return False
            if c.kick():
                return True             # its SYN goes out in the next poll
            if c.done is not None:
                print("CLIENT " + json.dumps(c.done))
                state["client"] = None
            return False
        runner.hooks.append(kick)
    # Collect early and often: a small live heap is collected in well under a
    # millisecond, while letting it fill (1-2 MB here) makes every allocation
    # near the end slow (per connection: 0.7 ms of CPU against 0.3, measured)
    gc.collect()
    gc.threshold((gc.mem_free() + gc.mem_alloc()) // 8)
    st.up()
    print("READY " + json.dumps({"tap": name, "netif": opts["netif"], "ip": ip_str(st.ip_addr),
                                 "mac": opts["mac"], "pid": pid, "impair": impaired,
                                 "pidfile": pidfile}))
    if opts["app"]:
        run_app(opts["app"], runner, state)
    while state["running"]:
        runner.step()
    if opts["app"]:
        from stack import socket as zsocket
        zsocket.close_all()         # what the program left open goes back to the pool
    st.shutdown()
    snap = st.snapshot()
    try:
        os.unlink(pidfile)
    except OSError:
        pass
    print("STOPPED " + json.dumps(snap))


main()
