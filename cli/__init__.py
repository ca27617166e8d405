"""The ``windflow`` command line: serve, init, and local administration."""
