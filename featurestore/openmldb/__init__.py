"""OpenMLDB's APIServer wire (contracts/openmldb.md) over the feature store's services and selectors.

- ``views``: the DRF views of ``/dbs...`` and ``/refresh`` (routed by ``featurestore.urls``), with TableInfo and
  deployment renderings;
- ``rows``: the two per-event routes' work, ``put_rows`` (inserts) and ``call_deployment`` (request-mode features),
  shared by the views and the fast path;
- ``bodies``: the request bodies, read in upstream's order and words, and their OpenAPI schemas, from one
  description;
- ``errors``: ``{code, msg}``, and ``FeatureStoreError`` in those terms;
- ``fastpath``: ASGI and WSGI wrappers that answer the two per-event routes without Django's request machinery.

Bodies are read with OpenMLDB's extended JSON (``featurestore.jsonx``), not DRF's parsers, and answers are written
with it. Nothing below this package builds ``{code, msg}`` or imports DRF.
"""
