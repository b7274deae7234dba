"""Entry point: ``python tests/emulator/run.py --help``.

Puts ``tests/`` on ``sys.path`` so the ``emulator`` package imports without installing anything.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emulator.cli import main  # noqa: E402  (needs the path set above)

if __name__ == "__main__":
    sys.exit(main())
