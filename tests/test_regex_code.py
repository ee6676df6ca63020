"""Compiled regular expressions kept per interpreter build (shared/regex_code.py): a pattern
from the table must be the pattern re compiles, code and all."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# What the program meets: a negated Unicode class (PyYAML's), case-blind alternations, verbose
# patterns with named groups, bytes, lookarounds, backreferences, inline and locale flags.
CORPUS = r'''
import re
CORPUS = [
    ("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]", 0),
    (r"\bGTX ?16\d\d|\bRTX ?20\d\d|\bT(4|400|600)\b", re.IGNORECASE),
    (r"""(?P<year>[0-9]{4}) - (?P<month>[0-9]{1,2})  # a date
         (?:[Tt](?P<hour>[0-9]{1,2}))?""", re.VERBOSE),
    (rb"^(?P<key>[a-z]+)=(?P<value>.*)$", re.MULTILINE),
    (rb"[\w.]+", re.LOCALE),
    (r"(?<=/)[^/]+(?=\.ya?ml$)", 0),
    (r"(['\"])(.*?)\1", re.DOTALL),
    (r"(?i)^(?:yes|no|on|off)$", 0),
    (r"[\s\S]{0,61}\w", re.ASCII),
    ("[a-z]+", 0),
    ("[a-z]+", re.IGNORECASE),  # the same text under other flags: another pattern
    ("", 0),
]
'''

SCRIPT = CORPUS + r'''
import json, sys
from generator.shared import regex_code as R
original = re._compiler.compile
R.cache_regex_code()
same = []
for pattern, flags in CORPUS:
    cached, fresh = re._compiler.compile(pattern, flags), original(pattern, flags)
    same.append(cached == fresh and cached.groupindex == fresh.groupindex and cached.groups == fresh.groups
                and cached.flags == fresh.flags and cached.pattern == fresh.pattern)
print(json.dumps({"same": same, "added": len(R._added), "used": len(R._used)}))
R.save_regex_code()
'''


def _run(tmp_path: Path, script: str = SCRIPT) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout.splitlines()[-1])


def _table(tmp_path: Path) -> Path:
    [table] = (tmp_path / "cache" / "clustergen" / "code").glob("regex-*.marshal")
    return table


def test_patterns_from_the_table_are_the_ones_re_compiles(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first["same"] == [True] * 12 and first["added"] == 12
    second = _run(tmp_path)
    assert second == {"same": [True] * 12, "added": 0, "used": 12}  # every one from the table


def _write(table: Path, entries: object, digest: bytes | None = None) -> None:
    payload = marshal.dumps(entries)
    table.write_bytes(marshal.dumps((digest if digest is not None else hashlib.sha256(payload).digest(), payload)))


@pytest.mark.parametrize("damage", ["garbage", "digest", "foreign code", "wrong types"])
def test_a_damaged_table_only_means_compiling_again(tmp_path: Path, damage: str) -> None:
    _run(tmp_path)
    table = _table(tmp_path)
    entries = marshal.loads(marshal.loads(table.read_bytes())[1])
    if damage == "garbage":
        table.write_bytes(b"not a table")
    elif damage == "digest":
        _write(table, entries, digest=b"\0" * 32)
    elif damage == "foreign code":  # what another engine might have written: _sre refuses it
        _write(table, {key: (value[0], value[1], [999999] * 4, *value[3:]) for key, value in entries.items()})
    else:
        _write(table, {key: "not arguments" for key in entries})
    again = _run(tmp_path)
    assert again["same"] == [True] * 12 and again["added"] == 12
    assert _run(tmp_path)["added"] == 0  # the table was written afresh


def test_patterns_compiled_side_by_side_in_threads_are_kept_each_as_its_own(tmp_path: Path) -> None:
    script = r'''
import json, re, sys, threading
from generator.shared import regex_code as R
original = re._compiler.compile
R.cache_regex_code()
sys.setswitchinterval(1e-6)  # threads change hands inside compiles, not only between them
patterns = [(f"(?P<g{i}>x{{{i}}})[a-{chr(97 + i % 26)}]+|y{i}", 0) for i in range(400)]
def work(part):
    for pattern, flags in part:
        re._compiler.compile(pattern, flags)
threads = [threading.Thread(target=work, args=(patterns[i::8],)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
import _sre
wrong = [p for p, f in patterns if _sre.compile(*R._table[(p, f)]) != original(p, f)]
print(json.dumps({"kept": len(R._table), "wrong": wrong}))
'''
    result = _run(tmp_path, script)
    assert result == {"kept": 400, "wrong": []}


@pytest.mark.parametrize(("limit", "kept"), [(13, 13), (12, 1)], ids=["at the limit: all", "over the limit: what this run used"])
def test_a_table_past_its_limit_is_rewritten_with_what_this_run_used(tmp_path: Path, limit: int, kept: int) -> None:
    _run(tmp_path)
    script = CORPUS + f'''
import json
from generator.shared import regex_code as R
R.MAX_ENTRIES = {limit}
R.cache_regex_code()
re._compiler.compile("a new one", 0)
R.save_regex_code()
print(json.dumps({{}}))
'''
    _run(tmp_path, script)
    entries = marshal.loads(marshal.loads(_table(tmp_path).read_bytes())[1])
    assert len(entries) == kept  # the corpus's 12 and the new one, or the new one alone
    assert ("a new one", 0) in entries


def test_the_program_uses_the_table_and_a_library_caller_keeps_re_as_it_is(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    program = [sys.executable, "-m", "generator.cli", "plan", str(EXAMPLES / "mixed-shelf.yaml")]
    subprocess.run(program, cwd=ROOT, env=env, capture_output=True, check=True, timeout=120)
    entries = marshal.loads(marshal.loads(_table(tmp_path).read_bytes())[1])
    assert len(entries) > 50  # PyYAML's, Jinja's, the standard library's and clustergen's own
    library = ("import re, sys\nfrom generator.cli import main\nmain(['schema'])\n"
               "print(getattr(re._compiler.compile, '_clustergen_cached', False), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", library], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60)
    assert done.stderr.strip() == "False"


def test_a_scanner_and_a_pattern_to_debug_bypass_the_table(tmp_path: Path) -> None:
    script = r'''
import io, json, re, contextlib
from generator.shared import regex_code as R
R.cache_regex_code()
scanner = re.Scanner([(r"[0-9]+", lambda s, t: int(t)), (r"\s+", None)])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    re.compile("ab+", re.DEBUG)
print(json.dumps({"scanned": scanner.scan("1 22 333")[0], "printed": bool(out.getvalue()), "kept": len(R._table)}))
'''
    assert _run(tmp_path, script) == {"scanned": [1, 22, 333], "printed": True, "kept": 0}
