"""``python -m bot.cli``: the same as ``costbot``."""

import sys

from bot.cli.parser import main

sys.exit(main())
