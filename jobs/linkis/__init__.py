"""Linkis's entrance wire (contracts/linkis.md): the REST views, the WebSocket consumer, the request parsers, the
answer bodies and Linkis's error codes, over the job core's services and selectors.

- ``parsers``: submissions (``entrance/execute``'s 0.x body, ``entrance/submit``'s 1.x body) into ``JobSpec``s;
- ``responses``: the ``data`` of status, progress and log answers, shared by REST and the WebSocket;
- ``errors``: Linkis's error codes for the job core's refusals;
- ``serializers``: the shapes of Linkis bodies (and the OpenAPI document);
- ``scripts``: Linkis's saved-script format (params as ``@set`` header lines), read and written;
- ``views``, ``consumers``, ``urls``: the routes; ``filesystem``: the filesystem routes over users' workspaces
  (``jobs.workspace``), saved scripts for Scriptis.
"""
