"""Appointments as a domain: free slots (slots.py). Pure code used by web views and jobs alike."""
