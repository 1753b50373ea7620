"""``python -m chainrule.cli``: the same as the ``chainrule`` command."""

import sys

from .run import main

sys.exit(main())
