#!/usr/bin/env python3
"""Render docs/counters.md from stack/counters.py's SCHEMA.

    python3 tools/gen_counters_doc.py           write docs/counters.md
    python3 tools/gen_counters_doc.py --check   exit 1 if the file is out of date
"""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "docs", "counters.md")


def render(schema):
    lines = [
        "# Stack counters",
        "",
        "Generated from `stack/counters.py` by `tools/gen_counters_doc.py`;",
        "do not edit by hand. A meaning that starts with `drop:` counts discarded packets.",
        "",
        "| name | meaning |",
        "|---|---|",
    ]
    for name, meaning in schema:
        lines.append("| `%s` | %s |" % (name, meaning.replace("|", "\\|")))
    return "\n".join(lines) + "\n"


def main(argv):
    sys.path.insert(0, TOP)
    from stack import counters
    text = render(counters.SCHEMA)
    if "--check" in argv:
        try:
            with open(OUT) as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old != text:
            print("docs/counters.md is out of date: run tools/gen_counters_doc.py", file=sys.stderr)
            return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
