"""The appointment domain (book, reschedule, edit, cancel, conflicts, free slots in slots.py), used by web views
and jobs alike; imports neither."""
