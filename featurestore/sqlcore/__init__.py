"""The feature store's SQL, as pure Python: OpenMLDB's dialect, its parsed form and the expression compiler.

- ``dialect``: SQL text to ``sqlir`` statements (sqlglot with OpenMLDB's extensions);
- ``sqlir``: the parsed statements (dataclasses; expressions stay sqlglot trees);
- ``expressions``: sqlglot expressions to per-row Python closures;
- ``functions``: OpenMLDB's built-in scalar functions and window aggregates, one module per family.

Nothing here imports Django or touches the database: the catalog, storage and the engines that run these plans
(``featurestore.engine``, ``featurestore.sql``) sit above it, in the app.
"""
