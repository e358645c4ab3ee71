"""The sync engine's I/O: read Exchange, ask portal.sync what to do, apply it, record the outcome."""
