"""The MicroPython lane as a pytest plugin.

- host_tests/unit/test_*.py (except *_cpy.py) run on CPython as ordinary
  pytest modules AND on MicroPython: each test function also becomes an item
  `host_tests/unit/test_x.py::mpy::test_y`.
- host_tests/mpy/test_*.py are MicroPython-only (CPython never imports them);
  they run inside a fresh private network namespace (`unshare -n`, lo up,
  IPv6 off), for tests that need a TAP device.
- host_tests/mpy/test_driver_contract.py, the driver-contract suite, is
  collected once per NETIF in CONTRACT_NETIFS, as
  `host_tests/mpy/test_driver_contract.py::mpy[tap]::test_x`; each NETIF runs
  in its own MicroPython process (and netns) with ZC_NETIF set. A NETIF listed
  here whose driver is not built in fails; it is never skipped.
- Every MicroPython item exists once per width: `::mpy::` runs on the 64-bit
  binary (ZC_MICROPYTHON, default build/unix/micropython), `::mpy32::` (and
  `::mpy32[tap]::`) on the 32-bit one (ZC_MICROPYTHON32, default
  build/unix32/micropython, `make build BITS=32`), whose small ints stop at
  2^30 as on the boards. A missing binary fails its items; never skipped.

One MicroPython process per module runs all of its selected tests
(host_tests/mpy/runner.py) and prints one JSON line per test; each item waits
for its own line. Every process has a time limit (ZC_MPY_TIMEOUT, default 120 s).
When a group's process starts, the next group's is started too (two
MicroPython processes at a time: the suite's time on a 2-core machine).
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_TESTS = os.path.join(ROOT, "host_tests")
UNIT_DIR = os.path.join(HOST_TESTS, "unit")
MPY_DIR = os.path.join(HOST_TESTS, "mpy")
RUNNER = os.path.join(MPY_DIR, "runner.py")
MPY_BIN = os.environ.get("ZC_MICROPYTHON", os.path.join(ROOT, "build", "unix", "micropython"))
MPY_BIN32 = os.environ.get("ZC_MICROPYTHON32", os.path.join(ROOT, "build", "unix32", "micropython"))
# (group name prefix, binary, how to build it)
WIDTHS = (("mpy", MPY_BIN, "make build"), ("mpy32", MPY_BIN32, "make build BITS=32"))
MPY_TIMEOUT_S = float(os.environ.get("ZC_MPY_TIMEOUT", "120"))
LIST_TIMEOUT_S = 30

# The driver-contract suite and the NETIFs it runs for (DESIGN.md: "one
# driver-contract test suite, parametrised by NETIF"). A new MAC: add its
# factory to host_tests/mpy/contract_wires.py and its name here.
CONTRACT_MODULE = os.path.join(MPY_DIR, "test_driver_contract.py")
CONTRACT_NETIFS = ("tap", "memif", "memif+impair", "tap+impair", "stm32sim", "stm32sim-enh",
                   "c6747sim", "c6747sim+impair")

# Make `import stack` resolve to the source tree in the CPython lane too.
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _is_test_file(path):
    name = os.path.basename(str(path))
    return name.startswith("test_") and name.endswith(".py")


def _lane_of(path):
    """'unit' (both lanes), 'mpy' (MicroPython only, in a netns) or None."""
    path = str(path)
    d = os.path.dirname(path)
    if not _is_test_file(path):
        return None
    if d == UNIT_DIR and not path.endswith("_cpy.py"):
        return "unit"
    if d == MPY_DIR:
        return "mpy"
    return None


# ---------------------------------------------------------------- collection

def pytest_pycollect_makemodule(module_path, parent):
    # MicroPython-only modules: never let CPython import them.
    if _lane_of(module_path) == "mpy":
        return MpyFile.from_parent(parent, path=module_path)
    return None


def pytest_collect_file(file_path, parent):
    # Unit modules: CPython collects them as usual; add the MicroPython twin.
    if _lane_of(file_path) == "unit":
        return MpyFile.from_parent(parent, path=file_path)
    return None


_DEF_RE = re.compile(r"^def\s+(test_\w+)\s*\(", re.M)


def _names_by_regex(path):
    with open(path) as f:
        return list(dict.fromkeys(_DEF_RE.findall(f.read())))


def _wrap_cmd(lane, argv):
    """Run argv directly (unit) or in a fresh private netns (mpy)."""
    if lane != "mpy":
        return argv
    setup = ("ip link set lo up && "
             "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 && "
             "exec " + " ".join(shlex.quote(a) for a in argv))
    # Root makes a plain netns; otherwise a user namespace maps us to root.
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    return unshare + ["sh", "-c", setup]


def _mpy_env(extra):
    env = dict(os.environ)
    env.pop("MICROPYPATH", None)   # the runner sets the path: source tree first
    env.update(extra)
    return env


class MpyFile(pytest.File):
    """One test module as seen by the MicroPython lane."""

    def collect(self):
        lane = _lane_of(self.path)
        for prefix, binary, how in WIDTHS:
            if str(self.path) == CONTRACT_MODULE:
                # One group (one process) per NETIF.
                for netif in CONTRACT_NETIFS:
                    yield MpyGroup.from_parent(self, name="%s[%s]" % (prefix, netif), lane=lane,
                                               binary=binary, how=how, env={"ZC_NETIF": netif})
            else:
                yield MpyGroup.from_parent(self, name=prefix, lane=lane, binary=binary, how=how)


class MpyGroup(pytest.Collector):
    def __init__(self, *, lane, binary, how, env=None, **kw):
        super().__init__(**kw)
        self.lane = lane
        self.binary = binary         # the MicroPython binary its process runs
        self.how = how               # how to build that binary (for the error)
        self.env = dict(env or {})   # extra environment of its MicroPython process

    def _names(self):
        path = str(self.path)
        if os.access(self.binary, os.X_OK):
            try:
                r = subprocess.run(_wrap_cmd(self.lane, [self.binary, RUNNER, "--list", path]),
                                   cwd=ROOT, capture_output=True, text=True,
                                   timeout=LIST_TIMEOUT_S, stdin=subprocess.DEVNULL,
                                   env=_mpy_env(self.env))
                if r.returncode == 0:
                    for line in r.stdout.splitlines():
                        if line.startswith("["):
                            return json.loads(line)
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass
        # No binary, or the module does not import: list by source; the
        # items then fail with the real reason when they run.
        return _names_by_regex(path)

    def collect(self):
        for name in self._names():
            yield MpyItem.from_parent(self, name=name)


class MpyFailure(Exception):
    pass


class MpyItem(pytest.Item):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.lane = self.parent.lane
        # The whole module shares one process; let a slow module outlive the
        # per-test limit of pytest-timeout (the process has its own limit).
        self.add_marker(pytest.mark.timeout(MPY_TIMEOUT_S + 30))
        self.add_marker(pytest.mark.micropython)

    def runtest(self):
        run = _module_run(self.session, self.parent)
        rec = run.result(self.name)
        self._mpy_output = rec.get("output", "")
        if rec.get("skipped") is not None and rec.get("ok"):
            pytest.skip(rec["skipped"])
        if not rec.get("ok"):
            raise MpyFailure(rec.get("error") or "failed (no detail)")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MpyFailure):
            text = "MicroPython lane: %s::%s::%s\n%s" % (
                os.path.relpath(str(self.path), ROOT), self.parent.name, self.name,
                excinfo.value.args[0])
            out = getattr(self, "_mpy_output", "")
            if out:
                text += "\n----- output of the test -----\n" + out
            return text
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, "%s::%s" % (self.parent.name, self.name)


# ------------------------------------------------- CPython lane isolation

_POOL_DEFAULTS = {}


@pytest.fixture(autouse=True, scope="module")
def _pool_limits_per_module(request):
    """Each unit module starts with the pool's default quotas and reserve, as
    it does on MicroPython (a fresh process per module): a Stack built by an
    earlier module sets its own quotas on the one shared pool twin. Held
    blocks are not touched: a leak must stay visible."""
    if os.path.dirname(str(request.path)) != UNIT_DIR:
        yield
        return
    from stack.pool import pool
    if not _POOL_DEFAULTS:
        st = pool.stats()
        _POOL_DEFAULTS["quota"] = list(st["quota"])
        _POOL_DEFAULTS["reserve"] = st["reserve"]
        _POOL_DEFAULTS["hdr_quota"] = list(st["hdr_quota"])
    else:
        for h, n in enumerate(_POOL_DEFAULTS["quota"]):
            pool.set_quota(h, n)
        for h, n in enumerate(_POOL_DEFAULTS["hdr_quota"]):
            pool.set_hquota(h, n)
        pool.set_reserve(_POOL_DEFAULTS["reserve"])
    yield


# ---------------------------------------------------------------- running

class ModuleRun:
    """One MicroPython process running the selected tests of one module."""

    def __init__(self, path, lane, names, binary, how, env=None):
        self.binary = binary
        self.how = how
        self.path = path
        self.lane = lane
        self.names = names
        self.env = dict(env or {})
        self.results = {}
        self.cond = threading.Condition()
        self.finished = False
        self.fatal = None          # reason every remaining test fails with
        self.stderr = ""
        self._pending_output = []
        self._start()

    def _start(self):
        if not os.access(self.binary, os.X_OK):
            self.fatal = ("MicroPython binary %s is missing: run `%s` first "
                          "(the MicroPython lane is never skipped)." % (self.binary, self.how))
            self.finished = True
            return
        argv = _wrap_cmd(self.lane, [self.binary, RUNNER, str(self.path)] + list(self.names))
        self.cmd = " ".join(["%s=%s" % (k, shlex.quote(v)) for k, v in sorted(self.env.items())]
                            + [shlex.quote(a) for a in argv])
        self.deadline = time.monotonic() + MPY_TIMEOUT_S
        env = _mpy_env(self.env)
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace", env=env,
                                     start_new_session=True)
        self._err_chunks = []
        threading.Thread(target=self._read_err, daemon=True).start()
        threading.Thread(target=self._read_out, daemon=True).start()

    def _read_err(self):
        for line in self.proc.stderr:
            self._err_chunks.append(line)

    def _read_out(self):
        for line in self.proc.stdout:
            if line == "\n":
                continue  # the runner's record separator
            rec = None
            if line.startswith("{"):
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = None
            with self.cond:
                if isinstance(rec, dict) and "name" in rec and "ok" in rec:
                    rec["output"] = "".join(self._pending_output)
                    self._pending_output = []
                    self.results[rec["name"]] = rec
                elif isinstance(rec, dict) and "import_error" in rec:
                    self.fatal = "the module failed to import on MicroPython:\n" + rec["import_error"]
                elif isinstance(rec, dict) and rec.get("done"):
                    pass
                else:
                    self._pending_output.append(line)
                self.cond.notify_all()
        rc = self.proc.wait()
        with self.cond:
            self.finished = True
            self.returncode = rc
            self.cond.notify_all()

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _stderr_tail(self):
        return "".join(self._err_chunks)[-4000:]

    def result(self, name):
        with self.cond:
            while name not in self.results and not self.finished:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 1.0))
            if name in self.results:
                return self.results[name]
            if self.fatal:
                return {"name": name, "ok": False, "error": self.fatal}
            pending = "".join(self._pending_output)[-4000:]
        if not self.finished:
            self._kill()
            self.proc.wait(10)
            why = ("TIMEOUT: the MicroPython process ran past %.0f s (ZC_MPY_TIMEOUT) "
                   "and was killed before %s reported." % (MPY_TIMEOUT_S, name))
            with self.cond:
                self.fatal = why
                self.finished = True
        else:
            rc = self.proc.returncode
            if rc is not None and rc < 0:
                how = "died with signal %d" % -rc
            else:
                how = "exited with status %s" % rc
            why = "CRASH: the MicroPython process %s before %s reported." % (how, name)
        why += "\ncommand: %s" % self.cmd
        if pending:
            why += "\n----- stdout since the last result -----\n" + pending
        tail = self._stderr_tail()
        if tail:
            why += "\n----- stderr -----\n" + tail
        return {"name": name, "ok": False, "error": why}

    def close(self):
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self._kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


_RUNS_KEY = pytest.StashKey[dict]()
_ORDER_KEY = pytest.StashKey[list]()


def _start_run(session, group):
    runs = session.stash.setdefault(_RUNS_KEY, {})
    key = group.nodeid            # one process per group: per module, width, NETIF
    if key not in runs:
        # Run only the items of this group that survived selection (-k, ids).
        names = [it.name for it in session.items
                 if isinstance(it, MpyItem) and it.parent is group]
        runs[key] = ModuleRun(str(group.path), group.lane, names or [], group.binary,
                              group.how, group.env)
    return runs[key]


def _module_run(session, group):
    run = _start_run(session, group)
    # Start the next group's process now, so two run side by side (2 cores).
    # Its time limit counts from its own start.
    groups = session.stash.get(_ORDER_KEY, None)
    if groups is None:
        groups = []
        for it in session.items:
            if isinstance(it, MpyItem) and (not groups or groups[-1] is not it.parent):
                groups.append(it.parent)
        session.stash[_ORDER_KEY] = groups
    for i, g in enumerate(groups):
        if g is group and i + 1 < len(groups):
            _start_run(session, groups[i + 1])
            break
    return run


# pytest reads "[...]" in a node id as the parametrization of its LAST part,
# so it cannot resolve an argument such as
# `host_tests/mpy/test_driver_contract.py::mpy[tap]::test_ring_wrap`. Such an
# argument is turned into its group (`...::mpy[tap]`, which pytest resolves),
# and the group's other items are deselected afterwards.
_PICKS_KEY = pytest.StashKey[dict]()


def _group_arg(arg):
    """(path, group, test) for `path::group[x]::test`, (path, group, None) for
    `path::group[x]`, else None."""
    base, sq, rest = arg.partition("[")
    param, close, tail = rest.partition("]")
    if not sq or not close or "::" not in base or (tail and not tail.startswith("::")):
        return None
    strpath, group = base.split("::", 1)
    return strpath, "%s[%s]" % (group, param), (tail[2:] or None)


def pytest_sessionstart(session):
    args = session.config.args
    picks = {}          # (abs path, group) -> set of test names; None: whole group
    kept = []
    for a in args:
        g = _group_arg(a)
        if g is None or g[2] is None:
            kept.append(a)
            if g is not None:
                picks[(os.path.abspath(g[0]), g[1])] = None
            continue
        key = (os.path.abspath(g[0]), g[1])
        if key not in picks:
            picks[key] = set()
            kept.append("%s::%s" % (g[0], g[1]))
        if picks[key] is not None:
            picks[key].add(g[2])
    args[:] = kept
    session.stash[_PICKS_KEY] = picks


@pytest.hookimpl(tryfirst=True)   # before -k/-m deselect anything
def pytest_collection_modifyitems(session, config, items):
    picks = session.stash.get(_PICKS_KEY, {})
    if not any(picks.values()):
        return
    keep, drop, found = [], [], set()
    for it in items:
        key = want = None
        if isinstance(it, MpyItem):
            key = (os.path.abspath(str(it.path)), it.parent.name)
            want = picks.get(key)
        if want is not None and it.name not in want:
            drop.append(it)
        else:
            keep.append(it)
            found.add((key, it.name))
    for key, names in picks.items():
        for name in sorted(names or ()):
            if (key, name) not in found:
                raise pytest.UsageError("not found: %s::%s::%s" % (
                    os.path.relpath(key[0]), key[1], name))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session):
    for run in session.stash.get(_RUNS_KEY, {}).values():
        run.close()


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("timeout"):
        # Without pytest-timeout the marks are inert; keep them warning-free.
        config.addinivalue_line("markers", "timeout(seconds): per-test time limit (pytest-timeout)")
