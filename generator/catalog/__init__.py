"""Pinned versions, catalog apps and hardware profiles: data, not code."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from ..shared.cache import parsed_yaml_file

_HERE = Path(__file__).resolve().parent


def _load(name: str) -> Any:
    return parsed_yaml_file(_HERE / name)


@cache
def apps() -> dict[str, dict[str, Any]]:
    return _load("apps.yaml")["apps"]


@cache
def components_file() -> dict[str, Any]:
    return _load("components.yaml")


def components() -> dict[str, dict[str, Any]]:
    return components_file()["components"]


def component(key: str) -> dict[str, Any]:
    return components()[key]


@cache
def profiles() -> dict[str, dict[str, Any]]:
    return _load("profiles.yaml")["profiles"]


def k3s_version() -> str:
    return components_file()["k3s"]["version"]


def flux_version() -> str:
    return components_file()["flux"]["version"]


def kubernetes_version() -> str:
    return components_file()["kubernetes"]["version"]


def talos() -> dict[str, Any]:
    return components_file()["talos"]


def talos_version() -> str:
    return talos()["version"]


def talos_minor() -> str:
    """The release line of the pinned version: v1.13.9 -> 1.13."""
    return ".".join(talos_version().lstrip("v").split(".")[:2])


def talos_kubernetes_version() -> str:
    return talos()["kubernetes_version"]


@cache
def app_chart_defaults() -> dict[str, Any]:
    """charts/app's values.yaml: what every app starts from before its own values."""
    from ..resources import source_dir

    return parsed_yaml_file(source_dir("charts") / "app" / "values.yaml") or {}


def storage_backends() -> dict[str, dict[str, Any]]:
    """Storage backend key → its data (components, classes, node packages, README blurb)."""
    return components_file()["storage_backends"]


def storage_auto_order() -> list[str]:
    return components_file()["storage_auto_order"]
