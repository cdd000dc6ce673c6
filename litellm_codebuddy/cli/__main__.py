"""``python -m litellm_codebuddy.cli``: the ``litellm-codebuddy`` command."""

import sys

from .commands import main

sys.exit(main())
