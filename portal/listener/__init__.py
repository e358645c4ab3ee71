"""The long-running notification process: it only rings the doorbell (enqueues a mailbox's sync)."""
