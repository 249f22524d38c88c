"""The web console for people: a workbench, the jobs monitor, OpenPAI jobs, the feature explorer and artifacts,
under ``/console/`` (Django templates and session login; every asset is served by the platform itself)."""
