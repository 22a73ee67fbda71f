"""The local console's own words; everything else it shows comes from the admin views."""

from __future__ import annotations

from typing import Final

from bot.i18n.translations import N_

TITLE: Final = N_("Amanat: reports")
QUEUE: Final = N_("All reports")
TAKE_NEXT: Final = N_("Take the next new report")
WORK_ON: Final = N_("Mark: someone works on it")
CLOSE: Final = N_("Close the report")
NOTE: Final = N_("A note for the team (the reporter never sees it)")
ANSWER: Final = N_("An answer to the reporter (they read it with their code)")
SAVE: Final = N_("Save")
FILES: Final = N_("Voice notes, photos and files")
# Translators: {number} is a file's number in the report.
OPEN_FILE: Final = N_("File {number}")
# Translators: {reason} is the server's reason, in English.
REFUSED: Final = N_("The server refused: {reason}")
