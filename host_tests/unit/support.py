# Helpers for unit tests that run on both lanes: CPython (pytest) and
# MicroPython (host_tests/mpy/runner.py). No pytest imports at module level.
import sys

MICROPYTHON = sys.implementation.name == "micropython"


def _dirname(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else ("/" if i == 0 else ".")


# host_tests/unit/support.py -> repo root
REPO_ROOT = _dirname(_dirname(_dirname(__file__)))


class SkipTest(Exception):
    """Raised by skip() on MicroPython; the runner reports it as skipped."""


def skip(reason):
    """Skip the running test on either lane."""
    if not MICROPYTHON:
        import pytest
        pytest.skip(reason)
    raise SkipTest(reason)


def raises(exc_type, fn, *args, **kw):
    """Call fn(*args, **kw); it must raise exc_type. Returns the exception."""
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (
        getattr(fn, "__name__", repr(fn)), getattr(exc_type, "__name__", repr(exc_type))))


def read_text(relpath):
    """A file of the repository as str (relpath from the repo root)."""
    with open(REPO_ROOT + "/" + relpath) as f:
        return f.read()


def is_lower_identifier(name):
    """[a-z_][a-z0-9_]*: MicroPython's str has no isidentifier()."""
    if not name:
        return False
    for i, c in enumerate(name):
        if c == "_" or ("a" <= c <= "z"):
            continue
        if i > 0 and "0" <= c <= "9":
            continue
        return False
    return True
