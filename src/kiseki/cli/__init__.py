"""The ``kiseki`` command: one module per command group."""
