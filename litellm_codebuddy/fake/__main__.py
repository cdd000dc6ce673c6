"""``python -m litellm_codebuddy.fake``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
