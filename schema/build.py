"""The schema, assembled once per process from the generated types."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, parse
from strawberry.extensions import DisableIntrospection, MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema import validate_document

from app.config import Settings
from schema.errors import EngineSchema
from schema.execution import CompiledExecutor
from schema.mutations import mutation_type
from schema.objects import OBJECTS
from schema.queries import query_type
from schema.scalars import SCALARS
from schema.subscriptions import subscription_type

Query = query_type()
Mutation = mutation_type()
Subscription = subscription_type()


class CachedNames(NameConverter):
    """strawberry's names, each python name camel-cased once: strawberry converts the names of
    input fields again on every request that passes arguments (some 50 a page query)."""

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = super().apply_naming_config(name)
        return found


class Documents(SchemaExtension):
    """Parsing and validation, with Engine's limits, once per query text.

    In place of four of strawberry's extensions: MaxTokensLimiter and AddValidationRules
    (the limits), ParserCache and ValidationCache. Their cost was mostly their own: each
    extension's hooks are wrapped anew on every request, and the validation cache keyed on
    the parsed document, whose hash and equality walk the whole tree every time (some
    40 us for a page query). Here both caches key on the text; documents that fail to
    parse are not kept, so their error is raised again each time."""

    _parsed: ClassVar[dict[tuple[str, int], DocumentNode]] = {}
    _checked: ClassVar[dict[tuple[int, str, tuple[type[ASTValidationRule], ...]], list[GraphQLError]]] = {}

    def __init__(self, max_tokens: int, rules: tuple[type[ASTValidationRule], ...]) -> None:
        super().__init__()
        self.max_tokens = max_tokens
        self.rules = rules

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        query = context.query
        if query:
            options = context.parse_options
            context.graphql_document = _kept(self._parsed, (query, self.max_tokens), lambda: parse(query, **options))
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        rules = (*context.validation_rules, *self.rules)
        context.validation_rules = rules
        document = context.graphql_document
        if context.query and document is not None:
            schema = context.schema._schema
            context.pre_execution_errors = _kept(
                self._checked, (id(schema), context.query, rules), lambda: validate_document(schema, document, rules)
            )
        yield


def _kept[K, V](cache: dict[K, V], key: K, make: Callable[[], V], size: int = 1000) -> V:
    """``cache[key]``, made the first time; a full cache is cleared (the texts still sent are done again)."""
    found = cache.get(key)
    if found is None:
        found = make()
        if len(cache) >= size:
            cache.clear()
        cache[key] = found
    return found


def make_schema(settings: Settings | None = None) -> EngineSchema:
    """The schema with the protections ``settings`` ask for (depth, tokens, aliases, introspection)."""
    settings = settings or Settings()
    tokens = settings.graphql_max_tokens
    # The limit rules are built once: the validation cache keys on the rule classes.
    rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    if not settings.graphql_introspection:
        rules.extend(DisableIntrospection().validation_rules)
    # A factory: strawberry builds fresh extensions per request. Clients send the same few
    # documents again and again, so each is parsed and validated once.
    limits = tuple(rules)
    extensions: list[Any] = [lambda: Documents(tokens, limits)]
    return EngineSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(OBJECTS.values()),
        extensions=extensions,
        # Off only to compare against graphql-core's own executor, or to rule it out.
        execution_context_class=CompiledExecutor if settings.graphql_compiled else None,
        config=StrawberryConfig(scalar_map=SCALARS, name_converter=CachedNames()),
    )
