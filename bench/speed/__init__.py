"""The speed bench: the harness against the plain loops it is timed beside."""
