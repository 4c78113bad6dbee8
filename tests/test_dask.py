"""paper_repro sweeps on a real Dask cluster (joblib's dask backend) give the local run's table.

``paper_repro/README.md`` documents running sweeps on Dask through joblib; this
test runs one: the convex alternating row of the quick Table I sweep (two
seeds, n = 12, L = 4 — the smallest sweep that still trains the package's main
method; no torch needed) on a ``LocalCluster`` with two worker *processes* of one
thread each, and checks that

* every run executed on the cluster's workers (the scheduler's task stream), and
* the aggregated table (metric mean/std, parameters, run counts, settings) and
  every run's test predictions equal the sequential local run's (seeded runs;
  only the wall times may differ).

The dask extra (``pip install -e ".[dask]"``) is installed by ``.ci/run``.  The
same sweep on Ray (``ray.util.joblib``) runs with ``pytest -m slow`` when Ray is
installed (it is not installed by ``.ci/run``; the test skips with that reason
otherwise).
"""

from __future__ import annotations

import logging
from pathlib import Path

import joblib
import numpy as np
import pytest

from paper_repro.runner import run_sweep
from paper_repro.specs import run_specs
from paper_repro.tables import aggregate

#: Same seeds, same code, different processes (and BLAS thread counts): the numbers may differ by rounding only.
RTOL = 1e-9
TIMING_KEYS = {"train_time_s", "train_time_s_std", "warmup_s", "wall_time_s"}


def quick_specs():
    """The quick Table I runs of the convex row: 2 seeds, each a few seconds."""
    specs = [s for s in run_specs("table1", quick=True) if s.block_solver == "alternating"]
    assert len(specs) == 2 and all(s.n == 12 and s.L == 4 and s.task == "smooth" for s in specs)
    return specs


def comparable(entries):
    return [{k: v for k, v in e.items() if k not in TIMING_KEYS} for e in entries]


def assert_same_table(remote, local, specs):
    """Same runs, same predictions, same aggregated table (all but the wall times)."""
    assert not any(row.get("error") for row in local + remote), [row.get("error") for row in local + remote]
    assert sorted(r["key"] for r in remote) == sorted(s.key for s in specs)
    by_key = {r["key"]: r for r in local}
    for row in remote:
        np.testing.assert_allclose(row["test_predictions"], by_key[row["key"]]["test_predictions"], rtol=RTOL,
                                   atol=1e-12)
    table_local, table_remote = comparable(aggregate("table1", local)), comparable(aggregate("table1", remote))
    assert [(e["model"], e["n_runs"]) for e in table_remote] == [(e["model"], e["n_runs"]) for e in table_local]
    for a, b in zip(table_remote, table_local):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert a[key] == pytest.approx(b[key], rel=RTOL), (a["model"], key)
            else:
                assert a[key] == b[key], (a["model"], key)
    assert sum(e["n_runs"] for e in table_remote) == len(specs)


def test_quick_sweep_on_dask_local_cluster_matches_local_run(tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="needs dask.distributed: pip install -e '.[dask]' (installed by .ci/run)"
    )
    specs = quick_specs()
    local = run_sweep(specs, tmp_path / "local", n_jobs=1)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
            remote = run_sweep(specs, tmp_path / "dask", n_jobs=-1)
        workers = set(client.scheduler_info()["workers"])
    ran_on = {task["worker"] for task in stream.data}
    assert len(workers) == 2 and len(stream.data) >= len(specs) and ran_on and ran_on <= workers
    assert_same_table(remote, local, specs)


@pytest.mark.slow  # starting Ray takes 10-60 s here; Ray is not installed by .ci/run anyway
def test_quick_sweep_on_ray_matches_local_run(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is optional and not installed by .ci/run (pip install ray)")
    from ray.util.joblib import register_ray

    specs = quick_specs()
    local = run_sweep(specs, tmp_path / "local", n_jobs=1)
    root = str(Path(__file__).resolve().parents[1])  # Ray's workers import paper_repro from the repository root
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": root}})
    try:
        register_ray()
        with joblib.parallel_config(backend="ray"):
            backend, _ = joblib.parallel.get_active_backend()
            assert type(backend).__name__ == "RayBackend"
            remote = run_sweep(specs, tmp_path / "ray", n_jobs=2)
        assert ray.cluster_resources().get("CPU") == 2
    finally:
        ray.shutdown()
    assert_same_table(remote, local, specs)
