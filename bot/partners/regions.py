"""Group Afghanistan's provinces into regions, so a digest can show where reports come from
when each province alone has too few to show.

A partner at a new deployment sees a month of a few dozen reports spread over many
provinces: every province below ``k``, the province table hidden or withheld. One level up,
the same reports often make a region count that may be shown. The digest publishes the
levels as a tree (country, then its regions, then the provinces of each shown region), each
level protected against its parent's published count; :mod:`bot.partners.digest` says why a
tree, and ``benchmarks/disclosure.py`` measures what partners gain by it.

The grouping is the eight regions that the United Nations' humanitarian offices in
Afghanistan report by, so a partner can lay our counts beside theirs. Iran's province list is
already short (thirteen named provinces and "another province"), so it has no regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bot.i18n.translations import N_
from bot.questions import UNSAID


@dataclass(frozen=True)
class Region:
    """A named group of provinces: an id for data, a msgid for people."""

    id: str
    label: str
    provinces: frozenset[str]


AFGHAN_REGIONS: Final = (
    Region(
        "central",
        N_("Central"),
        frozenset({"kabul", "kapisa", "logar", "panjshir", "parwan", "wardak"}),
    ),
    Region("central_highlands", N_("Central Highlands"), frozenset({"bamyan", "daykundi"})),
    Region("east", N_("East"), frozenset({"kunar", "laghman", "nangarhar", "nuristan"})),
    Region("northeast", N_("Northeast"), frozenset({"badakhshan", "baghlan", "kunduz", "takhar"})),
    Region(
        "north",
        N_("North"),
        frozenset({"balkh", "faryab", "jowzjan", "samangan", "sar_e_pol"}),
    ),
    Region("west", N_("West"), frozenset({"badghis", "farah", "ghor", "herat"})),
    Region(
        "south",
        N_("South"),
        frozenset({"helmand", "kandahar", "nimruz", "uruzgan", "zabul"}),
    ),
    Region("southeast", N_("Southeast"), frozenset({"ghazni", "khost", "paktia", "paktika"})),
)

REGIONS: Final[Mapping[str, tuple[Region, ...]]] = {"AF": AFGHAN_REGIONS}
"""The countries whose provinces are grouped, with their regions in the order shown."""

_REGION_OF: Final[Mapping[tuple[str, str], str]] = {
    (country, province): region.id
    for country, regions in REGIONS.items()
    for region in regions
    for province in region.provinces
}


def region_of(country: str, province: str) -> str:
    """Name the region a province lies in; "not said" stays "not said".

    A province id the table does not know (from a questionnaire of another version) counts
    as "not said" at the region level rather than being guessed into a region.
    """
    if province == UNSAID:
        return UNSAID
    return _REGION_OF.get((country, province), UNSAID)


REGION_LABELS: Final[Mapping[str, str]] = {
    region.id: region.label for regions in REGIONS.values() for region in regions
}
"""The msgid naming each region, by id (ids are unique across countries)."""
