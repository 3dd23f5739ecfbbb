"""A Prefect + MLflow cluster on PostgreSQL, with a process work pool and workers that
each own a workspace, sharing one DVC remote (`make cluster`; see README "Scaling out").

    config     ports, folders and URLs, chosen at start and kept in .cluster/cluster.json
    postgres   the database cluster (initdb, run as an unprivileged user, two databases)
    services   the processes: PostgreSQL, Prefect server, MLflow server, janitor, workers
    auth       on a network address: generated credentials, MLflow users, the credentials check
    ssh        on a network address: the sshd serving the DVC remote, worker keys
    remote     workers on other hosts: invite (server host), join and leave (worker host)
    workspace  a worker's git clone + DVC set-up, and the sync its deployments' pull steps run
    deploy     the work pool, the deployments (pull steps) and the zombie-run automation
    janitor    ends the MLflow runs of flow runs Prefect declared Crashed
    __main__   python -m flows.cluster start|stop|status|submit|retry|restart|invite|join|leave
"""
