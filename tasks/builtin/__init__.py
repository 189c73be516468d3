"""Built-in job types: ``jobsys.noop`` and the demo job types ``jobsys demo`` runs."""
