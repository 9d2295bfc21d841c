"""What the tablet shows: the pages of one assessment's form, in its pinned language.

Reads only. One page per section of the pinned instruments (FACT-B's five,
then the E2108 locoregional items), each item with its wording: the
licensed wording when a licensee has loaded it (``load_instrument_text``)
for that instrument, version and language, otherwise our short labels,
flagged as demonstration wording. Short labels, section titles and the
response scale go through Django's translation catalogue (``locale/``); the
Spanish labels in ``scoring.instruments`` are the fallback and the source
the catalogue is checked against.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import pgettext

from scoring.instruments import RESPONSE_SCALE, Item, Section
from surveys import instrumentation
from surveys.models import Assessment, InstrumentText, Response

CTX_ITEM = "instrument short label"
CTX_SECTION = "questionnaire section"
CTX_SCALE = "response scale"

INTRO = "intro"
REVIEW = "review"


def _localized(context: str, english: str, spanish: str) -> str:
    """Translate *english* through the catalogue; fall back to the instrument's Spanish."""
    text = pgettext(context, english)
    if text == english and (translation.get_language() or "en").startswith("es"):
        return spanish
    return text


def item_label(item: Item) -> str:
    return _localized(CTX_ITEM, item.label_en, item.label_es)


def section_title(section: Section) -> str:
    return _localized(CTX_SECTION, section.title_en, section.title_es)


@dataclass(frozen=True)
class ScaleOption:
    value: int
    label: str


def response_scale() -> list[ScaleOption]:
    return [
        ScaleOption(o.value, _localized(CTX_SCALE, o.label_en, o.label_es)) for o in RESPONSE_SCALE
    ]


def item_texts(pinned: str, language: str) -> dict[str, tuple[str, bool]]:
    """Item code -> (wording, licensed?) for a pinned form in *language*."""
    instruments = instrumentation.instruments(pinned)
    loaded: dict[tuple[str, str], str] = {}
    rows = InstrumentText.objects.filter(
        language=language, instrument__in=[i.code for i in instruments]
    ).values_list("instrument", "version", "item_code", "text")
    for instrument, version, code, text in rows:
        loaded[(f"{instrument}@{version}", code)] = text
    out: dict[str, tuple[str, bool]] = {}
    for inst in instruments:
        for item in inst.items:
            licensed = loaded.get((f"{inst.code}@{inst.version}", item.code))
            out[item.code] = (licensed, True) if licensed else (item_label(item), False)
    return out


@dataclass
class ItemView:
    code: str
    number: int
    text: str
    licensed: bool
    optional: bool
    value: int | None = None
    declined: bool = False
    #: when the stored answer was tapped, in milliseconds since the epoch (None: unanswered)
    tapped_ms: int | None = None

    @property
    def answered(self) -> bool:
        return self.value is not None or self.declined

    @property
    def shown(self) -> str:
        """The answer as the page shows it: a value, ``declined`` or empty."""
        return "declined" if self.declined else "" if self.value is None else str(self.value)


@dataclass
class PageView:
    code: str
    title: str
    number: int
    items: list[ItemView] = field(default_factory=list)

    @property
    def demo_wording(self) -> bool:
        return any(not item.licensed for item in self.items)

    @property
    def unanswered(self) -> list[ItemView]:
        return [item for item in self.items if not item.answered]


@dataclass
class FormView:
    pages: list[PageView]

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.pages]

    @property
    def total(self) -> int:
        return sum(len(p.items) for p in self.pages)

    @property
    def answered(self) -> int:
        return sum(1 for p in self.pages for item in p.items if item.answered)

    @property
    def answered_codes(self) -> list[str]:
        return [item.code for p in self.pages for item in p.items if item.answered]

    @property
    def demo_wording(self) -> bool:
        return any(p.demo_wording for p in self.pages)

    def page(self, code: str) -> PageView | None:
        return next((p for p in self.pages if p.code == code), None)

    def after(self, code: str) -> str:
        """The page after *code* (``review`` after the last section)."""
        codes = [INTRO, *self.codes, REVIEW]
        return codes[min(codes.index(code) + 1, len(codes) - 1)]

    def before(self, code: str) -> str:
        codes = [INTRO, *self.codes, REVIEW]
        return codes[max(codes.index(code) - 1, 0)]

    def resume_at(self) -> str:
        """Where a returning patient continues: intro, the first page with a gap, or review."""
        if self.answered == 0:
            return INTRO
        for page in self.pages:
            if page.unanswered:
                return page.code
        return REVIEW


def form_for(assessment: Assessment) -> FormView:
    """The whole form of *assessment* with its saved answers, in the active language."""
    pinned = assessment.instrument_version
    texts = item_texts(pinned, assessment.language)
    items = instrumentation.items(pinned)
    saved = {
        code: (value, declined, tapped or stored)
        for code, value, declined, tapped, stored in Response.objects.filter(
            assessment=assessment
        ).values_list("item_code", "value", "declined", "tapped_at", "saved_at")
    }
    pages = []
    for number, section in enumerate(instrumentation.sections(pinned), start=1):
        page = PageView(code=section.code, title=section_title(section), number=number)
        for index, code in enumerate(section.items, start=1):
            text, licensed = texts[code]
            value, declined, tapped = saved.get(code, (None, False, None))
            page.items.append(
                ItemView(
                    code=code,
                    number=index,
                    text=text,
                    licensed=licensed,
                    optional=items[code].optional,
                    value=value,
                    declined=declined,
                    tapped_ms=int(tapped.timestamp() * 1000) if tapped else None,
                )
            )
        pages.append(page)
    return FormView(pages)


#: Seconds per question assumed before enough forms have been timed on tablets.
SECONDS_PER_ITEM = 12
#: Timed forms needed before their median replaces the assumption.
MIN_TIMED_FORMS = 20
#: The most recent timed forms the estimate looks at.
TIMED_FORMS_WINDOW = 200


def minutes_estimate(assessment: Assessment) -> int:
    """About how many minutes the whole form takes, for the intro page.

    The median time patients spent on the pages of completed forms of the
    same version (from the tablet's page timings), once at least
    MIN_TIMED_FORMS were timed; until then SECONDS_PER_ITEM per question.
    Rounded to whole minutes, then to the nearest 5 from 10 minutes up
    ("about 10 minutes", never a false precision). One query.
    """
    pinned = assessment.instrument_version
    timings = (
        Assessment.objects.filter(
            status=Assessment.Status.COMPLETED, instrument_version=pinned, submitted_by=None
        )
        .exclude(page_seconds={})
        .order_by("-completed_at")
        .values_list("page_seconds", flat=True)[:TIMED_FORMS_WINDOW]
    )
    totals = [
        total
        for pages in timings
        if isinstance(pages, dict)
        and (total := sum(float(s) for s in pages.values() if isinstance(s, int | float))) > 0
    ]
    if len(totals) >= MIN_TIMED_FORMS:
        seconds = statistics.median(totals)
    else:
        seconds = SECONDS_PER_ITEM * len(instrumentation.items(pinned))
    minutes = max(1, round(seconds / 60))
    return minutes if minutes < 10 else 5 * round(minutes / 5)
