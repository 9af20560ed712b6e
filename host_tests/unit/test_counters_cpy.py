# CPython only: the generated doc is byte-for-byte what the generator makes now.
import subprocess
import sys

from support import REPO_ROOT


def test_counters_doc_up_to_date():
    r = subprocess.run([sys.executable, REPO_ROOT + "/tools/gen_counters_doc.py", "--check"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _conforms(value, schema, where="snapshot"):
    """A small JSON-schema check: types, required keys, no unknown keys."""
    t = schema.get("type")
    kinds = {"object": dict, "array": list, "integer": int, "boolean": bool}
    if t:
        assert isinstance(value, kinds[t]), "%s: %r is not %s" % (where, value, t)
        if t == "integer":
            assert not isinstance(value, bool), where
            assert value >= schema.get("minimum", value), where
    if t == "object":
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            assert k in value, "%s: missing %s" % (where, k)
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                _conforms(v, props[k], where + "." + k)
            else:
                assert extra is not False, "%s: unknown key %s" % (where, k)
                if isinstance(extra, dict):
                    _conforms(v, extra, where + "." + k)
    if t == "array" and "items" in schema:
        for i, v in enumerate(value):
            _conforms(v, schema["items"], "%s[%d]" % (where, i))


def test_snapshot_matches_the_documented_schema():
    import json
    from stack.core import Stack
    from stack.memif import Memif
    from stack.pool import pool
    with open(REPO_ROOT + "/docs/snapshot.schema.json") as f:
        schema = json.load(f)
    drv = Memif()
    st = Stack(drv, b"\x02\x00\x00\x00\x00\x02", "198.51.100.2", 24)
    st.poll(0)
    _conforms(json.loads(json.dumps(st.snapshot())), schema)
    st.shutdown()
    _conforms(json.loads(json.dumps(st.snapshot())), schema)
    assert pool.nfree() == pool.NBLOCKS
