"""``python -m streamcodec``: the ``streamcodec`` command line."""

import sys

from streamcodec.cli import main

if __name__ == "__main__":
    sys.exit(main())
