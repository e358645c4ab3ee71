"""RQ entry points: jobs load rows by id and call the engine."""
