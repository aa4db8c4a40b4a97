"""A faster executor: plain fields completed by compiled steps, everything else by graphql-core.

graphql-core completes every field of an answer the same general way: a resolve info, a
resolver call, awaitable checks, then ``complete_value`` walking the field's type. For a
page of records that is about a thousand fields at 10-15 µs each, most of a request.

Most of those fields are plain: strawberry fields without a resolver, which read an
attribute of their parent (a record's fields, the relations and metadata a listing
loaded ahead, edges, page info). ``CompiledExecutor`` completes those with steps worked
out once per schema field: the attribute to read and a completer made for the field's
type (non-null, list, scalar or enum, object). The steps do what graphql-core does, in
the same order and with the same errors -- nulls for nullable fields that fail, errors
that propagate through non-null fields, the same messages and paths -- but without a
resolve info, without the resolver wrappers and without re-inspecting the type.

Anything the steps do not know is handed to graphql-core's own methods at that point:
fields with resolvers (root fields, arguments, connections, loaders), abstract types,
awaitable values, async iterables, ``@stream``, middleware. Field collection (aliases,
fragments, ``@include``/``@skip``) stays graphql-core's, memoised per request as before,
so what is executed is exactly what graphql-core would execute.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import invalid_return_type_error, to_nodes
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from schema import builders
from schema.builders import TEXT_AND_NUMBERS, Builder, is_awaitable

# A completer: (executor, plan, field details, field path, path, value) -> the completed value.
Completer = Callable[["CompiledExecutor", "FieldPlan", FieldDetailsList, Path, Path, Any], Any]

_INFO_FREE: set[Callable[..., Any]] = set()
# Objects answered by a generated builder, and builders that gave way to the steps (for tests and profiling).
BUILDS = {"built": 0, "bailed": 0}


def info_free[F: Callable[..., Any]](fn: F) -> F:
    """Mark an ``is_type_of`` that never reads its info, so completions may call it without one."""
    _INFO_FREE.add(fn)
    return fn


class FieldPlan:
    """How to complete one plain field of one object type."""

    __slots__ = (
        "attr",
        "coerce",
        "complete",
        "field_def",
        "field_name",
        "parent_type",
        "return_type",
        "typename",
    )

    def __init__(self, parent_type: GraphQLObjectType, field_name: str, field_def: GraphQLField) -> None:
        self.parent_type = parent_type
        self.field_name = field_name
        self.field_def = field_def
        self.return_type = field_def.type
        self.attr = ""
        self.typename: str | None = None  # set for __typename: the answer is the parent type's name
        self.complete: Completer = completer(field_def.type)
        named = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
        # Scalars and enums, alone or non-null: their usual values are coerced in place.
        self.coerce: Callable[[Any], Any] | None = named.coerce_output_value if is_leaf_type(named) else None

    def info(self, executor: CompiledExecutor, field_path: Path, fdl: FieldDetailsList) -> GraphQLResolveInfo[Any]:
        return executor.build_resolve_info(self.field_def, to_nodes(fdl), self.parent_type, field_path)


def _attribute(field_def: GraphQLField) -> str | None:
    """The attribute a field reads when it is a plain strawberry field, else None."""
    if not getattr(field_def.resolve, "_is_default", False) or field_def.args:
        return None
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or not field.is_basic_field or field.base_resolver is not None:
        return None
    if field.default_resolver is not getattr or not field.python_name:
        return None
    return field.python_name


_PLANS: WeakKeyDictionary[GraphQLObjectType, dict[str, FieldPlan | None]] = WeakKeyDictionary()


def field_plan(executor: CompiledExecutor, parent_type: GraphQLObjectType, field_name: str) -> FieldPlan | None:
    """The plan of a plain field, or None for a field graphql-core must execute itself."""
    plans = _PLANS.get(parent_type)
    if plans is None:
        plans = _PLANS[parent_type] = {}
    if field_name in plans:
        return plans[field_name]
    field_def = executor.schema.get_field(parent_type, field_name)
    plan: FieldPlan | None = None
    if field_def is not None:
        if field_name == "__typename":
            plan = FieldPlan(parent_type, field_name, field_def)
            plan.typename = parent_type.name
        else:
            attr = _attribute(field_def)
            if attr is not None:
                plan = FieldPlan(parent_type, field_name, field_def)
                plan.attr = attr
    plans[field_name] = plan
    return plan


_COMPLETERS: dict[int, tuple[GraphQLOutputType, Completer]] = {}


def completer(type_: GraphQLOutputType) -> Completer:
    """A completer for values of ``type_``, made once per type."""
    found = _COMPLETERS.get(id(type_))
    if found is not None and found[0] is type_:
        return found[1]
    if isinstance(type_, GraphQLNonNull):
        made = _non_null(completer(type_.of_type))
    elif isinstance(type_, GraphQLList):
        made = _list(type_)
    elif is_leaf_type(type_):
        made = _leaf(type_)
    elif is_object_type(type_):
        made = _object(type_)
    elif is_abstract_type(type_):
        made = _abstract(type_)
    else:  # pragma: no cover - graphql-core knows no other output types
        made = _generic(type_)
    _COMPLETERS[id(type_)] = (type_, made)  # the type is kept, so its id is never reused
    return made


def _non_null(inner: Completer) -> Completer:
    def complete(
        ex: CompiledExecutor, plan: FieldPlan, fdl: FieldDetailsList, field_path: Path, path: Path, result: Any
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        completed = inner(ex, plan, fdl, field_path, path, result)
        if completed is None:
            msg = f"Cannot return null for non-nullable field {plan.parent_type}.{plan.field_name}."
            raise TypeError(msg)
        return completed

    return complete


def _leaf(type_: Any) -> Completer:
    coerce = type_.coerce_output_value
    complete_leaf = CompiledExecutor.complete_leaf_value

    def complete(
        ex: CompiledExecutor, plan: FieldPlan, fdl: FieldDetailsList, field_path: Path, path: Path, result: Any
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        coerced = coerce(result)
        if coerced is None or coerced is Undefined:
            return complete_leaf(type_, result)  # raises graphql-core's own error
        return coerced

    return complete


def type_check(type_: GraphQLObjectType) -> tuple[bool, Callable[[Any, Any], Any] | None]:
    """(whether values of ``type_`` are checked without a resolve info, its is_type_of)."""
    is_type_of = type_.is_type_of
    if is_type_of is None:
        return True, None
    return getattr(is_type_of, "__func__", is_type_of) in _INFO_FREE, is_type_of


def _object(type_: GraphQLObjectType) -> Completer:
    info_free, is_type_of = type_check(type_)
    needs_info = not info_free

    def complete(
        ex: CompiledExecutor, plan: FieldPlan, fdl: FieldDetailsList, field_path: Path, path: Path, result: Any
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if needs_info:
            return ex.complete_object_value(type_, fdl, plan.info(ex, field_path, fdl), path, result, None)
        if is_type_of is not None and not is_type_of(result, None):
            raise invalid_return_type_error(type_, result, fdl)
        # collect_and_execute_subfields, without its two calls in between.
        grouped_field_set, new_defer_usages, _ = ex.collect_subfields(type_, fdl)
        if new_defer_usages:
            return ex.execute_collected_subfields(type_, result, path, grouped_field_set, new_defer_usages, None)
        return ex.execute_fields(type_, result, path, grouped_field_set, None)

    return complete


def _abstract(type_: Any) -> Completer:
    def complete(
        ex: CompiledExecutor, plan: FieldPlan, fdl: FieldDetailsList, field_path: Path, path: Path, result: Any
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        return ex.complete_abstract_value(type_, fdl, plan.info(ex, field_path, fdl), path, result, None)

    return complete


def _generic(type_: GraphQLOutputType) -> Completer:  # pragma: no cover
    def complete(
        ex: CompiledExecutor, plan: FieldPlan, fdl: FieldDetailsList, field_path: Path, path: Path, result: Any
    ) -> Any:
        return ex.complete_value(type_, fdl, plan.info(ex, field_path, fdl), path, result, None)

    return complete


def _list(type_: GraphQLList[Any]) -> Completer:
    item_type = type_.of_type
    inner = completer(item_type)

    def complete(
        ex: CompiledExecutor, plan: FieldPlan, fdl: FieldDetailsList, field_path: Path, path: Path, result: Any
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if type(result) not in (list, tuple) or (fdl[0].node.directives and ex.get_stream_usage(fdl, path) is not None):
            # Other iterables (async ones too), non-iterables, streams: graphql-core's own completion.
            return ex.complete_list_value(type_, fdl, plan.info(ex, field_path, fdl), path, result, None)
        return _items(ex, plan, fdl, field_path, path, result, item_type, inner)

    return complete


def _items(
    ex: CompiledExecutor,
    plan: FieldPlan,
    fdl: FieldDetailsList,
    field_path: Path,
    path: Path,
    items: list[Any] | tuple[Any, ...],
    item_type: GraphQLOutputType,
    inner: Completer,
) -> AwaitableOrValue[list[Any]]:
    """graphql-core's ``complete_iterable_value`` and ``complete_list_item_value``, for a
    list or tuple completed by ``inner``."""
    awaitable = ex.is_awaitable
    completed_results: list[Any] = []
    append = completed_results.append
    awaitable_indices: list[int] = []
    try:
        for index, item in enumerate(items):
            item_path = path.add_key(index, None)
            if awaitable(item):
                info = plan.info(ex, field_path, fdl)
                append(ex.complete_awaitable_list_item_value(item, item_type, fdl, info, item_path, None))
                awaitable_indices.append(index)
                continue
            try:
                completed = inner(ex, plan, fdl, field_path, item_path, item)
                if type(completed) is not dict and awaitable(completed):
                    append(ex.await_item(completed, item_type, fdl, item_path))
                    awaitable_indices.append(index)
                else:
                    append(completed)
            except Exception as raw_error:
                ex.handle_field_error(raw_error, item_type, fdl, item_path)
                append(None)
    except Exception:
        pending = [completed_results[i] for i in awaitable_indices]
        pending.extend(item for item in items[len(completed_results) :] if awaitable(item))
        if pending:
            ex.settle_in_background(pending)
        raise
    if not awaitable_indices:
        return completed_results

    async def get_completed_results() -> list[Any]:
        if len(awaitable_indices) == 1:
            index = awaitable_indices[0]
            completed_results[index] = await completed_results[index]
        else:
            done = await gather_with_cancel(*(completed_results[i] for i in awaitable_indices))
            for index, value in zip(awaitable_indices, done, strict=True):
                completed_results[index] = value
        return completed_results

    return get_completed_results()


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, with plain fields completed by ``FieldPlan`` steps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Middleware wraps every resolver, the plain ones too: then graphql-core does it all.
        self._compiled = manager is None or manager._middleware_resolvers is None
        self.is_awaitable = is_awaitable
        self._steps: dict[int, tuple[GroupedFieldSet, list[tuple[str, FieldDetailsList, FieldPlan | None]]]] = {}
        self._builders: dict[int, tuple[GroupedFieldSet, Builder | None]] = {}

    def plain_plan(self, parent_type: GraphQLObjectType, field_name: str) -> FieldPlan | None:
        return field_plan(self, parent_type, field_name)

    def checks_type(self, type_: GraphQLObjectType) -> tuple[bool, Callable[[Any, Any], Any] | None]:
        return type_check(type_)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's ``execute_fields``, with plain fields completed by their plans."""
        if not self._compiled or position_context is not None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        build = self._builder(parent_type, grouped_field_set)
        if build is not None:
            try:
                answer = build(source_value)
            except Exception:  # not the usual case: the steps below answer it, errors and all
                BUILDS["bailed"] += 1
            else:
                BUILDS["built"] += 1
                return answer
        results: dict[str, Any] = {}
        awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for response_name, fdl, plan in self._steps_of(parent_type, grouped_field_set):
                if plan is None:
                    result = self.execute_field(
                        parent_type, source_value, fdl, Path(path, response_name, type_name), None
                    )
                    if result is Undefined:
                        continue
                elif plan.typename is not None:
                    results[response_name] = plan.typename
                    continue
                else:
                    # execute_field for a resolver that reads plan.attr; paths are made only when used.
                    try:
                        result = getattr(source_value, plan.attr)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, plan.return_type, fdl, Path(path, response_name, type_name))
                        results[response_name] = None
                        continue
                    coerce = plan.coerce
                    if coerce is not None and (
                        type(result) in TEXT_AND_NUMBERS
                        or (
                            result is not None
                            and result is not Undefined
                            and not awaitable(result)
                            and not isinstance(result, Exception)
                        )
                    ):
                        try:
                            coerced = coerce(result)
                        except Exception as raw_error:
                            field_path = Path(path, response_name, type_name)
                            self.handle_field_error(raw_error, plan.return_type, fdl, field_path)
                            results[response_name] = None
                            continue
                        if coerced is not None and coerced is not Undefined:
                            results[response_name] = coerced
                            continue
                    result = self._complete_plain(plan, result, fdl, Path(path, response_name, type_name))
                results[response_name] = result
                if type(result) is not dict and awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                done = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, done, strict=True))
            return results

        return get_results()

    def _builder(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Builder | None:
        # Looked up once per request and selection (the grouped field set is kept, so its id is not reused).
        found = self._builders.get(id(grouped_field_set))
        if found is not None and found[0] is grouped_field_set:
            return found[1]
        build = builders.builder(self, parent_type, grouped_field_set)
        self._builders[id(grouped_field_set)] = (grouped_field_set, build)
        return build

    def _steps_of(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, FieldDetailsList, FieldPlan | None]]:
        # graphql-core collects a selection set once per request and type; its steps are
        # worked out once too (the grouped field set is kept, so its id is not reused).
        found = self._steps.get(id(grouped_field_set))
        if found is not None and found[0] is grouped_field_set:
            return found[1]
        steps = [
            (name, fdl, field_plan(self, parent_type, fdl[0].node.name.value))
            for name, fdl in grouped_field_set.items()
        ]
        self._steps[id(grouped_field_set)] = (grouped_field_set, steps)
        return steps

    def _complete_plain(self, plan: FieldPlan, result: Any, fdl: FieldDetailsList, path: Path) -> Any:
        """The rest of graphql-core's ``execute_field`` once the resolver returned ``result``."""
        return_type = plan.return_type
        try:
            if self.is_awaitable(result):
                return self.complete_awaitable_value(return_type, fdl, plan.info(self, path, fdl), path, result, None)
            completed = plan.complete(self, plan, fdl, path, path, result)
            if type(completed) is not dict and self.is_awaitable(completed):
                return self.await_item(completed, return_type, fdl, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, fdl, path)
            return None
        return completed

    async def await_item(
        self, completed: Awaitable[Any], return_type: GraphQLOutputType, fdl: FieldDetailsList, path: Path
    ) -> Any:
        """Await a completion begun synchronously; a failure nulls it as graphql-core does."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, fdl, path)
            return None


__all__ = ["BUILDS", "CompiledExecutor", "info_free"]
