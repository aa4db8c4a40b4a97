"""Whole answers for plain selections, built by one generated function per selection.

``schema.execution`` completes plain fields with steps worked out once per schema
field, but still one field at a time through graphql-core's machinery: a grouped field
set, a path, a completer call per value. For a selection whose every field is plain --
``edges { node { name status flow { name } metadata { key data } } }`` -- the shape of
the answer is known as soon as the document is: this module writes, once per
selection, a Python function that reads the values and returns the answer's dicts
directly::

    def build(src):
        doc = src.doc
        rel = src.related
        v0 = doc.get('name')
        ...
        return {'name': v0 if type(v0) is str else c0(v0), 'flow': c1(v1), ...}

A builder only ever answers the usual case: values of the expected Python types, no
nulls in non-null fields, no awaitables, no errors. Anything else raises ``Bail`` and
the caller completes that object the general way, which gives graphql-core's own
answer and errors; reading values has no side effects, so reading them again there is
safe. Record fields are read from the record's document, and its relations and metadata
only when a listing loaded them ahead (``schema.records.Rec``), the metadata straight
from its documents; otherwise the record goes the general way, where they load through
the DataLoaders. Values of String, ID, Int, Boolean, DateTime and JSON fields that their
serializer would return unchanged are taken as they are.

Selections with directives anywhere below them (``@include``, ``@skip``, ``@defer``,
``@stream``) are not compiled: which fields they select depends on the request's
variables. Everything else about a selection is fixed by the document, so builders are
kept across requests, keyed on the identity of the cached document's field nodes.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any, Protocol, TypeGuard

from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, FragmentDetails, GroupedFieldSet
from graphql.pyutils import Undefined
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.scalars import JSON
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

from schema.connections import Edge, Page
from schema.records import METADATA_KEYS, Rec, plain_keys, relations
from schema.selection import ByNodes, fixed

Builder = Callable[[Any], dict[str, Any]]
Complete = Callable[[Any], Any]

# GraphQL type name -> the record kind whose Rec objects it answers (registered by schema.objects).
RECORD_KINDS: dict[str, str] = {}
# Engine's result classes, never awaitable: asking them for __await__ would go through
# Rec.__getattr__ (an exception per record) for nothing.
_NEVER_AWAITABLE = frozenset({Rec, Edge, Page})
# Values a scalar field usually holds: none is None, an exception or awaitable.
TEXT_AND_NUMBERS = frozenset({str, int, float, bool})
_CACHE_SIZE = 2000


def is_awaitable(value: Any) -> TypeGuard[Any]:
    """strawberry's check, answered at once for Engine's own result classes."""
    return type(value) not in _NEVER_AWAITABLE and optimized_is_awaitable(value)


def records_of(type_name: str, kind: str) -> None:
    """Declare that values of the GraphQL type ``type_name`` are ``Rec`` objects of ``kind``."""
    RECORD_KINDS[type_name] = kind


class Bail(Exception):
    """The value is not the usual case: complete it the general way."""


class Plan(Protocol):
    """What a builder needs of a plain field's plan (``schema.execution.FieldPlan``)."""

    @property
    def attr(self) -> str: ...
    @property
    def typename(self) -> str | None: ...
    @property
    def return_type(self) -> GraphQLOutputType: ...


class Executor(Protocol):
    """What a builder needs of the executor compiling it."""

    fragments: dict[str, FragmentDetails]

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields: ...

    def plain_plan(self, parent_type: GraphQLObjectType, field_name: str) -> Plan | None: ...

    def checks_type(self, type_: GraphQLObjectType) -> tuple[bool, Callable[[Any, Any], Any] | None]:
        """(whether values may be checked without a resolve info, the type's is_type_of)."""
        ...


class NotPlain(Exception):
    """The selection has a field a builder cannot answer (resolvers, abstract types, directives)."""


# Builders by type and selection; None for a selection that is not plain.
_BUILDERS: ByNodes[Builder | None] = ByNodes(_CACHE_SIZE)


def builder(ex: Executor, type_: GraphQLObjectType, fields: GroupedFieldSet) -> Builder | None:
    """The builder of ``fields`` on ``type_``, or None when they are not all plain."""

    def compile_() -> Builder | None:
        try:
            return _Compiler(ex).object_builder(type_, fields)
        except NotPlain:
            return None

    return _BUILDERS.get(tuple(fd.node for fdl in fields.values() for fd in fdl), compile_, type_, *fields)


def _fixed(fields: GroupedFieldSet, fragments: dict[str, FragmentDetails]) -> bool:
    """Whether the selections below ``fields`` are the same whatever the variables (no
    directives anywhere, no fragment variables)."""
    if any(d.variable_signatures for d in fragments.values()):
        return False
    nodes = [fd.node for fdl in fields.values() for fd in fdl]
    if any(fd.defer_usage is not None or fd.fragment_variable_values is not None for f in fields.values() for fd in f):
        return False
    return fixed(nodes, {name: d.definition for name, d in fragments.items()})


def _nullable(complete: Complete) -> Complete:
    def value(v: Any) -> Any:
        return None if v is None or v is Undefined else complete(v)

    return value


def _non_null(complete: Complete) -> Complete:
    def value(v: Any) -> Any:
        if v is None or v is Undefined:
            raise Bail
        return complete(v)

    return value


def _leaf(coerce: Callable[[Any], Any]) -> Complete:
    def value(v: Any) -> Any:
        if type(v) not in TEXT_AND_NUMBERS and (isinstance(v, Exception) or is_awaitable(v)):
            raise Bail
        coerced = coerce(v)
        if coerced is None or coerced is Undefined:
            raise Bail
        return coerced

    return value


def _list(item: Complete) -> Complete:
    def value(v: Any) -> Any:
        if type(v) is list or type(v) is tuple:
            return [item(x) for x in v]
        raise Bail  # other iterables, async ones, non-lists: the general way

    return value


def _list_of_objects(build: Builder, is_type_of: Callable[[Any, Any], Any] | None, non_null: bool) -> Complete:
    """``_list`` of ``_object`` items, in one call per list (lists of metadata, of nodes)."""

    def value(v: Any) -> Any:
        if type(v) is not list and type(v) is not tuple:
            raise Bail
        out: list[dict[str, Any] | None] = []
        for x in v:
            if x is None or x is Undefined:
                if non_null:
                    raise Bail
                out.append(None)
            elif (not is_type_of(x, None)) if is_type_of is not None else (isinstance(x, Exception) or is_awaitable(x)):
                raise Bail
            else:
                out.append(build(x))
        return out

    return value


def _list_of_documents(build: Builder) -> Complete:
    """A list of documents (a record's metadata as a listing loaded it), each built by ``build``."""

    def value(v: Any) -> Any:
        out = []
        for x in v:
            if type(x) is not dict:
                raise Bail
            out.append(build(x))
        return out

    return value


def _object(build: Builder, is_type_of: Callable[[Any, Any], Any] | None) -> Complete:
    if is_type_of is not None:

        def checked(v: Any) -> Any:
            if not is_type_of(v, None):
                raise Bail
            return build(v)

        return checked

    def unchecked(v: Any) -> Any:
        if isinstance(v, Exception) or is_awaitable(v):
            raise Bail
        return build(v)

    return unchecked


# Values of these types pass through their coercion unchanged; the generated code tests
# the type and skips the call.
_FAST_TYPES: dict[Any, str] = {
    GraphQLString: "type({v}) is str",
    GraphQLID: "type({v}) is str",
    GraphQLBoolean: "type({v}) is bool",
    GraphQLInt: "type({v}) is int and -2147483648 <= {v} <= 2147483647",
}


# strawberry's JSON scalar serializes a value as itself.
_JSON_SERIALIZE = DEFAULT_SCALAR_REGISTRY[JSON].serialize
_JSON_VALUES = frozenset({str, int, float, bool, dict, list})


def _read(attr: str) -> str:
    """Code reading ``attr`` of ``src`` (an attribute access where the name allows one)."""
    return f"src.{attr}" if attr.isidentifier() and not keyword.iskeyword(attr) else f"getattr(src, {attr!r})"


def _named(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _compile(type_: GraphQLObjectType, lines: list[str], answer: list[str], namespace: dict[str, Any]) -> Builder:
    """``def build(src)``: the ``lines`` reading the values, then the answer's dict."""
    body = "".join(f"    {line}\n" for line in lines)
    source = f"def build(src):\n{body}    return {{{', '.join(answer)}}}\n"
    exec(compile(source, f"<builder of {type_.name}>", "exec"), namespace)
    made: Builder = namespace["build"]
    return made


class _Compiler:
    def __init__(self, ex: Executor) -> None:
        self.ex = ex
        self._made: dict[tuple[GraphQLObjectType, int, bool], Builder] = {}

    def object_builder(
        self, type_: GraphQLObjectType, fields: GroupedFieldSet, document_keys: dict[str, str] | None = None
    ) -> Builder:
        """A builder for values of ``type_``; with ``document_keys`` (attribute -> key), for
        documents standing in for them (dicts whose keys hold leaf values, read with ``get``)."""
        if not _fixed(fields, self.ex.fragments):
            raise NotPlain
        kind = RECORD_KINDS.get(type_.name) if document_keys is None else None
        direct = plain_keys(kind) if kind is not None else {}
        namespace: dict[str, Any] = {"Bail": Bail, "Rec": Rec, "JSON_VALUES": _JSON_VALUES}
        lines: list[str] = []
        answer: list[str] = []
        uses_doc = uses_related = False
        for i, (response_name, fdl) in enumerate(fields.items()):
            plan = self.ex.plain_plan(type_, fdl[0].node.name.value)
            if plan is None:
                raise NotPlain
            if plan.typename is not None:
                answer.append(f"{response_name!r}: {plan.typename!r}")
                continue
            v = f"v{i}"
            attr = plan.attr
            if document_keys is not None:
                key = document_keys.get(attr)
                if key is None or not is_leaf_type(_named(plan.return_type)):
                    raise NotPlain
                lines.append(f"{v} = src.get({key!r})")
            elif kind is None or hasattr(Rec, attr):  # not a record, or a name Rec itself answers
                lines.append(f"{v} = {_read(attr)}")
            elif (key := direct.get(attr)) is not None:
                lines.append(f"{v} = doc.get({key!r})")
                uses_doc = True
            elif attr in relations(kind):
                # Rec._related, for a relation a listing loaded ahead; else the general way.
                lines.append(f"if rel is None or {attr!r} not in rel: raise Bail")
                lines.append(f"{v} = rel[{attr!r}]")
                uses_related = True
            elif attr == "metadata":
                lines.append("if src.meta is None: raise Bail")
                documents = self._metadata_documents(plan.return_type, fdl)
                if documents is not None:
                    # The metadata documents themselves, without a Metadata object each.
                    lines.append(f"{v} = src.meta")
                    namespace[f"c{i}"] = documents
                    answer.append(f"{response_name!r}: c{i}({v})")
                    continue
                lines.append(f"{v} = src.metadata")
            else:
                lines.append(f"{v} = {_read(attr)}")
            complete = f"c{i}"
            namespace[complete] = self.completer(plan.return_type, fdl)
            fast = self._fast(plan.return_type)
            related = self._record_builder(plan.return_type, fdl)
            if related is not None:
                # A related record: its builder straight away (is_type_of, inlined), else the completer.
                sub_kind, namespace[f"b{i}"] = related
                check = f"type({v}) is Rec and {v}.kind == {sub_kind!r}"
                answer.append(f"{response_name!r}: b{i}({v}) if {check} else {complete}({v})")
            elif fast is None:
                answer.append(f"{response_name!r}: {complete}({v})")
            else:
                answer.append(f"{response_name!r}: {v} if {fast.format(v=v)} else {complete}({v})")
        head = []
        if uses_doc:
            head.append("doc = src.doc")
        if uses_related:
            head.append("rel = src.related")
        return _compile(type_, [*head, *lines], answer, namespace)

    def _metadata_documents(self, type_: GraphQLOutputType, fdl: FieldDetailsList) -> Complete | None:
        """A completer reading ``[Metadata!]!`` from metadata documents, if the selection allows it."""
        item = (
            type_.of_type.of_type
            if isinstance(type_, GraphQLNonNull) and isinstance(type_.of_type, GraphQLList)
            else None
        )
        if not isinstance(item, GraphQLNonNull) or not isinstance(item.of_type, GraphQLObjectType):
            return None
        named = item.of_type
        if named.is_type_of is not None:
            return None
        try:
            return _list_of_documents(self._sub_builder(named, fdl, METADATA_KEYS))
        except NotPlain:
            return None

    def _record_builder(self, type_: GraphQLOutputType, fdl: FieldDetailsList) -> tuple[str, Builder] | None:
        """(kind, builder) for a field whose values are records of one kind."""
        named = _named(type_)
        if not isinstance(named, GraphQLObjectType) or named.name not in RECORD_KINDS:
            return None
        return RECORD_KINDS[named.name], self._sub_builder(named, fdl)

    def _sub_builder(
        self, type_: GraphQLObjectType, fdl: FieldDetailsList, document_keys: dict[str, str] | None = None
    ) -> Builder:
        key = (type_, id(fdl), document_keys is not None)
        made = self._made.get(key)
        if made is None:
            sub, defers, _ = self.ex.collect_subfields(type_, fdl)
            if defers:
                raise NotPlain
            made = self._made[key] = self.object_builder(type_, sub, document_keys)
        return made

    @staticmethod
    def _fast(type_: GraphQLOutputType) -> str | None:
        named = _named(type_)
        found = _FAST_TYPES.get(named)
        if found is not None or not isinstance(named, GraphQLScalarType):
            return found
        if named.serialize is str:  # Engine's DateTime: text passes through str unchanged
            return "type({v}) is str"
        if named.serialize is _JSON_SERIALIZE:  # strawberry's JSON: every value passes through
            return "type({v}) in JSON_VALUES"
        return None

    def completer(self, type_: GraphQLOutputType, fdl: FieldDetailsList) -> Complete:
        if isinstance(type_, GraphQLNonNull):
            return _non_null(self._inner(type_.of_type, fdl))
        return _nullable(self._inner(type_, fdl))

    def _inner(self, type_: GraphQLOutputType, fdl: FieldDetailsList) -> Complete:
        if isinstance(type_, GraphQLList):
            item = type_.of_type
            named = _named(item)
            if is_object_type(named):
                info_free, is_type_of = self.ex.checks_type(named)
                if not info_free:
                    raise NotPlain
                build = self._sub_builder(named, fdl)
                return _list_of_objects(build, is_type_of, isinstance(item, GraphQLNonNull))
            return _list(self.completer(item, fdl))
        if is_leaf_type(type_):
            return _leaf(type_.coerce_output_value)
        if is_object_type(type_):
            info_free, is_type_of = self.ex.checks_type(type_)
            if not info_free:
                raise NotPlain
            return _object(self._sub_builder(type_, fdl), is_type_of)
        raise NotPlain  # interfaces and unions: graphql-core resolves their type
