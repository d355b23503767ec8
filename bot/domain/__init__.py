"""Plain domain values, no I/O."""
