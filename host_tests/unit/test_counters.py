# The counter schema (stack/counters.py) and its generated doc stay in step.
# Runs on both lanes.
from stack import counters
from support import read_text, is_lower_identifier


def test_names_unique():
    seen = set()
    for n in counters.NAMES:
        assert n not in seen, "duplicate counter " + n
        seen.add(n)


def test_names_are_lowercase_identifiers():
    for n in counters.NAMES:
        assert is_lower_identifier(n), "bad counter name %r" % n


def test_every_name_has_a_meaning():
    for entry in counters.SCHEMA:
        assert len(entry) == 2
        name, meaning = entry
        assert isinstance(meaning, str) and meaning.strip(), name


def test_names_match_schema():
    assert tuple(counters.NAMES) == tuple(n for n, _ in counters.SCHEMA)


def test_new_is_all_zeros():
    d = counters.new()
    assert sorted(d.keys()) == sorted(counters.NAMES)
    for n in counters.NAMES:
        assert d[n] == 0, n
    # a fresh dict each time: one stack's counters never alias another's
    e = counters.new()
    e[counters.NAMES[0]] += 1
    assert d[counters.NAMES[0]] == 0


def _doc_names(section="# Stack counters"):
    """The names in the table under the heading `section` of docs/counters.md."""
    names = []
    inside = False
    for line in read_text("docs/counters.md").split("\n"):
        if line.startswith("#"):
            inside = line == section
            continue
        if not inside or not line.startswith("| `"):
            continue
        cell = line.split("|")[1].strip()
        names.append(cell.strip("`"))
    return names


def test_doc_lists_exactly_the_schema():
    assert _doc_names() == list(counters.NAMES), \
        "docs/counters.md is stale: run python3 tools/gen_counters_doc.py"
    assert _doc_names("## Impairment layer") == [n for n, _ in counters.IMPAIR_SCHEMA], \
        "docs/counters.md is stale: run python3 tools/gen_counters_doc.py"

