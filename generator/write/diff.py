"""The dry run's output: a git-style unified diff that `git apply` (or `patch -p1`) accepts.

Secret files (git-ignored, 0600: cloud-init user-data with the join token,
the age key) are named but their content is not printed: a dry run often
ends up in a terminal scrollback or a CI log.
"""

from __future__ import annotations

from collections.abc import Iterable

from .reconcile import FileUpdate

_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(updates: Iterable[FileUpdate]) -> str:
    return "".join(_file_diff(u) for u in sorted(updates, key=lambda u: u.path))


def _file_diff(update: FileUpdate) -> str:
    path = update.path
    if update.secret:
        what = "created" if update.before is None else "removed" if update.after is None else "changed"
        return f"# secret file {path} would be {what} (content not shown)\n"
    mode = "100755" if update.mode & 0o111 else "100644"
    header = f"diff --git a/{path} b/{path}\n"
    if update.before is None:
        header += f"new file mode {mode}\n"
    elif update.after is None:
        header += "deleted file mode 100644\n"
    old_name = f"a/{path}" if update.before is not None else "/dev/null"
    new_name = f"b/{path}" if update.after is not None else "/dev/null"
    try:
        old = _split_lines((update.before or b"").decode("utf-8"))
        new = _split_lines((update.after or b"").decode("utf-8"))
    except UnicodeDecodeError:
        return header + f"Binary files {old_name} and {new_name} differ\n"
    hunks = "".join(_hunks(old, new))
    if not hunks:
        return header  # an empty file created or removed
    return header + f"--- {old_name}\n+++ {new_name}\n" + hunks


def _split_lines(text: str) -> list[str]:
    # Only "\n" ends a line for diff and patch; str.splitlines would also split at \r, \f, \u2028 …
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _hunks(old: list[str], new: list[str], context: int = 3) -> Iterable[str]:
    import difflib  # only a dry run prints a diff

    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from _lines(" ", old[i1:i2])
                continue
            yield from _lines("-", old[i1:i2])
            yield from _lines("+", new[j1:j2])


def _lines(prefix: str, lines: list[str]) -> Iterable[str]:
    for line in lines:
        if line.endswith("\n"):
            yield prefix + line
        else:
            yield prefix + line + "\n" + _NO_NEWLINE


def _range(start: int, stop: int) -> str:
    length = stop - start
    beginning = start + 1 if length else start
    return f"{beginning}" if length == 1 else f"{beginning},{length}"
