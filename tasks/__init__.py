"""Job types. Discovery is by the ``jobsys.jobtypes`` entry points; nothing is imported here."""
