"""Instrument definitions as data: items, sections, reversal keys and score rules.

The rules and their sources (FACIT scoring guidelines, FACTscorer) are written up in
``docs/scoring.md``.
Everything the tablet form, the item-code validation and the scoring module
need is here, as frozen dataclasses, so that one definition drives all three.

Licensing: FACIT item wording is copyrighted and licensed per trial. This
module ships item codes, scoring keys, the response-scale labels and *our own*
short labels (English and Spanish), never the licensed wording. The short
labels are phrased so that the direction of the item is clear (``"Low
energy"``, not ``"Energy"``), because the tablet shows them as demonstration
wording when no licensed text is loaded.

No Django import: this module is used from notebooks and the command line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ALL_ITEM_CODES",
    "ARM_ITEM_CODES",
    "ARM_SUBSCALE",
    "E2108_FORM",
    "E2108_LR",
    "FACTB_ITEM_CODES",
    "FACT_B_PLUS4",
    "FACT_B_V4",
    "INSTRUMENTS",
    "ITEMS",
    "LR_ITEM_CODES",
    "MISSING_CODES",
    "RESPONSE_SCALE",
    "RESPONSE_VALUES",
    "Instrument",
    "Item",
    "ResponseOption",
    "ScoreDef",
    "Section",
    "form_sections",
    "get_instrument",
    "get_item",
    "get_score",
]

ScoreKind = Literal["subscale", "total", "item"]


@dataclass(frozen=True)
class ResponseOption:
    """One point of the 0–4 response scale."""

    value: int
    label_en: str
    label_es: str


#: The FACIT 0–4 scale, "during the past 7 days". Response labels may be shipped.
RESPONSE_SCALE: tuple[ResponseOption, ...] = (
    ResponseOption(0, "Not at all", "Nada"),
    ResponseOption(1, "A little bit", "Un poco"),
    ResponseOption(2, "Somewhat", "Algo"),
    ResponseOption(3, "Quite a bit", "Mucho"),
    ResponseOption(4, "Very much", "Muchísimo"),
)
RESPONSE_VALUES: tuple[int, ...] = tuple(o.value for o in RESPONSE_SCALE)
#: FACIT missing-value codes (as in FACIT's own SAS/SPSS syntax); blank is missing too.
MISSING_CODES: frozenset[int] = frozenset({8, 9})


@dataclass(frozen=True)
class Item:
    """One questionnaire item.

    ``reversed`` items score ``4 - response`` so that higher always means better
    quality of life (FACIT items) . ``optional`` marks an item with a "prefer
    not to answer" box (GS7); a skipped optional item is simply missing and
    stays in every denominator.
    """

    code: str
    subscale: str
    reversed: bool
    label_en: str
    label_es: str
    optional: bool = False


@dataclass(frozen=True)
class Section:
    """A block of items shown together on the form, in display order."""

    code: str
    title_en: str
    title_es: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ScoreDef:
    """A score: its items, its validity rule and its range.

    * ``kind="subscale"``: ``sum of item scores × len(items) ÷ answered``,
      scored when ``answered >= min_answered`` (more than 50% of the items).
    * ``kind="total"``: the sum of the prorated ``components`` (never prorated
      again), scored when every component is scored and
      ``answered >= min_answered`` counted over ``items`` (more than 80%).
    * ``kind="item"``: one item scored on its own (the E2108 locoregional items).

    ``higher_is_better`` is False for symptom-direction scores.
    """

    code: str
    label_en: str
    label_es: str
    kind: ScoreKind
    items: tuple[str, ...]
    min_answered: int
    rule: str
    range: tuple[int, int]
    components: tuple[str, ...] = ()
    higher_is_better: bool = True

    @property
    def n_items(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Instrument:
    """A versioned instrument: items (in form order), sections and scores."""

    code: str
    version: str
    name_en: str
    name_es: str
    items: tuple[Item, ...]
    sections: tuple[Section, ...]
    scores: tuple[ScoreDef, ...]
    response_scale: tuple[ResponseOption, ...] = RESPONSE_SCALE
    _by_code: Mapping[str, Item] = field(init=False, repr=False, compare=False)
    _scores_by_code: Mapping[str, ScoreDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes = [i.code for i in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError(f"{self.code}: duplicate item codes")
        in_sections = [c for s in self.sections for c in s.items]
        if in_sections != codes:
            raise ValueError(f"{self.code}: sections must list every item once, in item order")
        by_code = {i.code: i for i in self.items}
        for score in self.scores:
            unknown = [c for c in score.items if c not in by_code]
            if unknown:
                raise ValueError(f"{self.code}: score {score.code} uses unknown items {unknown}")
        object.__setattr__(self, "_by_code", MappingProxyType(by_code))
        object.__setattr__(
            self, "_scores_by_code", MappingProxyType({s.code: s for s in self.scores})
        )

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items)

    @property
    def score_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.scores)

    def item(self, code: str) -> Item:
        try:
            return self._by_code[code]
        except KeyError:
            raise KeyError(f"{self.code} v{self.version} has no item {code!r}") from None

    def score(self, code: str) -> ScoreDef:
        try:
            return self._scores_by_code[code]
        except KeyError:
            raise KeyError(f"{self.code} v{self.version} has no score {code!r}") from None


# --------------------------------------------------------------------------- items
# (code, reversed, English short label, Spanish short label); our own wording.
_PWB = (
    ("GP1", True, "Low energy", "Poca energía"),
    ("GP2", True, "Nausea", "Náuseas"),
    ("GP3", True, "Trouble meeting family's needs", "Dificultad para atender a la familia"),
    ("GP4", True, "Pain", "Dolor"),
    ("GP5", True, "Bothered by treatment side effects", "Molestias por efectos secundarios"),
    ("GP6", True, "Feeling ill", "Sensación de estar enferma"),
    ("GP7", True, "Forced to spend time in bed", "Tener que pasar tiempo en cama"),
)
_SWB = (
    ("GS1", False, "Close to friends", "Cercanía con las amistades"),
    ("GS2", False, "Emotional support from family", "Apoyo emocional de la familia"),
    ("GS3", False, "Support from friends", "Apoyo de las amistades"),
    ("GS4", False, "Family has accepted the illness", "La familia ha aceptado la enfermedad"),
    (
        "GS5",
        False,
        "Satisfied with family communication about the illness",
        "Satisfecha con la comunicación familiar sobre la enfermedad",
    ),
    ("GS6", False, "Close to partner or main support", "Cercanía con la pareja o apoyo principal"),
    ("GS7", False, "Satisfied with sex life", "Satisfecha con la vida sexual"),
)
_EWB = (
    ("GE1", True, "Sad", "Tristeza"),
    ("GE2", False, "Satisfied with how I am coping", "Satisfecha con cómo lo afronto"),
    ("GE3", True, "Losing hope", "Pérdida de esperanza"),
    ("GE4", True, "Nervous", "Nerviosismo"),
    ("GE5", True, "Worried about dying", "Preocupación por morir"),
    ("GE6", True, "Worried the condition will get worse", "Preocupación por empeorar"),
)
_FWB = (
    ("GF1", False, "Able to work (including at home)", "Capaz de trabajar (también en casa)"),
    ("GF2", False, "Work is fulfilling", "El trabajo me satisface"),
    ("GF3", False, "Able to enjoy life", "Capaz de disfrutar de la vida"),
    ("GF4", False, "Have accepted the illness", "He aceptado la enfermedad"),
    ("GF5", False, "Sleeping well", "Duermo bien"),
    ("GF6", False, "Enjoying usual fun activities", "Disfruto de mis actividades de ocio"),
    ("GF7", False, "Content with quality of life", "Conforme con mi calidad de vida"),
)
_BCS = (
    ("B1", True, "Short of breath", "Falta de aire"),
    ("B2", True, "Self-conscious about the way I dress", "Incomodidad con mi forma de vestir"),
    ("B3", True, "Arm(s) swollen or tender", "Brazo(s) hinchado(s) o sensible(s)"),
    ("B4", False, "Feel sexually attractive", "Me siento sexualmente atractiva"),
    ("B5", True, "Bothered by hair loss", "Me molesta la caída del cabello"),
    (
        "B6",
        True,
        "Worried family may get the same illness",
        "Preocupación por que mi familia tenga la misma enfermedad",
    ),
    (
        "B7",
        True,
        "Worried about the effect of stress on the illness",
        "Preocupación por el efecto del estrés en la enfermedad",
    ),
    ("B8", True, "Bothered by change in weight", "Me molesta el cambio de peso"),
    ("B9", False, "Able to feel like a woman", "Capaz de sentirme mujer"),
    ("P2", True, "Pain in certain body parts", "Dolor en algunas partes del cuerpo"),
)
# FACT-B+4 arm items (asked after the Additional concerns); scored with B3.
_ARM = (
    (
        "B10",
        True,
        "Moving the arm on the side of the cancer is painful",
        "Mover el brazo del lado del cáncer me duele",
    ),
    ("B11", True, "Poor range of movement in that arm", "Poca movilidad en ese brazo"),
    ("B12", True, "That arm feels numb", "Ese brazo está entumecido"),
    ("B13", True, "Stiffness in that arm", "Rigidez en ese brazo"),
)
# E2108 locoregional items: trial-specific, symptom direction (higher = more
# burden), never reversed. Drafted wording, replaceable by the protocol's.
_LR = (
    ("LR1", False, "Arm on the side of the cancer swollen", "Brazo del lado del cáncer hinchado"),
    ("LR2", False, "Moving that arm is painful", "Mover ese brazo duele"),
    (
        "LR3",
        False,
        "Limited movement of that arm or shoulder",
        "Movimiento limitado de ese brazo u hombro",
    ),
    (
        "LR4",
        False,
        "That arm or hand numb or tingling",
        "Entumecimiento u hormigueo en ese brazo o mano",
    ),
    (
        "LR5",
        False,
        "Pain or discomfort in the breast or chest wall",
        "Dolor o molestia en la mama o la pared torácica",
    ),
    (
        "LR6",
        False,
        "Skin of the breast or chest wall sore, open or draining",
        "Piel de la mama o pared torácica dolorida, abierta o con secreción",
    ),
    (
        "LR7",
        False,
        "Bothered by how the breast or chest looks",
        "Me molesta el aspecto de la mama o el pecho",
    ),
    (
        "LR8",
        False,
        "Worry that the tumour in the breast will grow or come back",
        "Preocupación por que el tumor de la mama crezca o vuelva",
    ),
    (
        "LR9",
        False,
        "Worry about the breast tumour interferes with daily life",
        "La preocupación por el tumor de la mama afecta a mi vida diaria",
    ),
)


def _items(subscale: str, rows: Iterable[tuple[str, bool, str, str]]) -> tuple[Item, ...]:
    return tuple(
        Item(code, subscale, rev, en, es, optional=(code == "GS7")) for code, rev, en, es in rows
    )


_PWB_ITEMS = _items("PWB", _PWB)
_SWB_ITEMS = _items("SWB", _SWB)
_EWB_ITEMS = _items("EWB", _EWB)
_FWB_ITEMS = _items("FWB", _FWB)
_BCS_ITEMS = _items("BCS", _BCS)
_ARM_ITEMS = _items("ARM", _ARM)
_LR_ITEMS = _items("LR", _LR)


def _codes(items: Iterable[Item]) -> tuple[str, ...]:
    return tuple(i.code for i in items)


_SECTIONS_FACTB = (
    Section("PWB", "Physical well-being", "Bienestar físico", _codes(_PWB_ITEMS)),
    Section("SWB", "Social/family well-being", "Bienestar social/familiar", _codes(_SWB_ITEMS)),
    Section("EWB", "Emotional well-being", "Bienestar emocional", _codes(_EWB_ITEMS)),
    Section("FWB", "Functional well-being", "Bienestar funcional", _codes(_FWB_ITEMS)),
    Section("BCS", "Additional concerns", "Otras preocupaciones", _codes(_BCS_ITEMS)),
)
_SECTION_ARM = Section(
    "ARM", "Additional concerns: arm", "Otras preocupaciones: brazo", _codes(_ARM_ITEMS)
)
_SECTION_LR = Section(
    "LR",
    "Breast, chest wall and arm (E2108)",
    "Mama, pared torácica y brazo (E2108)",
    _codes(_LR_ITEMS),
)


# -------------------------------------------------------------------------- scores
def _subscale(code: str, en: str, es: str, items: tuple[Item, ...], max_score: int) -> ScoreDef:
    n = len(items)
    return ScoreDef(
        code=code,
        label_en=en,
        label_es=es,
        kind="subscale",
        items=_codes(items),
        min_answered=n // 2 + 1,
        rule=f"more than 50% of {n} items answered (at least {n // 2 + 1})",
        range=(0, max_score),
    )


def _total(
    code: str, en: str, es: str, components: tuple[ScoreDef, ...], max_score: int
) -> ScoreDef:
    items = tuple(c for comp in components for c in comp.items)
    n = len(items)
    least = n * 4 // 5 + 1  # more than 80%, in integer arithmetic
    return ScoreDef(
        code=code,
        label_en=en,
        label_es=es,
        kind="total",
        items=items,
        min_answered=least,
        rule=(f"every component scored and more than 80% of {n} items answered (at least {least})"),
        range=(0, max_score),
        components=tuple(c.code for c in components),
    )


PWB = _subscale("PWB", "Physical well-being", "Bienestar físico", _PWB_ITEMS, 28)
SWB = _subscale("SWB", "Social/family well-being", "Bienestar social/familiar", _SWB_ITEMS, 28)
EWB = _subscale("EWB", "Emotional well-being", "Bienestar emocional", _EWB_ITEMS, 24)
FWB = _subscale("FWB", "Functional well-being", "Bienestar funcional", _FWB_ITEMS, 28)
BCS = _subscale("BCS", "Breast cancer subscale", "Subescala de cáncer de mama", _BCS_ITEMS, 40)
FACTG = _total("FACTG", "FACT-G total", "Total FACT-G", (PWB, SWB, EWB, FWB), 108)
FACTB = _total("FACTB", "FACT-B total", "Total FACT-B", (PWB, SWB, EWB, FWB, BCS), 148)
TOI = _total(
    "TOI",
    "FACT-B Trial Outcome Index",
    "Índice de resultados del ensayo FACT-B",
    (PWB, FWB, BCS),
    96,
)
_B3 = next(i for i in _BCS_ITEMS if i.code == "B3")
ARM_SUBSCALE = _subscale(
    "ARM", "Arm subscale (FACT-B+4)", "Subescala del brazo (FACT-B+4)", (_B3, *_ARM_ITEMS), 20
)

FACT_B_V4 = Instrument(
    code="FACT-B",
    version="4",
    name_en="Functional Assessment of Cancer Therapy - Breast",
    name_es="Evaluación funcional del tratamiento del cáncer - Mama",
    items=_PWB_ITEMS + _SWB_ITEMS + _EWB_ITEMS + _FWB_ITEMS + _BCS_ITEMS,
    sections=_SECTIONS_FACTB,
    scores=(PWB, SWB, EWB, FWB, BCS, FACTG, FACTB, TOI),
)

FACT_B_PLUS4 = Instrument(
    code="FACT-B+4",
    version="4",
    name_en="FACT-B with the arm subscale (FACT-B+4)",
    name_es="FACT-B con la subescala del brazo (FACT-B+4)",
    items=FACT_B_V4.items + _ARM_ITEMS,
    sections=(*_SECTIONS_FACTB, _SECTION_ARM),
    scores=(*FACT_B_V4.scores, ARM_SUBSCALE),
)

E2108_LR = Instrument(
    code="E2108-LR",
    version="draft-1",
    name_en="E2108 locoregional items",
    name_es="Ítems locorregionales E2108",
    items=_LR_ITEMS,
    sections=(_SECTION_LR,),
    scores=tuple(
        ScoreDef(
            code=i.code,
            label_en=i.label_en,
            label_es=i.label_es,
            kind="item",
            items=(i.code,),
            min_answered=1,
            rule="the item itself; scored when answered",
            range=(0, 4),
            higher_is_better=False,
        )
        for i in _LR_ITEMS
    ),
)

#: The E2108 tablet form, in order: PWB, SWB, EWB, FWB, Additional concerns, LR module.
E2108_FORM: tuple[Instrument, ...] = (FACT_B_V4, E2108_LR)

INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {i.code: i for i in (FACT_B_V4, FACT_B_PLUS4, E2108_LR)}
)

#: The 37 FACT-B v4 item columns a scoring input must have (GS7 included).
FACTB_ITEM_CODES: tuple[str, ...] = FACT_B_V4.item_codes
#: Optional FACT-B+4 arm items; with B3 they make the ARM subscale.
ARM_ITEM_CODES: tuple[str, ...] = _codes(_ARM_ITEMS)
#: Optional E2108 locoregional items, scored item by item.
LR_ITEM_CODES: tuple[str, ...] = _codes(_LR_ITEMS)
#: Every item code this module knows, in form order.
ALL_ITEM_CODES: tuple[str, ...] = FACTB_ITEM_CODES + ARM_ITEM_CODES + LR_ITEM_CODES

ITEMS: Mapping[str, Item] = MappingProxyType(
    {i.code: i for i in (*FACT_B_PLUS4.items, *E2108_LR.items)}
)


def get_instrument(code: str, version: str | None = None) -> Instrument:
    """Return the instrument *code* (``"FACT-B"``, ``"FACT-B+4"``, ``"E2108-LR"``).

    If *version* is given it must match the shipped version.
    """
    try:
        instrument = INSTRUMENTS[code]
    except KeyError:
        known = ", ".join(INSTRUMENTS)
        raise KeyError(f"unknown instrument {code!r}; known: {known}") from None
    if version is not None and version != instrument.version:
        raise KeyError(
            f"instrument {code!r} version {version!r} is not shipped "
            f"(shipped: {instrument.version!r})"
        )
    return instrument


def get_item(code: str) -> Item:
    """Return the item with this code, from any shipped instrument."""
    try:
        return ITEMS[code]
    except KeyError:
        raise KeyError(f"unknown item code {code!r}") from None


def get_score(code: str) -> ScoreDef:
    """Return the score definition *code* (PWB … TOI, ARM, LR1 … LR9)."""
    for instrument in (FACT_B_PLUS4, E2108_LR):
        if code in instrument.score_codes:
            return instrument.score(code)
    raise KeyError(f"unknown score {code!r}")


def form_sections(instruments: Iterable[Instrument] = E2108_FORM) -> tuple[Section, ...]:
    """Sections of a multi-instrument form, in display order."""
    return tuple(s for inst in instruments for s in inst.sections)
