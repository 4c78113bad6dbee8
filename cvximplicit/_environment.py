"""A description of the machine and packages, attached to benchmark/training JSON."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from importlib import metadata

_PACKAGES = ("cvximplicit", "numpy", "scipy", "cvxpy", "clarabel", "scs", "ecos", "mosek", "torch", "scikit-learn")


def environment() -> dict:
    """Package versions, CPU, thread count and the date (UTC)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "packages": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
