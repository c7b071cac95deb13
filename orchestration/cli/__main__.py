"""`python -m orchestration.cli`: the same as `tailor`."""

import sys

from orchestration.cli import main

sys.exit(main())
