"""RQ orchestration only: jobs load rows by id, call ews_soap, ask sync what to do, apply, record."""
