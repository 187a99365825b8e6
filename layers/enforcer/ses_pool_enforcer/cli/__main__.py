"""``python -m ses_pool_enforcer.cli``: the same as the ``ses-pool-enforcer`` script."""

import sys

from ses_pool_enforcer.cli import main

sys.exit(main())
