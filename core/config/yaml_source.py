"""YAML parsing that remembers where every key came from.

:func:`parse_yaml` returns the plain data *and* a way to find the line of any key path, so a
config error can say "line 12: mappings[2].options.num_ctx: …". It also refuses what plain
``yaml.safe_load`` silently accepts: duplicate keys (the first one would be lost) and more than
one document. Timestamps stay strings, because ``2024-13-01`` would otherwise raise a bare
``ValueError`` from the date constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver (dates are plain strings in our config)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class YamlIssue:
    """A problem found while parsing, before any schema check."""

    path: tuple[str | int, ...]
    line: int | None
    message: str


@dataclass
class YamlSource:
    """Parsed YAML plus the node tree used to locate key paths."""

    data: Any
    root: Node | None

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """1-based line of the deepest node on ``path`` that exists (its parent for a missing key)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(part):
                # Point a scalar at its key's line; a block (mapping/list) at its first entry's
                # line would be confusing, so use the key there too.
                return value if not isinstance(value, ScalarNode) else _at(value, key)
        return None
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    return None


def _at(value: ScalarNode, key: ScalarNode) -> ScalarNode:
    # An empty value ("num_ctx:") has its mark after the colon on the same line; fine either way.
    return value if value.start_mark.line == key.start_mark.line else key


def parse_yaml(text: str) -> tuple[YamlSource, list[YamlIssue]]:
    """Parse ``text``; never raises. Problems come back as :class:`YamlIssue` with lines."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, …)
        line = text.count("\n", 0, exc.position) + 1
        return YamlSource(data=None, root=None), [YamlIssue((), line, f"not valid YAML: {exc.reason}")]
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlSource(data=None, root=None), []
        issues = list(_duplicate_keys(root, ()))
        data = loader.construct_document(root)
        return YamlSource(data=data, root=root), issues
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark or loader.get_mark()
        line = mark.line + 1
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        return YamlSource(data=None, root=None), [YamlIssue((), line, f"not valid YAML: {what}")]
    except RecursionError:
        line = loader.get_mark().line + 1  # where the reader had got to
        return YamlSource(data=None, root=None), [YamlIssue((), line, "nested too deeply to read")]
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        line = loader.get_mark().line + 1
        return YamlSource(data=None, root=None), [YamlIssue((), line, f"not valid YAML: {exc}")]
    finally:
        loader.dispose()


def _duplicate_keys(node: Node, path: tuple[str | int, ...]) -> list[YamlIssue]:
    issues: list[YamlIssue] = []
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(node, path)]
    seen_nodes: set[int] = set()
    while stack:
        current, where = stack.pop()
        if id(current) in seen_nodes:  # aliases can make the tree a graph
            continue
        seen_nodes.add(id(current))
        if isinstance(current, MappingNode):
            keys: set[str] = set()
            for key, value in current.value:
                name = key.value if isinstance(key, ScalarNode) else None
                if name is not None:
                    if name in keys:
                        issues.append(
                            YamlIssue(where + (name,), key.start_mark.line + 1, "key appears twice")
                        )
                    keys.add(name)
                stack.append((value, where + ((name,) if name is not None else ())))
        elif isinstance(current, SequenceNode):
            stack.extend((item, where + (i,)) for i, item in enumerate(current.value))
    return issues
