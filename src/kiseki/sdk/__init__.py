"""Code that runs in the user's process: Run, run log, sender, capture, read API."""
