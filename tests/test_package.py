"""Package surface: __all__, imports without the optional dependencies, console script."""

from __future__ import annotations

import subprocess
import sys

import cvximplicit

# An import hook that makes 'import torch' / 'import mosek' fail as if they were not installed.
# (Setting sys.modules['torch'] = None would break scipy, which inspects sys.modules.)
HIDE = (
    "import sys, importlib.abc\n"
    "class _Hide(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'mosek'):\n"
    "            raise ImportError(f'{name} is hidden for this test')\n"
    "sys.meta_path.insert(0, _Hide())\n"
)


def test_every_name_in_all_exists():
    missing = [name for name in cvximplicit.__all__ if not hasattr(cvximplicit, name)]
    assert missing == []
    assert len(set(cvximplicit.__all__)) == len(cvximplicit.__all__)


def test_import_without_torch_and_mosek():
    code = HIDE + (
        "import cvximplicit, cvximplicit.cli, cvximplicit.solvers, cvximplicit.baselines\n"
        "import numpy as np\n"
        "assert 'torch' not in sys.modules and 'mosek' not in sys.modules\n"
        "print('ok', cvximplicit.__version__, len(cvximplicit.__all__))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok ")


def test_core_does_not_import_torch():
    code = "import sys, cvximplicit, cvximplicit.estimators, cvximplicit.experiments\nprint('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_console_script_help():
    proc = subprocess.run([sys.executable, "-m", "cvximplicit.cli", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "train" in proc.stdout and "inspect" in proc.stdout


def test_import_leaves_heavy_optional_stacks_unimported():
    # `import cvximplicit` (and the CLI's `--version`) must not pay for scikit-learn, torch or the plotting stack:
    # they load when an estimator, a baseline or a plot is used.
    code = ("import sys, cvximplicit, cvximplicit.cli\n"
            "print(sorted(m for m in ('sklearn', 'torch', 'matplotlib', 'pandas') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_lazy_names_are_the_real_objects():
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    import cvximplicit.estimators
    import cvximplicit.exceptions

    assert cvximplicit.ImplicitRegressor is cvximplicit.estimators.ImplicitRegressor
    assert cvximplicit.NotFittedError is cvximplicit.exceptions.NotFittedError
    assert issubclass(cvximplicit.NotFittedError, (SklearnNotFittedError, cvximplicit.CvxImplicitError))
    assert {"ImplicitRegressor", "ImplicitClassifier", "NotFittedError"} <= set(dir(cvximplicit))
    try:
        cvximplicit.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")
