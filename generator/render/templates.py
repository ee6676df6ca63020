"""The Jinja environment over the top-level source folders (bases, overlays, bootstrap)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..errors import Problem, RenderError
from ..resources import data_root
from ..shared.cache import cache_folder, keep_newest
from .yamltext import check_syntax, to_yaml


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_root())),
        undefined=jinja2.StrictUndefined,  # a missing variable is an error, never a blank
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(),
        auto_reload=False,  # the templates ship with clustergen: no stat(2) of the source on every render
    )
    env.filters["to_yaml"] = to_yaml
    env.filters["yaml_string"] = yaml_string
    env.filters["quote"] = lambda v: '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return env


def yaml_string(value: str) -> str:
    """A string as a plain YAML scalar when it reads back as that string, else double-quoted
    ("2" stays a string, ext4 needs no quotes)."""
    import yaml

    try:
        plain = yaml.safe_load(value) == value and "\n" not in value and value.strip() == value and value != ""
    except yaml.YAMLError:
        plain = False
    return value if plain else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates cached on disk: compiling them is most of a small run's time.

    The cache only stores compiled code keyed by template source, so output is
    unchanged; an unwritable cache folder just means no cache.
    """
    folder = cache_folder("jinja")
    return _BoundedBytecodeCache(str(folder)) if folder is not None else None


# Compiled templates kept: each clustergen version (and each edit of a template) adds its own.
COMPILED_TEMPLATES_KEPT = 2000


class _BoundedBytecodeCache(jinja2.FileSystemBytecodeCache):
    """The folder is trimmed to the newest entries once per run that compiled something."""

    trimmed = False

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        super().dump_bytecode(bucket)
        if not self.trimmed:
            self.trimmed = True
            keep_newest(Path(self.directory), ".cache", COMPILED_TEMPLATES_KEPT)


def template_from_text(source: str) -> jinja2.Template:
    """A template held as data (a catalog entry's paragraph), compiled through the same bytecode
    cache as the template files: compiling the storage backend's README text took longer than
    rendering the rest of the README."""
    import hashlib

    env = environment()
    cache = env.bytecode_cache
    if cache is None:
        return env.from_string(source)
    name = "text:" + hashlib.sha256(source.encode("utf-8")).hexdigest()
    bucket = cache.get_bucket(env, name, None, source)
    if bucket.code is None:
        bucket.code = env.compile(source, name)
        cache.set_bucket(bucket)
    return env.template_class.from_code(env, bucket.code, env.make_globals(None), None)


def render_template(template: str, check_yaml: bool = True, **context: Any) -> str:
    try:
        text = environment().get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or template
        raise RenderError([Problem(f"template failed: {exc}", file=where, line=getattr(exc, "lineno", None), hint="this is a bug in clustergen's templates; please report it")]) from exc
    if check_yaml and template.endswith((".yaml.j2", ".yml.j2")):
        try:
            check_syntax(text)
        except Exception as exc:  # noqa: BLE001 - any YAML failure is a template bug
            raise RenderError([Problem(f"template produced invalid YAML: {exc}", file=template, hint="this is a bug in clustergen's templates; please report it")]) from exc
    return text
