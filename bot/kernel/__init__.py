"""The kernel: configuration, the clock, templates, logs and start-up faults.

Everything else may import the kernel; the kernel imports nothing of the domain, the outbox,
the documents or the handlers (``tests/unit/test_architecture.py`` holds this).
"""
