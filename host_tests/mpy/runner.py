# The MicroPython lane's test runner. Run BY MicroPython (the stripped tree has
# no unittest):
#
#   micropython host_tests/mpy/runner.py --list MODULE.py      one JSON list of test names
#   micropython host_tests/mpy/runner.py MODULE.py [NAME ...]  run tests, one JSON line each
#
# Each result line is {"name", "ok", "error", "skipped", "ms"}; the last line is
# {"done": true, "passed": n, "failed": m, "skipped": k}. Anything else on stdout
# is the tests' own output. host_tests/conftest.py turns the lines into pytest items.
import sys
import io
import json
import time


def _split(path):
    i = path.rfind("/")
    if i < 0:
        return ".", path
    return path[:i] or "/", path[i + 1:]


def _abspath(path):
    if path.startswith("/"):
        return path
    import os
    return os.getcwd() + "/" + path


def _setup_path(module_path):
    """Repo root first (the source tree wins over the frozen copy of `stack`),
    then the module's own folder (for helpers such as support.py). A module
    that must measure the frozen copy (test_zero_copy.py) puts ".frozen"
    first itself before it imports `stack`, and checks stack.__path__."""
    here = _split(_abspath(__file__ if "/" in __file__ else "./" + __file__))[0]
    root = _split(_split(here)[0])[0]  # host_tests/mpy -> repo root
    moddir, fname = _split(_abspath(module_path))
    # The runner's own folder (sys.path[0], maybe relative) must not shadow
    # the module's.
    if sys.path and sys.path[0] not in ("", ".frozen"):
        sys.path.pop(0)
    for p in (moddir, root, here):
        while p in sys.path:
            sys.path.remove(p)
    sys.path.insert(0, moddir)
    sys.path.insert(0, root)
    if not fname.endswith(".py"):
        raise ValueError("not a .py file: " + module_path)
    return fname[:-3]


def _source_order(path):
    """Test names in the order the module defines them (as pytest runs them)."""
    order = []
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("def test_"):
                    name = line[4:].split("(")[0].strip()
                    if name not in order:
                        order.append(name)
    except OSError:
        pass
    return order


def _tests(mod, path):
    names = [n for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n))]
    order = _source_order(path)
    first = [n for n in order if n in names]
    # Tests made at run time (not a plain `def`) come last, sorted.
    rest = [n for n in names if n not in first]
    rest.sort()
    return first + rest


def _emit(d):
    # Leading newline: a test's unterminated print() cannot glue onto the record.
    sys.stdout.write("\n")
    sys.stdout.write(json.dumps(d))
    sys.stdout.write("\n")
    try:
        sys.stdout.flush()
    except AttributeError:
        pass


def _trace(e):
    buf = io.StringIO()
    sys.print_exception(e, buf)
    return buf.getvalue()


def main(argv):
    listing = False
    if argv and argv[0] == "--list":
        listing = True
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: runner.py [--list] MODULE.py [TEST ...]\n")
        return 2
    modname = _setup_path(argv[0])
    wanted = argv[1:]
    try:
        mod = __import__(modname)
    except BaseException as e:  # import errors fail every test of the module
        if listing:
            sys.stderr.write(_trace(e))
            return 3
        _emit({"import_error": _trace(e)})
        return 3
    names = _tests(mod, _abspath(argv[0]))
    if listing:
        _emit(names)
        return 0
    if wanted:
        missing = [n for n in wanted if n not in names]
        for n in missing:
            _emit({"name": n, "ok": False, "error": "no such test in " + argv[0], "ms": 0})
        names = [n for n in names if n in wanted]
    passed = failed = skipped = 0
    for n in names:
        t0 = time.ticks_ms()
        rec = {"name": n, "ok": True, "error": None}
        try:
            getattr(mod, n)()
            passed += 1
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            if type(e).__name__ == "SkipTest":
                rec["skipped"] = str(e)
                skipped += 1
            else:
                rec["ok"] = False
                rec["error"] = _trace(e)
                failed += 1
        rec["ms"] = time.ticks_diff(time.ticks_ms(), t0)
        _emit(rec)
    _emit({"done": True, "passed": passed, "failed": failed, "skipped": skipped})
    return 0


sys.exit(main(sys.argv[1:]))
