"""OpenPAI's job API (the seed's ``/api/job`` and v0.7's ``/api/v1/jobs``) on the job core: a job config's task
instances run as job-core jobs, and a completion policy decides the OpenPAI job's end."""
