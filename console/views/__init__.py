"""Console views, one module per area: workbench, jobs (and OpenPAI jobs), features, artifacts."""
