# Every counter the stack's code moves is in the schema, and every schema
# name is moved somewhere: read from the source, not from SCHEMA itself.
import os
import re

from stack import counters
from stack.ipv4 import _TX_NAMES

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _used():
    names = set()
    d = os.path.join(TOP, "stack")
    for f in sorted(os.listdir(d)):
        # memif.py keeps a driver's counters (DRIVER_SCHEMA), impair.py its
        # own (IMPAIR_SCHEMA, below), not the stack's
        if f.endswith(".py") and f not in ("memif.py", "impair.py"):
            with open(os.path.join(d, f)) as fh:
                names |= set(re.findall(r'ctr\["([a-z0-9_]+)"\]', fh.read()))
    return names | set(_TX_NAMES)


def test_every_counter_moved_is_in_the_schema():
    missing = _used() - set(counters.NAMES)
    assert not missing, sorted(missing)


def test_every_schema_counter_is_moved_by_the_code():
    unused = set(counters.NAMES) - _used()
    assert not unused, sorted(unused)


def test_impair_counters_are_its_schema():
    with open(os.path.join(TOP, "stack", "impair.py")) as fh:
        used = set(re.findall(r'ctr\["(impair_[a-z0-9_]+)"\]', fh.read()))
    assert used == set(n for n, _ in counters.IMPAIR_SCHEMA)
