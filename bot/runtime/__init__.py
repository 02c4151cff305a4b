"""The running bot: the Application (``app``), its services, the durable inbox, the jobs and
sweeps the JobQueue calls, and ``python -m bot run`` (``runner``)."""
