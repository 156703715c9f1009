"""What the demo's customers say when asked "How are we doing?" and "How can we do better?".

The generator plants themes in the open answers so the listening analytics have a ground truth to find:
each answer is written from one theme's phrase bank, positive or negative by the customer's experience,
and sometimes as a request ("could you…", "I wish…"). Fans answer more often than others, lapsing fans
mostly stay silent, and some answers say nothing at all ("fine"). What was planted is returned with the
answers (:class:`PlantedAnswer`) and kept in the demo's truth.

The phrase banks are written for a shoe and clothing store; each theme has several ways to say the same
thing so a method must group by meaning, not by one repeated sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from ravingfans.demo.draws import Draws

#: theme -> (positive phrasings, negative phrasings, requests). ``{staff}`` is the name of who served them.
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "checkout wait": (
        ("Checkout was quick even on a Saturday.", "No queue at the till, in and out in minutes.",
         "Paying was fast and easy."),
        ("The queue at the till was far too long.", "I waited twenty minutes to pay.",
         "Only one register open and a long line again.", "Waiting at checkout took forever."),
        ("Could you open a second till on weekends?", "I wish the checkout line moved faster.",
         "Please add more staff at the registers on Saturdays."),
    ),
    "staff help": (
        ("{staff} was so helpful and knew exactly what would fit.", "Friendly staff who really listen.",
         "{staff} remembered my size and my name, lovely service.", "The staff were kind and patient with me."),
        ("Nobody offered to help me on the shop floor.", "The assistant was rude and seemed bored.",
         "Staff ignored me while chatting to each other."),
        ("It would be nice if someone greeted customers at the door.",
         "Could staff check on people in the fitting area?"),
    ),
    "sizes in stock": (
        ("They always have my size in stock.", "Great range of sizes, wide fits too.",
         "Finally a shop that carries half sizes."),
        ("My size is always sold out.", "Never any wide fit shoes in my size.",
         "The sizes I need are out of stock every time I come."),
        ("I wish you stocked more half sizes.", "Please carry more wide fit shoes.",
         "Could you hold my size when a new delivery comes in?"),
    ),
    "prices": (
        ("Fair prices for the quality.", "Good value, the sale prices were excellent."),
        ("Prices have gone up too much.", "Too expensive compared with other shops.",
         "Overpriced for what you get."),
        ("Would love a loyalty discount for regular customers.", "Could you offer student discounts?"),
    ),
    "returns": (
        ("Returning a pair was painless, refund the same day.", "Exchange was easy, no questions asked."),
        ("Returning shoes was a hassle and took weeks.", "The refund took a month to arrive.",
         "They refused my exchange without a receipt."),
        ("Please make returns possible without the receipt.", "I wish exchanges were quicker."),
    ),
    "online orders": (
        ("My online order arrived in two days, well packed.", "The website is easy to order from."),
        ("My online order arrived late and damaged.", "The website kept crashing at checkout.",
         "Delivery took two weeks with no updates."),
        ("Could you add click and collect?", "It would be nice to get tracking for online orders."),
    ),
    "shoe quality": (
        ("The boots are holding up beautifully after a year.", "Excellent quality, comfortable from day one.",
         "Best walking shoes I have owned."),
        ("The soles came apart after a month.", "Poor quality, the stitching broke quickly.",
         "My shoes fell apart far too soon."),
        ("I wish you had more leather repair options.",),
    ),
}

EMPTY_ANSWERS = ("fine", "ok", "Everything's good.", "no comment", "n/a", "", "-", "all good", "nothing")


@dataclass(frozen=True, slots=True)
class PlantedAnswer:
    """An answer the demo customer gave, and what was planted in it."""

    score: int
    text: str
    theme: str | None  # None for answers that say nothing
    positive: bool | None  # None for requests and empty answers: no sentiment was planted
    request: bool


def nps_score(draws: Draws, happiness: float) -> int:
    """A 0–10 answer to "How are we doing?" from a latent happiness (about −2 … +2)."""
    raw = 8.0 + 1.5 * happiness + draws.normal(0.0, 1.3)
    return int(min(10, max(0, round(raw))))


def open_answer(draws: Draws, happiness: float, score: int, staff_name: str) -> PlantedAnswer:
    """The "How can we do better?" text: a theme's praise, complaint or request, or nothing much."""
    if draws.chance(0.12):
        return PlantedAnswer(score, draws.pick(EMPTY_ANSWERS), None, None, False)
    theme = draws.pick(list(THEMES))
    praise, complaint, requests = THEMES[theme]
    if draws.chance(0.22):
        text, positive, request = draws.pick(requests), None, True
    else:
        positive = score >= 8 if not draws.chance(0.1) else score < 8  # a few mixed signals, as in life
        text, request = draws.pick(praise if positive else complaint), False
    return PlantedAnswer(score, text.format(staff=staff_name), theme, positive, request)


@dataclass(frozen=True, slots=True)
class AskedCustomer:
    """What the survey plan needs to know of one customer."""

    key: str
    kind: str  # fan, lapsing fan, regular, one-off
    happiness: float
    has_email_consent: bool
    first_purchase_epoch: int
    staff_key: str | None
    staff_name: str


#: Chance that a customer of each kind is asked (by e-mail) and that they answer.
ASK_SHARE = {"fan": 1.0, "lapsing fan": 1.0, "regular": 0.5, "one-off": 0.3}
ANSWER_CHANCE = {"fan": 0.55, "lapsing fan": 0.12, "regular": 0.3, "one-off": 0.15}
IN_STORE_SHARE = 0.04  # customers without e-mail consent who answered on paper at the counter
SURVEY_LEAD_DAYS = 45  # the demo's survey went out this many days before "now"


@dataclass(frozen=True, slots=True)
class DemoSurveyAnswer:
    """One demo invitation and, when the customer answered, their answer and what was planted in it."""

    customer_key: str
    channel: str  # email (invited by e-mail) or store (answered at the counter)
    sent_epoch: int
    answered_epoch: int | None
    reminded_epoch: int | None
    employee_key: str | None
    answer: PlantedAnswer | None


def plan_survey(draws: Draws, customers: list[AskedCustomer], now_epoch: int) -> list[DemoSurveyAnswer]:
    """Who was asked "How are we doing?" 45 days ago, who answered, who was reminded, and what they said."""
    sent = now_epoch - SURVEY_LEAD_DAYS * 86400
    rows: list[DemoSurveyAnswer] = []
    for c in customers:
        if c.first_purchase_epoch == 0 or c.first_purchase_epoch > sent:
            continue  # never bought, or first seen after the survey went out
        if c.has_email_consent:
            if not draws.chance(ASK_SHARE[c.kind]):
                continue
            answers = draws.chance(ANSWER_CHANCE[c.kind])
            reminded = sent + 7 * 86400 if not answers or draws.chance(0.3) else None
            answered = None
            if answers:
                answered = (reminded or sent) + int(draws.between(600, 5 * 86400))
            rows.append(DemoSurveyAnswer(c.key, "email", sent, answered, reminded, c.staff_key,
                                         _answer(draws, c) if answers else None))
        elif draws.chance(IN_STORE_SHARE):
            at = sent + int(draws.between(0, 30 * 86400))
            rows.append(DemoSurveyAnswer(c.key, "store", at, at, None, c.staff_key, _answer(draws, c)))
    return rows


def _answer(draws: Draws, c: AskedCustomer) -> PlantedAnswer:
    score = nps_score(draws, c.happiness)
    return open_answer(draws, c.happiness, score, c.staff_name)
