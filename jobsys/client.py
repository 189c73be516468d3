"""``Client``: the one run path. The CLI, the API, beat and the jobs view all call it.

It is built in layers, one module each: ``client_base`` (submit, follow, steer jobs),
``client_templates`` (apply, diff, Git sync), ``client_runs`` (DAG runs),
``client_schedules`` (schedules) and ``client_history`` (history retention).

Submitting validates inputs against the job type's model before anything is
written or sent; then the job rows are inserted (PENDING), the messages are
published to the capability queues, and the rows are marked QUEUED. If the
broker refuses, the rows are removed again: nothing is left half-written.
"""

from jobsys.client_base import CLIENT_SOURCE, GROUP_MODES, CapabilityInfo, ClientBase, JobHandle
from jobsys.client_history import HistoryClient
from jobsys.client_runs import Dag
from jobsys.client_schedules import Fired
from jobsys.jobtypes import validate_inputs

__all__ = [
    "CLIENT_SOURCE",
    "GROUP_MODES",
    "CapabilityInfo",
    "Client",
    "ClientBase",
    "Dag",
    "Fired",
    "JobHandle",
    "validate_inputs",
]


class Client(HistoryClient):
    """Submit, follow and steer jobs; store and run templates; schedule them; prune history."""
