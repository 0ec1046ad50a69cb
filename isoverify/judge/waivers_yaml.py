"""Waiver files written in YAML: each entry with the line it starts on (waivers.py checks them)."""

from collections.abc import Hashable
from pathlib import Path

import yaml

from isoverify.errors import WaiverError


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last, silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<` may be overridden: that is its purpose
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):  # the safe loader refuses the others itself
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice",
                                                            key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def entries(text: str, path: Path) -> list[tuple[dict, int]]:
    """Each entry of the file's `waivers:` list with its line; WaiverError where it has none."""
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
        document = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise WaiverError(f"{path}{where}: {getattr(exc, 'problem', None) or exc}") from None
    finally:
        loader.dispose()
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) != {"waivers"} or not isinstance(document["waivers"], list):
        raise WaiverError(f"{path}:1: expected a top-level `waivers:` list")
    nodes = next(value for key, value in root.value if key.value == "waivers").value if root else []
    return [(entry, node.start_mark.line + 1) for entry, node in zip(document["waivers"], nodes)]
