"""Engine's GraphQL API (Strawberry), generated from the record kinds.

``app.py`` mounts it at ``/graphql``; ``build.py`` assembles the schema from ``objects``
(Node, Record, a type per kind), ``inputs`` (filters, orders, record inputs),
``queries``, ``mutations`` and ``subscriptions``; ``connections`` pages with keyset
cursors; ``context`` holds the principal and the DataLoaders. Resolvers call the
records service only.
"""
