"""``python -m cvximplicit.cli``: the same as the ``cvximplicit`` command."""

import sys

from . import main

sys.exit(main())
