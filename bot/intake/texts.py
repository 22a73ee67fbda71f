"""Hold the conversation's canned texts that more than one part of it says.

Every string is a gettext message id (``N_``), translated when a reply is rendered in the
reader's language; the catalogs in ``locales/`` hold the Dari and Pashto.
"""

from __future__ import annotations

from typing import Final

from bot.i18n.translations import N_

COMMAND_DESCRIPTIONS: Final = {
    "start": N_("Start"),
    "report": N_("Tell us what happened"),
    "help": N_("How to use this bot"),
    "language": N_("Change the language"),
    "status": N_("Check your report with your code"),
    "cancel": N_("Delete the report you are writing"),
    "safety": N_("Safety advice"),
    "wipe": N_("Delete this whole chat from your phone"),
    "forget": N_("Forget my language and unsent answers"),
}
"""The commands people see in Telegram's menu, in the order shown."""

# ----------------------------------------------------------------------- texts

WELCOME: Final = N_(
    "Salaam. This is Amanat. Here you can tell us, safely, if someone tried to recruit you "
    "for a war or an armed group, offered you a false job abroad, threatened you, or took "
    "your documents or wages."
)
HONESTY: Final = N_(
    "Your answers are locked with a key that only our small team holds. We do not ask your "
    "name. Telegram itself is not fully private: if you are in great danger, be careful "
    "what you write."
)
HELP: Final = N_(
    "How to use Amanat:\n"
    "• Press the buttons to answer.\n"
    "• You can type instead of pressing.\n"
    "• /report starts a new report.\n"
    "• /cancel deletes the report you are writing.\n"
    "• /language changes the language.\n"
    "• /safety shows safety advice.\n"
    "• /wipe deletes this whole chat from your phone.\n"
    "• /status and your code shows what happened to your report."
)
SAFETY: Final = N_(
    "Stay safe:\n"
    "• If someone may check your phone, delete this chat when you finish.\n"
    "• Do not send your name, your photo or your exact address.\n"
    "• Never pay anyone to be 'sent' to a job or to a war abroad.\n"
    "• Keep your documents with you. Do not give them to an agent."
)
NEVER_GIVE_CODE: Final = N_(
    "Fake copies of this bot exist. Never give your code to any other account or person, even "
    "if they say they are our team. Our team never asks you for your code."
)
# Translators: {username} is the bot's Telegram name, e.g. @AmanatReportBot; keep it as is.
TRUE_BOT: Final = N_("The only real Amanat bot is {username}. Check the name letter by letter.")
# Translators: {phrase} is a phrase chosen by the organisation, shown as it was written.
VERIFICATION_PHRASE: Final = N_(
    "Our phrase is: {phrase}\n"
    "Our organisation shows the same phrase on its own pages. If it is not the same, do not "
    "write here, and delete this chat."
)
EMERGENCY: Final = N_(
    "If your life is in danger now, go to a safe place first. Call someone you trust. "
    "Our team sees that your report is urgent."
)
PICK_LANGUAGE_TEXT: Final = N_("Please choose your language.")

# Translators: {answer} is the chosen answer, e.g. "Iran".
YOUR_ANSWER: Final = N_("Your answer: {answer}")
# Translators: {count} is how many messages were received so far.
RECEIVED_MANY: Final = N_("Received and locked ({count}). Send more, or press Done.")
# Translators: {hours} is a number of hours, e.g. 24.
OLD_BUTTON: Final = N_(
    "That button is old. Unsent answers are deleted after {hours} hours, "
    "for your safety. You can start again."
)
# Translators: {length} and {limit} are numbers of letters.
TOO_LONG: Final = N_(
    "This message is too long ({length} letters). Please send at most "
    "{limit} letters in one message. You can send the rest in another "
    "message. Nothing was saved from this one."
)
RESTARTED: Final = N_(
    "Sorry: our system was restarted. If you were in the middle of a report, the answers you had "
    "not sent yet are gone. Reports you already sent are safe. You can start again."
)
# Translators: {hours} is a number of hours, e.g. 24.
DRAFT_EXPIRED: Final = N_(
    "Your answers that were not sent yet were deleted: for your safety, a report must be sent "
    "within {hours} hours of starting it. Reports you already sent are safe. You can start again."
)
ANSWER_WITH_BUTTONS: Final = N_(
    "I did not understand. Please press one of the buttons, or type its number."
)


# Translators: {size} and {limit} are sizes in megabytes, e.g. 35 and 20.
TOO_BIG: Final = N_(
    "This file is too big ({size} MB). Please send files of at most {limit} MB. "
    "Nothing from it was saved."
)


# Translators: {files} is a number of files, {megabytes} a size in megabytes, e.g. 30 and 200.
REPORT_FULL: Final = N_(
    "This report is full: one report can hold at most {files} files, {megabytes} MB in all. "
    "Nothing from this file was saved. You can still type, or send this report and start a "
    "new one."
)

# Translators: {day} is a date in the reader's calendar, {reply} the team's answer.
TEAM_ANSWER: Final = N_("Answer from our team ({day}):\n{reply}")
