"""`secateurs batch JOBS.toml`: many `run`s, each with its own settings and output directory.

``jobs_file`` reads and checks every job before any runs (one code path with `run`'s settings
files), ``job`` runs one job as `run` would (staging, promotion, manifest, exit code) and
decides whether an earlier output can be kept (resume), ``summary`` prints the table and
writes batch.json, ``command`` is the click command. Jobs run on an executor
(``secateurs.executors``): one after another here, or as Ray tasks.
"""
