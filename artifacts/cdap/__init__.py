"""CDAP's wire (contracts/cdap.md) over the artifacts domain: everything that knows CDAP's request and answer formats.

- ``parsers``: query parameters (scope, limit, order...), request bodies (NamespaceMeta, AppRequest, runtime
  arguments, properties, plugins, batch requests) and headers (Artifact-*, X-Archive-Name, X-App-Config) into the
  domain's values, with CDAP's 400 texts;
- ``pages``: ``pageToken``/``X-Next-Page-Token`` over the selectors' page positions;
- ``serializers``: CDAP's JSON shapes (ArtifactSummary, ArtifactInfo, ApplicationDetail, RunRecord...);
- ``views``: the routes (``artifacts.urls`` maps them).

Below this package, ``artifacts.services`` and ``artifacts.selectors`` take parsed values and raise the domain
errors of ``dataplatform.api.exceptions``; the CDAP family's handler gives them CDAP's statuses.
"""
