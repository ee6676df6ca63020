"""collector_paused: the collector is off inside, on again after (also after an error), and a
collector that was off before stays off."""

from __future__ import annotations

import gc

import pytest

from generator.inventory import load_inventory_text
from generator.shared.collector import collector_paused


@collector_paused
def state(fail: bool = False) -> bool:
    if fail:
        raise ValueError("boom")
    return gc.isenabled()


def test_paused_inside_and_restored() -> None:
    assert gc.isenabled()
    assert state() is False
    assert gc.isenabled()
    with pytest.raises(ValueError):
        state(fail=True)
    assert gc.isenabled()


def test_nested_and_already_off() -> None:
    @collector_paused
    def outer() -> tuple[bool, bool]:
        inner = state()
        return inner, gc.isenabled()

    assert outer() == (False, False)
    assert gc.isenabled()
    gc.disable()
    try:
        assert state() is False
        assert not gc.isenabled(), "a collector the caller switched off stays off"
    finally:
        gc.enable()


def test_inventory_load_restores_it_on_an_error() -> None:
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do; the collector is the point
        load_inventory_text("apiVersion: [", "inventory.yaml")
    assert gc.isenabled()


def test_validate_reads_the_files_with_the_collector_paused(tmp_path, monkeypatch) -> None:
    """Every parsed document stays alive to the end of a validation, so the collector only
    walked them (on 10,000 documents, a tenth of the run): it is paused for the whole run."""
    from generator.validate import ValidateOptions, runner, scan

    seen: list[bool] = []
    original = scan.scan_file

    def watching(config, task):
        seen.append(gc.isenabled())
        return original(config, task)

    monkeypatch.setattr(scan, "scan_file", watching)
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    runner.validate_repository(tmp_path, ValidateOptions(jobs=1, cache_dir=tmp_path.parent / "cache", charts="local"))
    assert seen == [False]
    assert gc.isenabled()
    with pytest.raises(Exception):  # noqa: B017 - a refusal of the options; the collector is the point
        runner.validate_repository(tmp_path / "missing", ValidateOptions(jobs=1))
    assert gc.isenabled()
