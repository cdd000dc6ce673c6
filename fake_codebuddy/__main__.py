"""``python -m fake_codebuddy``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
