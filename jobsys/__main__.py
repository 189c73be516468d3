"""``python -m jobsys`` runs the CLI."""

from jobsys.cli import main

main()
