"""``python -m jobsys`` runs the CLI (``health`` alone, quickly: healthchecks run often)."""

import sys

if sys.argv[1:2] == ["health"]:
    from jobsys.cluster.health_cli import main as health

    health(sys.argv[2:])
else:
    from jobsys.cli import main

    main()
