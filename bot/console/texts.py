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
ASK_CONSENT: Final = N_("Ask the reporter whether we may share the case with a partner")
QUESTION_WAITING: Final = N_("Our question about sharing the case waits for the reporter's answer.")
FILES: Final = N_("Voice notes, photos and files")
# Translators: {number} is a file's number in the report.
OPEN_FILE: Final = N_("File {number}")
# Translators: {reason} is the server's reason, in English.
REFUSED: Final = N_("The server refused: {reason}")
NOT_THIS_HOST: Final = N_("This console answers only at its own address on this computer.")
LOG_IN_FIRST: Final = N_("Open the address that `amanat console` printed.")
NOT_FROM_HERE: Final = N_("This form did not come from this console.")
STALE_FORM: Final = N_("This form is out of date: reload the page and try again.")
BAD_ADDRESS: Final = N_("This address is not valid: use the one `amanat console` printed.")
NOT_SHOWN: Final = N_("This kind of file is not shown here: save it with `amanat admin export`.")
# Translators: {limit} is a number of characters.
TEXT_LENGTH: Final = N_("Write between 1 and {limit} characters.")
