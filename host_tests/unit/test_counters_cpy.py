# CPython only: the generated doc is byte-for-byte what the generator makes now.
import subprocess
import sys

from support import REPO_ROOT


def test_counters_doc_up_to_date():
    r = subprocess.run([sys.executable, REPO_ROOT + "/tools/gen_counters_doc.py", "--check"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
