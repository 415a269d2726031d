"""Where joblib sends independent runs: local processes (loky), or a Dask or Ray cluster.

A cluster's workers must import this package and see the same `--results` folder (a shared
filesystem): every run reads the saved split and writes its record there, under its own lock.
Dask: start a scheduler and workers (`dask scheduler`, `dask worker ADDRESS`), set
DASK_SCHEDULER_ADDRESS=ADDRESS (unset: a local cluster of `jobs` single-threaded workers).
Ray: `ray start --head` on the cluster, RAY_ADDRESS set as Ray documents (unset: a local Ray).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from bench.errors import UserError, unknown

BACKENDS = ("loky", "dask", "ray")


def check_backend(name: str) -> None:
    if name not in BACKENDS:
        raise unknown("joblib backend", name, BACKENDS)


@contextlib.contextmanager
def joblib_backend(name: str, jobs: int) -> Iterator[None]:
    from joblib import parallel_config

    check_backend(name)
    if name == "loky":
        with parallel_config(backend="loky", n_jobs=jobs):
            yield
        return
    if name == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            raise UserError("--joblib-backend dask needs dask.distributed: pip install 'dask[distributed]'") from None
        address = os.environ.get("DASK_SCHEDULER_ADDRESS")
        client = Client(address) if address else Client(n_workers=jobs, threads_per_worker=1)
        try:
            with parallel_config(backend="dask", n_jobs=jobs):
                yield
        finally:
            client.close()
        return
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        raise UserError("--joblib-backend ray needs ray: pip install 'ray[default]'") from None
    register_ray()
    ray.init(address=os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True)
    with parallel_config(backend="ray", n_jobs=jobs):
        yield
