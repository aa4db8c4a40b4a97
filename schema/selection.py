"""Which record fields a query asks for, so only those are read from the store."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    ListValueNode,
    Node,
    ObjectFieldNode,
    ObjectValueNode,
    VariableNode,
)
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from schema.names import graphql_to_field


def flatten(selections: Iterable[Selection]) -> list[SelectedField]:
    """The fields of ``selections``, with fragments spread out."""
    out: list[SelectedField] = []
    for s in selections:
        if isinstance(s, SelectedField):
            out.append(s)
        elif isinstance(s, (FragmentSpread, InlineFragment)):
            out.extend(flatten(s.selections))
    return out


class ByNodes[T]:
    """Values worked out once per set of AST nodes of a cached document (and whatever else
    ``extra`` names), keyed on the nodes' identity. The nodes are kept with the value so
    their ids are not reused; when full it is cleared (documents come and go, the ones still
    sent are worked out again)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[tuple[Any, ...], tuple[tuple[Node, ...], T]] = {}

    def get(self, nodes: tuple[Node, ...], make: Callable[[], T], *extra: Hashable) -> T:
        key = (*extra, *map(id, nodes))
        found = self._entries.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], nodes, strict=True)):
            return found[1]
        made = make()
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (nodes, made)
        return made


# What is selected below a field, or None where it depends on the variables.
_BELOW: ByNodes[list[Selection] | None] = ByNodes(2000)


def below(info: Any) -> list[Selection]:
    """What is selected inside the field being resolved.

    strawberry builds it anew for every request; for a selection that is the same whatever
    the variables (``fixed``), it is worked out once per document."""
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)

    def selections() -> list[Selection]:
        return [sel for f in flatten(info.selected_fields) for sel in f.selections]

    def once() -> list[Selection] | None:
        # The field's own arguments and directives do not change what is selected below it.
        inside = [sel for n in nodes if n.selection_set for sel in n.selection_set.selections]
        return selections() if fixed(inside, raw.fragments) else None

    found = _BELOW.get(nodes, once)
    return found if found is not None else selections()


def fixed(nodes: Iterable[Node], fragments: Mapping[str, FragmentDefinitionNode]) -> bool:
    """Whether what ``nodes`` select is the same whatever the request's variables: no
    directives below them and no variables in their arguments."""
    stack: list[Any] = list(nodes)
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, VariableNode) or getattr(node, "directives", None):
            return False
        if isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name not in seen:
                seen.add(name)
                fragment = fragments.get(name)
                if not isinstance(fragment, FragmentDefinitionNode):
                    return False
                stack.append(fragment)
            continue
        if isinstance(node, FieldNode):
            stack.extend(node.arguments or ())
        elif isinstance(node, ArgumentNode | ObjectFieldNode):
            stack.append(node.value)
        elif isinstance(node, ListValueNode):
            stack.extend(node.values)
        elif isinstance(node, ObjectValueNode):
            stack.extend(node.fields)
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return True


def under(selections: Iterable[Selection], *path: str) -> list[SelectedField]:
    """The fields selected at ``path`` below ``selections`` (e.g. edges, node)."""
    level = flatten(selections)
    for name in path:
        level = flatten(sel for f in level if f.name == name for sel in f.selections)
    return level


def record_fields(kind: str, fields: Sequence[SelectedField]) -> set[str]:
    """The document fields behind the GraphQL fields of a record."""
    known = graphql_to_field(kind)
    wanted = {"id"}
    for f in fields:
        name = known.get(f.name)
        if name is not None:
            wanted.add(name)
    return wanted
