"""Property: whatever lines the user inserts, deletes or replaces, regenerating never loses one
of their lines outside a marked conflict, and markers appear exactly where a conflict is reported."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.inventory import load_inventory_text
from generator.pipeline import render_base, render_files
from generator.plan import plan_cluster
from generator.shared import ClusterSecrets
from generator.write.layout import WRITE_ONCE_PATHS
from generator.write.merge import CONFLICT_START
from generator.write.reconcile import Reconciler
from generator.write.state import GenerationState, digest

from .conftest import EXAMPLES, TEST_TOKEN, seed_secrets
from .regen_helpers import add_node, move_timezone, remove_node


@dataclass
class Variant:
    files: list  # the new render
    base: dict[str, bytes]


@dataclass
class Renders:
    old: dict[str, bytes]
    state: GenerationState
    variants: dict[str, Variant]


def _render(text: str, secrets: ClusterSecrets, seeded: Path) -> list:
    inventory, warnings = load_inventory_text(text, "inventory.yaml")
    return render_files(plan_cluster(inventory, warnings), secrets, text, seeded)


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Renders:
    seeded = tmp_path_factory.mktemp("seeded")
    seed_secrets(seeded)
    secrets = ClusterSecrets(k3s_token=TEST_TOKEN)
    old_text = (EXAMPLES / "mixed-shelf.yaml").read_text()
    old_files = _render(old_text, secrets, seeded)
    state = GenerationState(files={f.path: digest(f.content) for f in old_files}, inventory=old_text)
    variants = {}
    for name, text in {
        "add a node, move the timezone": move_timezone(add_node(old_text)),
        "remove pi2": remove_node(old_text, "pi2"),
    }.items():
        files = _render(text, secrets, seeded)
        base = render_base(state, secrets, text, files)
        assert base is not None
        variants[name] = Variant(files, base)
    return Renders({f.path: f.content for f in old_files}, state, variants)


EDITS = st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 10_000)), min_size=1, max_size=5)


@settings(max_examples=int(os.environ.get("CG_PROP_EXAMPLES", "25")), deadline=None, database=None)
@given(data=st.data())
def test_no_user_line_is_lost(renders: Renders, data: st.DataObject) -> None:
    variant = renders.variants[data.draw(st.sampled_from(sorted(renders.variants)), label="inventory change")]
    # Ciphertext is never merged: the store and the encrypted Secrets made from it (the apps'
    # logins) are replaced whole, as the reconciler documents.
    editable = sorted(p for p in renders.old if p not in WRITE_ONCE_PATHS and not p.endswith(".sops.yaml"))
    new = {f.path: f.content for f in variant.files}
    # Mostly files the inventory change touches: edits elsewhere merge trivially.
    changing = sorted(p for p in editable if new.get(p) != renders.old[p])
    pick = st.one_of(st.sampled_from(changing), st.sampled_from(changing), st.sampled_from(editable))
    paths = data.draw(st.lists(pick, min_size=1, max_size=6, unique=True), label="edited files")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        for path, content in renders.old.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_bytes(content)
        edited: dict[str, bytes] = {}
        for path in paths:
            lines = renders.old[path].decode().split("\n")
            for n, (op, position) in enumerate(data.draw(EDITS, label=f"edits of {path}")):
                mine = f"# user line {n} of {path}"
                if op == "insert" or not lines:
                    lines.insert(position % (len(lines) + 1), mine)
                elif op == "delete":
                    del lines[position % len(lines)]
                else:
                    lines[position % len(lines)] = mine
            edited[path] = "\n".join(lines).encode()
            (repo / path).write_bytes(edited[path])

        report = Reconciler(repo, renders.state, variant.base).run(variant.files)

    after = {u.path: u.after for u in report.updates}
    for path, mine in edited.items():
        if mine == renders.old[path]:
            continue  # the edits cancelled out: an untouched file, rightly replaced or removed
        final = after.get(path, mine)
        assert final is not None, f"{path}: the user's edited file was removed"
        user_lines = [line for line in mine.decode().split("\n") if line.startswith("# user line ")]
        final_lines = final.decode().split("\n")
        for line in user_lines:
            assert line in final_lines, f"{path}: lost {line!r}"
        marked = final.startswith(CONFLICT_START) or b"\n" + CONFLICT_START in final
        assert marked == (path in report.conflicts or path in report.unresolved), path
