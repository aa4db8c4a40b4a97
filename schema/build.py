"""The schema, assembled once per process from the generated types."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import DisableIntrospection, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from app.config import Settings
from schema.errors import EngineSchema
from schema.mutations import mutation_type
from schema.objects import OBJECTS
from schema.queries import query_type
from schema.scalars import SCALARS
from schema.subscriptions import subscription_type

Query = query_type()
Mutation = mutation_type()
Subscription = subscription_type()


def make_schema(settings: Settings | None = None) -> EngineSchema:
    """The schema with the protections ``settings`` ask for (depth, tokens, aliases, introspection)."""
    settings = settings or Settings()
    depth, tokens, aliases = settings.graphql_max_depth, settings.graphql_max_tokens, settings.graphql_max_aliases
    # Factories: strawberry builds a fresh extension per request.
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=depth),
        lambda: MaxTokensLimiter(max_token_count=tokens),
        lambda: MaxAliasesLimiter(max_alias_count=aliases),
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    return EngineSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(OBJECTS.values()),
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
