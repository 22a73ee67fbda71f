"""Let ``python -m bot.i18n compile [DIR]`` keep working after the move into a package."""

import sys

from bot.i18n.translations import main

sys.exit(main())
