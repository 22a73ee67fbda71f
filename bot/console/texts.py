"""The local console's own words; everything else it shows comes from the admin views."""

from __future__ import annotations

from typing import Final

from bot.i18n.translations import N_
from bot.partners.routing import Sharing

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
NOT_SHOWN: Final = N_("This kind of file is not shown here: use its Save link.")
# Translators: {limit} is a number of characters.
TEXT_LENGTH: Final = N_("Write between 1 and {limit} characters.")
RELEASE: Final = N_("Give it back to the queue")
# Translators: {number} is a file's number in the report.
SAVE_FILE: Final = N_("Save file {number}")
SAVE_REPORT: Final = N_("Save this report as a text file")
SAVED_PLAIN: Final = N_(
    "Saved files are not encrypted. Keep them only on an encrypted disk, and delete them when "
    "the case is finished."
)
SHARE: Final = N_("Share the case with a partner")
PARTNER: Final = N_("Partner")
SUMMARY: Final = N_("Your summary of the case. Write nothing that shows who the person is.")
SHARE_BUTTON: Final = N_("Lock the case for this partner and download it")
SHARING_YES: Final = N_("The reporter said yes: we may share the case with a partner.")
SHARING_NO: Final = N_("The reporter said no: we may not share the case.")
SHARING_NOT_ASKED: Final = N_("The reporter has not said yes to sharing the case.")
NO_PARTNERS: Final = N_("No partner is set up: ask whoever runs the server to add one.")
NO_SUCH_PARTNER: Final = N_("Choose a partner from the list.")
NO_PARTNER_LANGUAGE: Final = N_("The partner's language is not installed on this computer.")
CONSENT_UNREADABLE: Final = N_("The reporter's answer about sharing cannot be read.")
REDACT_TITLE: Final = N_("Hide parts of the reporter's words")
REDACT_HELP: Final = N_(
    "Change the text below: for example, write [name] instead of a name. Other team members "
    "will see only your text. Only a lead can open what the reporter sent."
)
REDACT_SAVE: Final = N_("Save the changed text")
NOTHING_HIDDEN: Final = N_("The text is the same: nothing was hidden.")
NO_LEAD: Final = N_("No lead is set up, so nothing can be hidden: ask whoever runs the server.")
NOT_REDACTABLE: Final = N_("Only the reporter's own words can be hidden.")
SHARING_SAID: Final = {
    Sharing.NOT_ASKED: SHARING_NOT_ASKED,
    Sharing.WAITING: QUESTION_WAITING,
    Sharing.YES: SHARING_YES,
    Sharing.NO: SHARING_NO,
}
"""Where consent to sharing stands, as the console says it."""
REDACTION_REFUSED: Final = {
    "item": NOT_REDACTABLE,
    "same": NOTHING_HIDDEN,
    "no-lead": NO_LEAD,
}
"""Why a redaction was refused, as the console says it (length: TEXT_LENGTH)."""
FAILED_DELIVERIES: Final = N_("Digests that could not be delivered")
# Translators: {partner} is an organisation's short name in Latin letters; {month} is a month;
# {channel} is how the digest was sent (Telegram, e-mail, web address); {reason} says why it
# failed; {tries} is a number.
FAILED_DELIVERY: Final = N_("{partner}, {month}, by {channel}: {reason}. Tries: {tries}")
REDELIVER_HINT: Final = N_(
    "Ask a lead to fix the cause, then to send it again with `amanat digest redeliver`."
)
CHANNEL_LABELS: Final = {
    "telegram": N_("Telegram"),
    "email": N_("e-mail"),
    "webhook": N_("web address (webhook)"),
}
"""How each delivery channel is named to admins."""
DELIVERY_ERROR_LABELS: Final = {
    "refused": N_("the receiver refused it"),
    "unavailable": N_("the receiver could not be reached"),
    "timeout": N_("the receiver did not answer in time"),
    "tls": N_("the receiver's security certificate is not trusted"),
    "login": N_("the mail server did not accept our login"),
    "rate-limited": N_("the receiver asked us to wait: too many messages"),
    "blocked": N_("the bot was blocked, or removed from the chat"),
    "too-large": N_("the file is too large for the receiver"),
    "not-configured": N_("the server has no such setting for this partner"),
    "interrupted": N_("the server stopped while sending it"),
    "error": N_("an unexpected error"),
}
"""Why a delivery failed, as the console says it (the kinds of storage.deliveries)."""
