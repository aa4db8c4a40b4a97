"""The schema, assembled once per process from the generated types."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

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
    # Factories: strawberry builds fresh extensions per request. Clients send the same few
    # documents again and again, so each is parsed and validated once.
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=1000),
        lambda: ValidationCache(maxsize=1000),
    ]
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
