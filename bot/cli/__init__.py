"""Sub-commands of ``python -m bot`` that are more than a line of wiring."""
