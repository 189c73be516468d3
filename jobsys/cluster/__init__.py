"""The loopback cluster: compose.yaml's topology as real processes on this machine.

``Cluster(home=..., env=...)`` reads compose.yaml and runs its jobsys services (migrate,
api, beat, worker-data, worker-media, worker-speech, flower) against the Redis and
PostgreSQL that ``env`` names; ``jobsys cluster up|down|status`` is its command line.
``jobsys.cluster.health`` holds the healthchecks compose and the cluster both run.
psutil (``pip install 'jobsys[cluster]'``) is imported only when processes are looked at.
"""

from jobsys.cluster.cluster import Cluster, ReplicaStatus
from jobsys.cluster.errors import ClusterError

__all__ = ["Cluster", "ClusterError", "ReplicaStatus"]
