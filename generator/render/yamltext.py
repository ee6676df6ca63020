"""The YAML emitter lives in the shared module (generator.shared.yamltext); these names stay for render's own modules."""

from ..shared.yamltext import check_syntax, dump_documents, load_all, to_yaml

__all__ = ["check_syntax", "dump_documents", "load_all", "to_yaml"]
