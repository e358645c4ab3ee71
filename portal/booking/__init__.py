"""The appointment domain (book, reschedule, edit, cancel, conflicts), used by web views and jobs alike."""
