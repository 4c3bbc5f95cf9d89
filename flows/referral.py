"""The self-referral conversation: consent, "what matters to you", a wellbeing
baseline, suggestions from the directory, and the handoff to a link worker.

Read the two tables below like the diagram (`spbot diagram` draws them):
TRANSITIONS says where each answer leads; QUESTIONS says what each state asks and
how it reads the answer. Every word is in messages/en/referral/.

Every move of a conversation is a row of TRANSITIONS, including "No, carry on"
after /restart and a link worker taking over (docs/architecture.md rule 7): no
code sets a state any other way, so the diagram a clinical safety officer reviews
is the whole truth. Conditions only look; what a move records is named in the row.

Safety runs first (docs/architecture.md rule 4): the service screens free text and
sends crisis language in as a `Crisis` event, which every state answers the same
way, without moving: the crisis reply, an alert for the team, and the question
they were on, so they can carry on when they are ready.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from transitions import EventData, Machine

from flows.core import (
    AddToCase,
    Button,
    CloseQuestion,
    Command,
    Crisis,
    Edited,
    Effect,
    ErasePatient,
    Event,
    FlowResult,
    ForgetPatient,
    OpenCase,
    Option,
    RaiseSafetyAlert,
    RecordBeforeYouPhone,
    RecordConsent,
    RecordWellbeing,
    Reply,
    SendTheirData,
    StopContact,
    Text,
    Unsupported,
    WorkerTookOver,
    bind_triggers,
)
from flows.directory import FREE_TIMES, MODES, NEED_AREAS, Directory, Profile, Suggestion
from flows.questions import (
    DONE,
    NO,
    SKIP,
    YES,
    Answer,
    Choice,
    Invalid,
    LabelOf,
    match_choice,
    near_miss,
    read_age,
    read_name,
    read_scale,
    read_text,
    simplify,
    split_answers,
)
from flows.summary import (
    AboutThePerson,
    ActivityRef,
    BeforeYouPhone,
    CaseSummary,
    Needs,
    Outcomes,
    Record,
    SupportOffered,
    TakesPart,
)
from flows.validate import in_service_area, normalise_postcode, normalise_uk_phone

#: Bump when messages/en/referral/consent.html.j2 changes: everyone who agreed to an
#: older one is shown the new one (referral/reconsent) before anything new is kept.
NOTICE_VERSION = "2026-12-v2"
SUGGESTIONS_PER_PAGE = 3
#: The conversation's parts, by the question each begins with (the welcome, above the
#: consent question, begins the first): "Part 3 of 5" on those questions (messages/en/referral/_part.html.j2).
PARTS = 4
PART_STARTS = {"what_matters": 2, "postcode": 3, "suggestions": 4,
               "contact_wanted": 4}  # fmt: skip
RESUME_REMINDER_AFTER = timedelta(hours=1)

STATES = [
    "new",
    "consent", "declined", "age", "under_18",
    "name", "what_matters", "need_areas", "need_other", "postcode",
    "mode", "free_times",
    "suggestions", "none_reason",
    "contact_wanted", "contact_method", "phone",
    "handed_off",
    "wait_life", "wait_worthwhile", "wait_happy", "wait_anxious",
    "wait_needs", "wait_language", "wait_gp", "wait_safety",
    "finished",
    "confirm_restart",
    "crisis_check", "paused", "safety_question",
    "confirm_delete", "erasing", "reconsent",
    # Questions no longer asked where they were (RETIRED): kept so that a
    # conversation left at one carries on at the question that now follows.
    "ons_life", "ons_worthwhile", "ons_happy", "ons_anxious", "barriers", "barriers_other",
    "best_time", "travel", "group",
]  # fmt: skip

#: "While you wait": the wellbeing questions, then what helps a link worker get in
#: touch ("before you phone": an interpreter, voicemail, a carer, access needs, the
#: GP surgery), asked once the referral is safely with the team (a drop-out here
#: loses only these answers, never the referral).
WAIT_STATES = ["wait_life", "wait_worthwhile", "wait_happy", "wait_anxious",
               "wait_needs", "wait_language", "wait_gp"]  # fmt: skip
#: Questions no longer asked at that point of the conversation. A conversation
#: stored at one (before the change) moves on to the question that now follows,
#: told so, without taking what they send as an answer to the new question.
RETIRED = ["ons_life", "ons_worthwhile", "ons_happy", "ons_anxious", "barriers", "barriers_other",
           "best_time", "travel", "group"]  # fmt: skip
#: Where a retired place kept in a conversation's control (where "Carry on" or
#: "No, carry on" goes back to) now points.
RETIRED_TO = {"ons_life": "suggestions", "ons_worthwhile": "suggestions",
              "ons_happy": "suggestions", "ons_anxious": "suggestions",
              "barriers": "suggestions", "barriers_other": "suggestions",
              "best_time": "contact_method", "travel": "free_times", "group": "free_times"}  # fmt: skip

#: The referral's questions, from consent to the best time to call: where someone
#: can be interrupted (a crisis, a direct question) and come back to.
QUESTION_STATES = [s for s in STATES[STATES.index("consent") : STATES.index("handed_off")]
                   if s not in ("declined", "under_18")]  # fmt: skip
#: Where /restart may be asked from, and where "No, carry on" goes back to.
#: (Declined and under 18 keep nothing: any message there starts afresh.)
RESUMABLE = [s for s in STATES if s not in ("new", "confirm_restart", "declined", "under_18",
                                            "confirm_delete", "erasing", "reconsent",
                                            "wait_safety", *RETIRED)]  # fmt: skip
#: Where a returning patient who agreed to an older consent notice is asked again
#: before anything new is kept (not before consent, and not while deleting).
AGREED_BEFORE = [s for s in RESUMABLE if s != "consent"]
#: Where crisis words lead to "Carry on / Stop for now / Talk to someone": anywhere
#: before the handoff. (After it, the team has their case: no referral to carry on.)
BEFORE_HANDOFF = [
    "new",
    *QUESTION_STATES,
    "confirm_restart",
    "crisis_check",
    "paused",
    "safety_question",
]
#: Where a link worker can take over from: anywhere but talking with one already.
NOT_WITH_A_WORKER = [s for s in STATES if s != "handed_off" and s not in RETIRED]
#: After the handoff, the direct question comes between the wellbeing questions.
AFTER_HANDOFF_ASKING = [*WAIT_STATES, "wait_safety"]
#: Rows that apply to many states are drawn once, to or from the group's name.
GROUPS = {
    "any_question": ("any question, from consent to handed_off", RESUMABLE),
    "anything_kept": ("wherever something of theirs is kept", [*RESUMABLE, "confirm_restart"]),
    "not_with_a_worker": ("any state but handed_off", NOT_WITH_A_WORKER),
    "a_question": ("the question they were on (consent to phone)", QUESTION_STATES),
    "before_handoff": ("any state before the handoff", BEFORE_HANDOFF),
    "while_you_wait": ("the questions while they wait, after the handoff", AFTER_HANDOFF_ASKING),
}

# trigger, source, dest, prepare (looks things up first), conditions (all must
# hold; they only look), before/after (what it records).
# Rows are tried top to bottom; the first whose conditions hold wins.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "begin", "source": "new", "dest": "consent", "after": "welcome"},
    {"trigger": "start_afresh", "source": ["declined", "under_18"], "dest": "new", "after": "forget_answers"},
    # "I agree, and I'm 18 or over" is one tap; "yes" typed alone asks the age.
    {"trigger": "answer", "source": "consent", "dest": "name", "conditions": "agreed_as_an_adult", "after": ["record_consent", "record_adult"]},
    {"trigger": "answer", "source": "consent", "dest": "under_18", "conditions": "said_under_18", "after": "forget_under_18"},
    {"trigger": "answer", "source": "consent", "dest": "age", "conditions": "agreed", "after": "record_consent"},
    {"trigger": "answer", "source": "consent", "dest": "consent", "conditions": "wants_more"},
    {"trigger": "answer", "source": "consent", "dest": "declined", "after": "forget_declined"},
    {"trigger": "answer", "source": "age", "dest": "name", "conditions": "is_adult"},
    {"trigger": "answer", "source": "age", "dest": "under_18", "after": "forget_under_18"},
    {"trigger": "answer", "source": "name", "dest": "what_matters"},
    {"trigger": "answer", "source": "what_matters", "dest": "need_areas", "after": "tick_what_they_named"},
    {"trigger": "answer", "source": "need_areas", "dest": "need_other", "conditions": "chose_something_else"},
    {"trigger": "answer", "source": "need_areas", "dest": "postcode"},
    {"trigger": "answer", "source": "need_other", "dest": "postcode"},
    {"trigger": "answer", "source": "postcode", "dest": "mode", "after": "say_if_outside_the_area"},
    # How, and how far, in one answer ("In person, a short bus ride").
    {"trigger": "answer", "source": "mode", "dest": "free_times", "after": "record_how_far"},
    {"trigger": "answer", "source": "free_times", "dest": "suggestions", "prepare": "find_suggestions", "conditions": "has_suggestions"},
    {"trigger": "answer", "source": "free_times", "dest": "contact_wanted"},
    {"trigger": "answer", "source": "suggestions", "dest": "suggestions", "conditions": "wants_others"},
    {"trigger": "answer", "source": "suggestions", "dest": "none_reason", "conditions": "chose_none"},
    {"trigger": "answer", "source": "suggestions", "dest": "contact_wanted"},
    {"trigger": "answer", "source": "none_reason", "dest": "contact_wanted"},
    # Whether, how and when, in one question: "Phone me in the morning" asks only
    # the number next; "Message me here" hands off at once.
    {"trigger": "answer", "source": ["contact_wanted", "contact_method"], "dest": "phone", "conditions": "chose_a_call", "after": "record_how"},
    {"trigger": "answer", "source": ["contact_wanted", "contact_method"], "dest": "wait_life", "conditions": "chose_messages", "after": ["record_how", "open_case"]},
    {"trigger": "answer", "source": "contact_wanted", "dest": "contact_method", "conditions": "wants_contact"},
    {"trigger": "answer", "source": "contact_wanted", "dest": "finished"},
    {"trigger": "answer", "source": "finished", "dest": "contact_method"},
    {"trigger": "want_contact", "source": "finished", "dest": "contact_method", "after": "record_wants_contact"},
    {"trigger": "answer", "source": "phone", "dest": "wait_life", "after": "open_case"},
    {"trigger": "answer", "source": "handed_off", "dest": "handed_off", "after": "keep_on_case"},
    # While they wait: the wellbeing questions, each skippable ("Skip these" at the
    # first skips all four). The baseline is recorded when the fourth is answered.
    {"trigger": "answer", "source": "wait_life", "dest": "wait_needs", "conditions": "skips_them", "after": "skip_waiting"},
    {"trigger": "answer", "source": "wait_life", "dest": "wait_worthwhile"},
    {"trigger": "answer", "source": "wait_worthwhile", "dest": "wait_happy"},
    {"trigger": "answer", "source": "wait_happy", "dest": "wait_anxious"},
    {"trigger": "answer", "source": "wait_anxious", "dest": "wait_needs", "after": "record_baseline"},
    # Then, before you phone: tick any that fit (or Skip), the language if they
    # want an interpreter, the GP surgery. Each answer is filed on the case at once.
    {"trigger": "answer", "source": "wait_needs", "dest": "wait_language", "conditions": "wants_an_interpreter", "after": "file_before_you_phone"},
    {"trigger": "answer", "source": "wait_needs", "dest": "wait_gp", "after": "file_before_you_phone"},
    {"trigger": "answer", "source": "wait_language", "dest": "wait_gp", "after": "file_before_you_phone"},
    {"trigger": "answer", "source": "wait_gp", "dest": "handed_off", "after": ["file_before_you_phone", "say_wait_done"]},
    # A conversation stored at a question no longer asked there moves on.
    {"trigger": "move_on", "source": "best_time", "dest": "wait_life", "after": ["say_moved_on", "open_case"]},
    {"trigger": "move_on", "source": ["travel", "group"], "dest": "free_times", "after": "say_moved_on"},
    {"trigger": "move_on", "source": RETIRED, "dest": "suggestions", "prepare": "find_suggestions", "conditions": "has_suggestions", "after": "say_moved_on"},
    {"trigger": "move_on", "source": RETIRED, "dest": "contact_wanted", "after": "say_moved_on"},
    # /restart asks first. "Yes" starts again; "No" goes back to the question they
    # were on: one row per place it can go back to.
    {"trigger": "restart", "source": RESUMABLE, "dest": "confirm_restart", "before": "remember_where"},
    {"trigger": "answer", "source": "confirm_restart", "dest": "consent", "conditions": "confirmed", "after": "start_again"},
    *({"trigger": "answer", "source": "confirm_restart", "dest": state, "conditions": "goes_back_there",
       "after": "carry_on"} for state in RESUMABLE),
    # A link worker took over (bot/staff): the patient's next words are for them.
    {"trigger": "worker_took_over", "source": NOT_WITH_A_WORKER, "dest": "handed_off", "after": "pause"},
    # Crisis words before the handoff: the contacts, then "Carry on" (back to the
    # question they were on), "Stop for now" or "Talk to someone".
    {"trigger": "crisis", "source": BEFORE_HANDOFF, "dest": "crisis_check", "before": "remember_crisis_place"},
    {"trigger": "answer", "source": "crisis_check", "dest": "contact_method", "conditions": "wants_to_talk", "after": "to_talk"},
    {"trigger": "answer", "source": "crisis_check", "dest": "paused", "conditions": "stops_for_now", "after": "stop_for_now"},
    *({"trigger": "answer", "source": "crisis_check", "dest": state, "conditions": "resumes_there",
       "after": "carry_on"} for state in QUESTION_STATES),
    *({"trigger": "resume", "source": "paused", "dest": state, "conditions": "resumes_there",
       "after": "welcome_back"} for state in QUESTION_STATES),
    # A direct question, asked once, when there are signs (low mood ticked, low
    # wellbeing scores, or a weaker sign in what they wrote). "Yes" is a crisis.
    {"trigger": "ask_directly", "source": QUESTION_STATES, "dest": "safety_question", "before": "remember_question_place"},
    {"trigger": "answer", "source": "safety_question", "dest": "crisis_check", "conditions": "said_yes", "after": "raise_from_answer"},
    *({"trigger": "answer", "source": "safety_question", "dest": state, "conditions": "resumes_there",
       "after": "thank"} for state in QUESTION_STATES),
    # After the handoff (low wellbeing scores, or a weaker sign, while they wait):
    # "Yes" raises an alert on their case, which the team already has.
    {"trigger": "ask_directly", "source": [*WAIT_STATES, "handed_off"], "dest": "wait_safety", "before": "remember_question_place"},
    {"trigger": "answer", "source": "wait_safety", "dest": "handed_off", "conditions": "said_yes", "after": "raise_from_answer"},
    *({"trigger": "answer", "source": "wait_safety", "dest": state, "conditions": "resumes_there",
       "after": "thank"} for state in [*WAIT_STATES, "handed_off"]),
    # Crisis words while they wait: the team has their case; the questions stop.
    {"trigger": "crisis", "source": AFTER_HANDOFF_ASKING, "dest": "handed_off"},
    # Stopped halfway: one nudge, NUDGE_AFTER later, with the question they were on.
    {"trigger": "nudge", "source": QUESTION_STATES, "dest": None, "after": "nudge_gently"},
    # /delete asks first. "Yes" withdraws consent and erases everything (once a
    # safety alert of theirs has been seen: until then, what they write still goes
    # to the team); "No" goes back to where they were.
    {"trigger": "delete", "source": [*RESUMABLE, "confirm_restart"], "dest": "confirm_delete", "before": "remember_where"},
    {"trigger": "answer", "source": "confirm_delete", "dest": "erasing", "conditions": ["confirmed", "alert_unseen"], "after": "erase_when_seen"},
    {"trigger": "answer", "source": "confirm_delete", "dest": "new", "conditions": "confirmed", "after": "erase"},
    *({"trigger": "answer", "source": "confirm_delete", "dest": state, "conditions": "goes_back_there",
       "after": "carry_on"} for state in RESUMABLE),
    {"trigger": "answer", "source": "erasing", "dest": "erasing", "after": "keep_on_case"},
    # The consent notice changed since they agreed: the new one, before anything new
    # is kept. Agreeing goes back to where they were; not agreeing offers erasure.
    {"trigger": "notice_changed", "source": AGREED_BEFORE, "dest": "reconsent", "before": "remember_where"},
    {"trigger": "answer", "source": "reconsent", "dest": "reconsent", "conditions": "wants_more"},
    *({"trigger": "answer", "source": "reconsent", "dest": state, "conditions": ["agreed", "back_where_they_were"],
       "after": ["record_consent", "carry_on"]} for state in AGREED_BEFORE),
    {"trigger": "answer", "source": "reconsent", "dest": "confirm_delete"},
]  # fmt: skip

# --- What each state asks -----------------------------------------------------------

LIMIT_NAME = 60
#: The longest one Telegram message can be (4,096 characters, up to 8,192 UTF-16
#: units). Every answer in their own words is kept whole, however long: someone who
#: has written their story out is never asked to shorten it or type it again.
LIMIT_MESSAGE = 8192

#: Everyday words for each need area, so "lonely" or "debt" ticks its box.
NEED_WORDS = {
    "loneliness": ("lonely", "loneliness", "alone", "isolated", "isolation", "on my own",
                   "no friends", "meet people", "company"),
    "mood": ("low", "mood", "stress", "stressed", "anxious", "anxiety", "depressed",
             "depression", "sad", "worried", "worry", "mental health"),
    "activity": ("active", "exercise", "fitness", "fit", "walking", "sport", "move more"),
    "long_term_condition": ("health", "condition", "illness", "pain", "diabetes", "arthritis"),
    "money": ("money", "debt", "debts", "bills", "benefits", "skint", "broke", "cost of living"),
    "housing": ("housing", "house", "home", "flat", "landlord", "rent", "homeless"),
    "work": ("work", "job", "jobs", "learning", "course", "college", "training", "volunteering"),
    "caring": ("caring", "carer", "looking after"),
    "alcohol_smoking": ("alcohol", "drinking", "drink", "smoking", "smoke", "cigarettes", "vaping"),
    "confidence": ("confidence", "confident", "shy", "getting out", "going out"),
}  # fmt: skip
NEED_CHOICES = tuple(Choice(area, f"need_{area}", NEED_WORDS[area]) for area in NEED_AREAS)
#: Times of day, typed: "mornings" ticks weekday mornings.
TIME_WORDS = {
    "weekday_morning": ("morning", "mornings", "am"),
    "weekday_afternoon": ("afternoon", "afternoons", "pm"),
    "weekday_evening": ("evening", "evenings", "night", "nights"),
    "weekend": ("weekend", "weekends", "saturday", "saturdays", "sunday", "sundays"),
}
FREE_TIME_CHOICES = tuple(Choice(t, f"time_{t}", TIME_WORDS[t]) for t in FREE_TIMES)
#: Typed at an optional tick-box question: none of them applies.
NONE_OF_THEM = ("nothing", "none", "no", "nope", "nothing really", "none really", "not really",
                "nothing at all", "none of them", "none of these", "n a", "na")  # fmt: skip
ONS4 = {  # state -> stored key (the ONS4 question names)
    "wait_life": "life_satisfaction",
    "wait_worthwhile": "worthwhile",
    "wait_happy": "happiness",
    "wait_anxious": "anxiety",
}


@dataclass(frozen=True)
class Ask:
    """A question: its template, where the answer is stored, and how it is read."""

    template: str
    key: str
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    #: "choice": one button; "multi": tick several then Done; "text": typed;
    #: "scale": 0-10; "suggestions": the activity list; "note": kept on the case;
    #: "age": a button or an age in years; "name": a button or a name, read as one.
    kind: str = "choice"
    limit: int = LIMIT_MESSAGE
    check: Callable[[str], Any] | None = None  # for typed text: value, or None if invalid
    invalid: str = ""  # the template explaining a failed check
    min_ticks: int = 1  # for "multi": how many must be ticked (or typed) before Done
    #: For "multi": a button that ticks them all and goes on ("Any time"), one tap.
    all_of_them: bool = False


#: How and when a link worker gets in touch, as one answer. Link workers work
#: weekdays in working hours: a morning or an afternoon are the buttons; an evening
#: typed is heard, and answered with when they work.
HOW_TO_CONTACT = (
    Choice("message", "contact_yes_message", ("message", "message me", "here", "text", "chat",
                                              "message me here", "yes message me")),
    Choice("phone_morning", "contact_phone_morning", ("morning", "mornings", "am",
                                                      "phone me in the morning")),
    Choice("phone_afternoon", "contact_phone_afternoon", ("afternoon", "afternoons", "pm",
                                                          "phone me in the afternoon")),
)  # fmt: skip
HOW_TO_CONTACT_TYPED = (
    Choice("phone_evening", "contact_phone_evening", ("evening", "evenings", "night",
                                                      "phone me in the evening", "after work"),
           shown=False),
    Choice("phone", "contact_yes_phone", ("phone", "phone me", "call", "call me", "ring me",
                                          "yes phone me", "yes call me", "phone call"),
           shown=False),
)  # fmt: skip
#: How they take part, and how far they can travel (miles; None: not in person).
HOW_FAR: dict[str, tuple[str, float | None]] = {
    "near_home": ("in_person", 1.0), "bus_ride": ("in_person", 5.0),
    "remote": ("remote", None), "any": ("any", 5.0),
}  # fmt: skip
#: The best time to call, from how they asked to be contacted.
BEST_TIME = {"phone_morning": "mornings", "phone_afternoon": "afternoons",
             "phone_evening": "evenings", "phone": "any"}  # fmt: skip

#: Before you phone (asked while they wait): what helps a link worker get in touch.
#: "No voicemail" is offered only to someone who asked for a call.
BEFORE_YOU_PHONE = (
    Choice("interpreter", "bp_interpreter", ("interpreter", "an interpreter", "translator",
                                             "translation", "language")),
    Choice("no_voicemail", "bp_no_voicemail", ("voicemail", "no voicemail", "dont leave a voicemail",
                                               "no message", "no messages")),
    Choice("carer", "bp_carer", ("carer", "i am a carer", "im a carer", "caring",
                                 "i look after someone", "looking after someone")),
    Choice("access_needs", "bp_access_needs", ("access", "access needs", "communication",
                                               "communication needs", "deaf", "hearing",
                                               "disabled", "disability", "wheelchair")),
)  # fmt: skip
#: Typed at the before-you-phone question: none of them, on to the next.
SKIP_TICKS = Choice("skip", "skip", SKIP + NONE_OF_THEM + ("no thanks", "not now", "skip these"))

SAFETY_CHOICES = (
    Choice("no", "safety_no", NO),
    Choice("yes", "safety_yes", YES + ("i have", "yes i have", "sometimes", "a bit")),
    Choice("rather_not_say", "safety_rather_not", SKIP + ("rather not", "id rather not say")),
)

QUESTIONS: dict[str, Ask] = {
    "consent": Ask("referral/consent", "consent", (
        Choice("agree_adult", "consent_agree_adult", (
            "i agree and im 18 or over", "i agree and im over 18", "agree and over 18",
            "i agree im over 18")),
        Choice("under_18", "consent_under_18", ("under 18", "im under 18", "i am under 18")),
        Choice("more", "consent_more", ("more", "tell me more", "what", "why", "?", "more info")),
        Choice("decline", "consent_decline", NO),
        Choice("agree", "consent_agree", YES, shown=False),
    ), kind="consent"),
    "age": Ask("referral/age", "adult", kind="age", choices=(
        Choice("yes", "age_yes", YES + ("18", "over 18", "im over 18")),
        Choice("no", "age_no", NO + ("under 18", "im under 18")),
    ), columns=2),
    "name": Ask("referral/name", "name", (
        Choice("rather_not_say", "rather_not_say", SKIP + NO + (
            "rather not", "id rather not", "id rather not say", "i dont want to say",
            "no name", "prefer not", "none of your business")),
    ), kind="name", limit=LIMIT_NAME),
    "what_matters": Ask("referral/what_matters", "what_matters", (
        Choice("not_sure", "not_sure", SKIP),
    ), kind="text"),
    "need_areas": Ask("referral/need_areas", "need_areas", NEED_CHOICES, kind="multi"),
    "need_other": Ask("referral/need_other", "need_other", kind="text"),
    "postcode": Ask("referral/postcode", "postcode", (
        Choice("none", "rather_not_say", SKIP + ("no",)),
    ), kind="text", check=normalise_postcode, invalid="referral/errors/postcode"),
    # How and how far in one: a group or one-to-one is for the suggestion cards to
    # say (matching takes either), not a question of its own.
    "mode": Ask("referral/mode", "mode_choice", (
        Choice("near_home", "mode_near_home", ("near home", "walk", "walking",
                                               "walking distance", "near", "local", "nearby")),
        Choice("bus_ride", "mode_bus_ride", ("bus", "bus ride", "short bus ride", "in person",
                                             "face to face", "meet", "a bus ride")),
        Choice("remote", "mode_remote", ("online", "phone", "by phone", "online or phone",
                                         "internet", "video", "zoom", "telephone")),
        Choice("any", "mode_any", ("any", "any of these", "all", "dont mind", "either",
                                   "anything")),
    )),
    "free_times": Ask("referral/free_times", "free_times", FREE_TIME_CHOICES, kind="multi", all_of_them=True),
    **{state: Ask(f"referral/{state.replace('wait_', 'ons_')}", key, kind="scale")
       for state, key in ONS4.items()},
    "suggestions": Ask("referral/suggestions", "suggestions", kind="suggestions"),
    "none_reason": Ask("referral/none_reason", "none_reason", (
        Choice("too_far", "none_too_far", ("far", "too far")),
        Choice("wrong_time", "none_wrong_time", ("time", "wrong time", "wrong times")),
        Choice("not_for_me", "none_not_for_me", ("not for me", "not interested")),
    ), kind="text"),
    # Whether, how and when, in one question: "yes" typed on its own asks how next.
    "contact_wanted": Ask("referral/contact_wanted", "contact_wanted", (
        *HOW_TO_CONTACT,
        Choice("no", "contact_no", NO),
        *HOW_TO_CONTACT_TYPED,
        Choice("yes", "contact_yes", YES, shown=False),
    )),
    "finished": Ask("referral/finished", "contact_wanted", (
        Choice("yes", "contact_after_all", YES + ("contact me", "link worker")),
    )),
    "contact_method": Ask("referral/contact_method", "contact_method",
                          (*HOW_TO_CONTACT, *HOW_TO_CONTACT_TYPED)),
    "phone": Ask("referral/phone", "phone", kind="text", check=normalise_uk_phone, invalid="referral/errors/phone"),
    "handed_off": Ask("referral/added_to_case", "", kind="note", limit=LIMIT_MESSAGE),
    "confirm_delete": Ask("referral/confirm_delete", "", (
        Choice("yes", "delete_yes", YES + ("delete", "yes delete", "delete everything")),
        Choice("no", "delete_no", NO + ("keep", "keep it", "carry on", "back")),
    ), columns=1),
    "erasing": Ask("referral/added_to_case", "", kind="note", limit=LIMIT_MESSAGE),
    "reconsent": Ask("referral/reconsent", "consent", (
        Choice("agree", "consent_agree", YES),
        Choice("more", "consent_more", ("more", "tell me more", "what", "why", "?", "more info")),
        Choice("decline", "reconsent_decline", NO),
    )),
    "confirm_restart": Ask("referral/confirm_restart", "", (
        Choice("yes", "restart_yes", YES),
        Choice("no", "restart_no", NO + ("carry on", "continue", "back")),
    ), columns=2),
    "crisis_check": Ask("referral/crisis_check", "", (
        Choice("carry_on", "crisis_carry_on", YES + ("carry on", "continue", "go on", "ok carry on")),
        Choice("stop", "crisis_stop", NO + ("stop", "stop for now", "not now", "later", "another time")),
        Choice("talk", "crisis_talk", ("talk", "talk to someone", "someone", "call me", "ring me",
                                      "speak to someone", "a person", "help")),
    ), kind="crisis_check"),
    "safety_question": Ask("referral/safety_question", "thoughts_of_harm", SAFETY_CHOICES),
    "wait_safety": Ask("referral/safety_question", "thoughts_of_harm", SAFETY_CHOICES),
    "wait_needs": Ask("referral/before_you_phone", "before_you_phone", BEFORE_YOU_PHONE,
                      kind="multi", min_ticks=0),
    "wait_language": Ask("referral/interpreter_language", "language", (
        Choice("none", "skip", SKIP + NO),
    ), kind="text"),
    "wait_gp": Ask("referral/gp_practice", "gp_practice", (
        Choice("none", "skip", SKIP + NO + ("none",)),
    ), kind="text"),
}  # fmt: skip

DONE_CHOICE = Choice("done", "done", DONE)
ALL_CHOICE = Choice("all", "any_time", ("any time", "anytime", "whenever", "all", "all of them",
                                        "any", "dont mind", "i dont mind", "all the time"))  # fmt: skip
OTHER_CHOICE = Choice("other", "something_else", ("something else", "other"))
SKIP_CHOICE = Choice("skip", "skip", SKIP)
#: At the first of the wellbeing questions after the handoff: skip all four.
SKIP_THESE = Choice("skip_all", "skip_these", SKIP + ("skip these", "skip them", "no thanks",
                                                     "not now"))  # fmt: skip


# --- The inputs a flow needs besides the event --------------------------------------


@dataclass(frozen=True)
class Nudge:
    """They stopped halfway, NUDGE_AFTER ago (the dispatcher sends it, once)."""


@dataclass(frozen=True)
class CaseView:
    """What /status can tell the patient about their case."""

    reference: str
    status: str  # waiting | claimed | in_contact | referred | closed
    link_worker: str | None = None
    #: Something they wrote raised a safety alert that nobody has acted on yet.
    flagged: bool = False
    #: How they asked to be contacted: "phone" | "message" | "either" (None: not said).
    contact_method: str | None = None
    #: Their link worker is away: the day they are back, and the colleague covering.
    back_on: date | None = None
    covered_by: str | None = None


@dataclass(frozen=True)
class FlowContext:
    directory: Directory
    label_of: LabelOf
    now: datetime
    first_name: str | None = None
    case: CaseView | None = None
    last_seen: datetime | None = None
    #: When they wrote this message, and when the question they are on appeared in
    #: their chat (both by the channel's clock; None when not known).
    written_at: datetime | None = None
    question_shown_at: datetime | None = None
    #: The question they are on has not gone out yet: they cannot have seen it.
    question_unsent: bool = False
    #: The consent notice they last agreed to (None: not agreed, or not known).
    agreed_notice: str | None = None
    #: Where link workers help in person (postcode areas and districts; () is anywhere).
    service_area: tuple[str, ...] = ()


class ReferralControl(Record):
    """What the conversation keeps besides the person's answers: where it is in the
    suggestions, which case is theirs, where to go back to. Typed and stored beside
    the answers (never mixed into them), so an answer is only ever an answer."""

    #: The question /restart interrupted: "No, carry on" goes back to it.
    back_to: str | None = None
    #: How far through the suggestions "Show me others" has paged, and the page shown.
    suggestion_offset: int = 0
    shown: tuple[ActivityRef, ...] = ()
    #: Their case, once the referral (or a crisis) opened one.
    case_reference: str | None = None
    #: The question they had not answered when a link worker took over.
    paused_at: str | None = None
    #: Their last typed answer (free text or a number), and the step at which the
    #: same words were already let through once: a message sent twice, or answered
    #: twice, must not become the answer to the next question.
    last_typed: str | None = None
    same_again_at: int | None = None
    #: Where "Carry on" goes after a crisis reply or the direct question (and where
    #: someone who stopped for now comes back to).
    resume_at: str | None = None
    #: The direct question ("Have you had thoughts like that recently?") is asked once.
    asked_directly: bool = False
    #: The need areas ticked for them from what matters to them ("It sounds like …"),
    #: until they tap Done: then the ticks are their answer.
    guessed_needs: tuple[str, ...] = ()


@dataclass
class Conversation:
    """The stored conversation, as the flow sees it."""

    state: str = "new"
    step: int = 0
    answers: dict[str, Any] = field(default_factory=dict)
    control: ReferralControl = field(default_factory=ReferralControl)


# --- The machine --------------------------------------------------------------------


class Referral:
    """The model a Machine drives for the length of one event.

    The machine is built with `send_event=True`, so every condition and callback
    is handed the `EventData` of the move being tried (most do not need it)."""

    # Triggers: MACHINE's events, bound to the class at import (`bind_triggers`).
    begin: Callable[[], bool]
    answer: Callable[[], bool]
    restart: Callable[[], bool]
    start_afresh: Callable[[], bool]
    worker_took_over: Callable[[], bool]
    crisis: Callable[[], bool]
    resume: Callable[[], bool]
    ask_directly: Callable[[], bool]
    nudge: Callable[[], bool]
    delete: Callable[[], bool]
    notice_changed: Callable[[], bool]
    want_contact: Callable[[], bool]
    move_on: Callable[[], bool]

    def __init__(self, conversation: Conversation, ctx: FlowContext) -> None:
        self.state = conversation.state
        self.step = conversation.step
        self.answers = dict(conversation.answers)
        self.answered_before = conversation.answers  # as this event found them
        self.control = _retired_places_moved_on(conversation.control)
        self.ctx = ctx
        self.started_in = conversation.state
        self.replies: list[Reply | CloseQuestion] = []
        self.effects: list[Effect] = []
        self.tap_notice: str | None = None
        # What this one event brought; never stored.
        self.chosen: Any = None  # the value of the answer being recorded
        self.something_else = False  # "Something else" was tapped in tick boxes
        self.note: str | None = None  # words written after the handoff
        self.just_noted = False
        self.welcoming = False  # the welcome goes above the question asked next
        self.suggestions_shown: list[Suggestion] = []
        self.last_page = False  # the page shown holds the last of the suggestions
        self.crisis_text: str | None = None  # crisis words being answered now
        self.answering_crisis = False

    # Conditions (named in TRANSITIONS): they only look -------------------------------
    def agreed(self, _: EventData) -> bool:
        return self.answers.get("consent") == "agree"

    def agreed_as_an_adult(self, _: EventData) -> bool:
        return self.chosen == "agree_adult"

    def said_under_18(self, _: EventData) -> bool:
        return self.chosen == "under_18"

    def wants_more(self, _: EventData) -> bool:
        return self.answers.get("consent") == "more"

    def is_adult(self, _: EventData) -> bool:
        return self.answers.get("adult") == "yes"

    def chose_something_else(self, _: EventData) -> bool:
        return self.something_else

    def may_go_in_person(self, _: EventData) -> bool:
        return self.answers.get("mode") in ("in_person", "any")

    def wants_an_interpreter(self, _: EventData) -> bool:
        return "interpreter" in (self.answers.get("before_you_phone") or ())

    def skips_them(self, _: EventData) -> bool:
        return self.chosen == "skip_all"

    def has_suggestions(self, _: EventData) -> bool:
        return bool(self.suggestions_shown)

    def wants_others(self, _: EventData) -> bool:
        return self.answers.get("suggestions") == "others"

    def chose_none(self, _: EventData) -> bool:
        return self.answers.get("suggestions") == "none"

    def wants_contact(self, _: EventData) -> bool:
        return self.answers.get("contact_wanted") == "yes"

    def chose_a_call(self, _: EventData) -> bool:
        return self.chosen in BEST_TIME

    def chose_messages(self, _: EventData) -> bool:
        return self.chosen == "message"

    def confirmed(self, _: EventData) -> bool:
        return self.chosen == "yes"

    def wants_to_talk(self, _: EventData) -> bool:
        return self.chosen == "talk"

    def stops_for_now(self, _: EventData) -> bool:
        return self.chosen == "stop"

    def said_yes(self, _: EventData) -> bool:
        return self.chosen == "yes"

    def back_where_they_were(self, event: EventData) -> bool:
        assert event.transition is not None
        return event.transition.dest == (self.control.back_to or "age")

    def alert_unseen(self, _: EventData) -> bool:
        return self.ctx.case is not None and self.ctx.case.flagged

    def resumes_there(self, event: EventData) -> bool:
        """The row back to the question a crisis reply or the direct question came
        between."""
        assert event.transition is not None
        return event.transition.dest == (self.control.resume_at or "consent")

    def goes_back_there(self, event: EventData) -> bool:
        """'No, carry on': the row back to the question /restart interrupted."""
        assert event.transition is not None
        return self.chosen == "no" and event.transition.dest == (self.control.back_to or "consent")

    # Looking things up before the conditions (named in TRANSITIONS as "prepare") -----
    def find_suggestions(self, _: EventData) -> None:
        self._set_control(suggestion_offset=0, shown=())
        self._suggest()

    # What moves record (named in TRANSITIONS) ----------------------------------------
    def welcome(self, _: EventData) -> None:
        # The welcome is the top of the consent question: one message answers a
        # /start (so twice as many people are answered within Telegram's pace).
        self.welcoming = True

    def forget_answers(self, _: EventData) -> None:
        # Nothing was kept about them: whatever they send next starts afresh.
        self.answers.clear()
        self.control = ReferralControl()

    def record_consent(self, _: EventData) -> None:
        self.effects.append(RecordConsent(NOTICE_VERSION))

    def record_adult(self, _: EventData) -> None:
        # Agreed and 18 or over, in one tap: both answers, as if asked one by one.
        self.answers["consent"], self.answers["adult"] = "agree", "yes"

    def forget_declined(self, _: EventData) -> None:
        self.effects.append(ForgetPatient("declined"))

    def forget_under_18(self, _: EventData) -> None:
        self.effects.append(ForgetPatient("under_18"))

    def record_baseline(self, _: EventData) -> None:
        scores = {key: self.answers.get(key) for key in ONS4.values()}
        self.effects.append(RecordWellbeing("baseline", scores))

    def skip_waiting(self, _: EventData) -> None:
        self.answers.pop(ONS4["wait_life"], None)

    def file_before_you_phone(self, _: EventData) -> None:
        """Filed on the case as each answer comes (so a drop-out keeps what was given);
        nothing to file when nothing was given, now or before (Skip, then Skip)."""
        details = before_you_phone(self.answers)
        if details.given or before_you_phone(self.answered_before).given:
            self.effects.append(RecordBeforeYouPhone(details))

    def say_wait_done(self, _: EventData) -> None:
        scores = [self.answers.get(key) for key in ONS4.values()]
        skipped = all(v is None for v in scores) and not before_you_phone(self.answers).given
        self._say("referral/wait_done", skipped=skipped)

    def say_moved_on(self, _: EventData) -> None:
        if not self.answering_crisis:  # the crisis reply comes first, and alone
            self._say("referral/moved_on")

    def open_case(self, _: EventData) -> None:
        self.effects.append(OpenCase(case_summary(self.answers, finished=True)))
        self._say("referral/handed_off", answers=self.answers)

    def say_if_outside_the_area(self, _: EventData) -> None:
        """Told at once, kindly, with what the service can still do: not after every
        remaining question, with nothing nearby to suggest."""
        postcode = self.answers.get("postcode")
        if postcode and postcode != "none" and not in_service_area(postcode, self.ctx.service_area):
            self._say("referral/outside_the_area", postcode=postcode)

    def tick_what_they_named(self, _: EventData) -> None:
        """What they wrote names some need areas ("lonely since my wife died"): those
        are ticked for them to check, rather than asked for again."""
        named = needs_named_in(str(self.answers.get("what_matters") or ""))
        if named and not self.answers.get("need_areas"):
            self.answers["need_areas"] = list(named)
            self._set_control(guessed_needs=named)

    def record_how_far(self, _: EventData) -> None:
        # One answer, two things matching needs: how, and how far they can travel.
        how = self.answers.pop("mode_choice")
        self.answers["mode"] = HOW_FAR[how][0]
        self.answers["max_miles"] = HOW_FAR[how][1]

    def record_how(self, _: EventData) -> None:
        # "Phone me in the morning": whether, how and when, answered at once.
        self.answers["contact_wanted"] = "yes"
        self.answers["contact_method"] = "phone" if self.chosen in BEST_TIME else "message"
        self.answers["best_time"] = BEST_TIME.get(self.chosen)

    def record_wants_contact(self, _: EventData) -> None:
        # /start after "No thanks": what the goodbye promised, a link worker after all.
        self.answers["contact_wanted"] = "yes"

    def keep_on_case(self, _: EventData) -> None:
        assert self.note is not None
        self.effects.append(AddToCase(self.note))
        self.just_noted = True

    def remember_where(self, _: EventData) -> None:
        self._set_control(back_to=self.state)

    def start_again(self, _: EventData) -> None:
        # A referral already handed off stays with the team; anything else is forgotten.
        reference = self.control.case_reference
        self.answers.clear()
        self.control = ReferralControl(case_reference=reference)
        if not reference:
            self.effects.append(ForgetPatient("restart"))
        self._say("referral/restarted")

    def carry_on(self, _: EventData) -> None:
        self._set_control(back_to=None, resume_at=None)
        self._say("referral/carry_on", state=self.state)

    def remember_crisis_place(self, event: EventData) -> None:
        """Where "Carry on" goes back to. Words written for "what matters to you"
        were their answer: they are kept as it, and the next question follows."""
        assert event.transition is not None
        source = event.transition.source
        if source in ("crisis_check", "paused", "safety_question"):
            return  # already between questions: the place is kept
        if source == "new":
            place = "consent"
        elif source == "confirm_restart":
            place = self.control.back_to or "consent"
        elif source == "what_matters" and self.crisis_text:
            self.answers["what_matters"] = self.crisis_text
            place = "need_areas"
        else:
            place = source
        self._set_control(resume_at=place)

    def remember_question_place(self, event: EventData) -> None:
        assert event.transition is not None
        self._set_control(resume_at=event.transition.source, asked_directly=True)

    def to_talk(self, _: EventData) -> None:
        self.answers["contact_wanted"] = "yes"
        self._set_control(resume_at=None)
        self._say("referral/talk_to_someone")

    def stop_for_now(self, _: EventData) -> None:
        self._say("referral/paused")

    def welcome_back(self, _: EventData) -> None:
        self._set_control(resume_at=None)
        self._say("referral/welcome_back", state=self.state)

    def thank(self, _: EventData) -> None:
        self._set_control(resume_at=None)
        self._say("referral/safety_thanks", said=self.chosen)

    def raise_from_answer(self, event: EventData) -> None:
        why = "said yes when asked about thoughts of harming themselves or ending their life"
        self.effects.append(RaiseSafetyAlert("suicide", f"({why})", ("the direct question",)))
        assert event.transition is not None
        with_team = event.transition.source == "wait_safety"  # their case is with the team
        self._say("safety/suicide", young=self._maybe_young(""), with_team=with_team)

    def erase(self, _: EventData) -> None:
        self.effects.append(ErasePatient())
        self.answers.clear()
        self.control = ReferralControl()
        self._say("referral/erased")

    def erase_when_seen(self, _: EventData) -> None:
        self.effects.append(ErasePatient(later=True))
        self._say("referral/erase_after_alert")

    def nudge_gently(self, _: EventData) -> None:
        self._say("referral/nudge", state=self.state)

    def pause(self, event: EventData) -> None:
        assert event.transition is not None
        self._set_control(paused_at=event.transition.source)
        self.step += 1  # the unanswered question's buttons no longer count

    # Handling one event -------------------------------------------------------------
    def handle(self, event: Event | Nudge) -> FlowResult[ReferralControl]:
        if self.state in ("declined", "under_18") and not isinstance(event, WorkerTookOver | Nudge):
            self.start_afresh()
        if isinstance(event, Text) and event.concern == "health_worry":
            # Worth seeing a doctor about, not an emergency now: say so, then go on.
            self._say("safety/health_worry")
        if self.state in RETIRED and not isinstance(event, WorkerTookOver | Nudge):
            # Stored at a question no longer asked there: on to the one that now
            # follows. What they sent was written for the old question: unless it
            # needs answering as it is (crisis words, a command), the new one is asked.
            self.answering_crisis = isinstance(event, Crisis)
            self.move_on()
            if not isinstance(event, Crisis | Command):
                self._ask()
                return self._result()
        if self._notice_changed(event):
            # Nothing new is kept before they have read and agreed to the new notice.
            self.notice_changed()
            self._ask()
        elif isinstance(event, WorkerTookOver):
            if self.state != "handed_off":
                self.worker_took_over()
        elif isinstance(event, Nudge):
            if self.state in QUESTION_STATES:
                self.nudge()
                self._ask()
        elif self.state == "paused" and _brings_them_back(event):
            self.resume()
            self._ask()
        elif isinstance(event, Crisis):
            self._crisis(event)
        elif isinstance(event, Command):
            self._command(event)
        elif self.state == "new":
            self.begin()
            self._ask()
        elif isinstance(event, Unsupported):
            self._say("referral/unsupported", kind=event.kind)
            self._ask()
        elif isinstance(event, Edited):
            self._edited(event)
        elif isinstance(event, Button) and event.step != self.step:
            self.tap_notice = "stale"
        else:
            self._answer(event)
        return self._result()

    def _result(self) -> FlowResult[ReferralControl]:
        return FlowResult(self.state, self.step, self.answers, self.control,
                          self.replies, self.effects, self.tap_notice)  # fmt: skip

    def _set_control(self, **changes: Any) -> None:
        self.control = self.control.model_copy(update=changes)

    def _command(self, command: Command) -> None:
        if command.name in ("mydata", "delete", "stop"):
            self._their_data(command.name)
        elif self.state == "new" and command.name in ("start", "restart"):
            self.begin()
            self._ask()
        elif self.state == "finished" and command.name == "start":
            self.want_contact()
            self._ask()
        elif command.name == "start":
            self._say("referral/resume", state=self.state)
            self._ask()
        elif command.name == "restart":
            if self.state != "confirm_restart":
                self.restart()
            self._ask()
        elif command.name == "status":
            case = self.ctx.case
            self._say("referral/status", state=self.state, case=case, answers=self.answers)
            if self.state != "new":
                self._ask()
        elif command.name == "help":
            self._say("referral/help")
            if self.state != "new":
                self._ask()
        else:
            self._say("referral/unknown_command", command=command.name)
            if self.state != "new":
                self._ask()

    def _notice_changed(self, event: Event | Nudge) -> bool:
        """They agreed to an older consent notice, and now do something that would
        be kept (crisis words are answered first, whatever the notice)."""
        agreed = self.ctx.agreed_notice
        if agreed is None or agreed == NOTICE_VERSION or self.state not in AGREED_BEFORE:
            return False
        if isinstance(event, Command):
            return event.name not in ("mydata", "delete", "stop", "help", "status")
        return not isinstance(event, Crisis | WorkerTookOver | Nudge)

    def _their_data(self, command: str) -> None:
        """/mydata, /delete and /stop: their rights, wherever they are."""
        if self.state in ("new", "declined", "under_18"):
            self._say("referral/nothing_held")
            return
        if command == "mydata":
            self.effects.append(SendTheirData())
        elif command == "stop":
            self.effects.append(StopContact())
            self._say("referral/contact_stopped")
            return
        elif self.state == "erasing":
            self._say("referral/erase_after_alert")
            return
        elif self.state != "confirm_delete":
            self.delete()
        self._ask()

    def _crisis(self, event: Crisis) -> None:
        """The contacts at once, and an alert for the team. Before the handoff they
        choose what next (no cheerful next question straight after a disclosure);
        after it, they hear that the team has been told."""
        self.effects.append(RaiseSafetyAlert(event.category, event.text, event.reasons))
        young = self._maybe_young(event.text)
        if self.state in AFTER_HANDOFF_ASKING:  # the questions while they wait stop
            self.crisis()
        if self.state in ("handed_off", "finished", "erasing", "confirm_delete"):
            self._say(f"safety/{event.category}", with_team=True, young=young)
            if self.state in ("handed_off", "erasing"):  # their words reach the worker (kept once)
                self.effects.append(AddToCase(event.text, kept_already=True))
            return
        self.crisis_text = event.text
        self.crisis()
        self._say(f"safety/{event.category}", with_team=False, young=young)
        self._ask()

    def _maybe_young(self, text: str) -> bool:
        """Childline and Papyrus are shown while their age is not known, or when they
        mention an age under 18."""
        return self.answers.get("adult") != "yes" or mentions_an_age_under_18(text)

    def _edited(self, event: Edited) -> None:
        if self.state in ("handed_off", "erasing"):
            self.effects.append(AddToCase(event.text, edited=True))
            self._say("referral/added_to_case", edited=True, case=self.ctx.case)
        else:
            self._say("referral/edited")
            self._ask()

    def _answer(self, event: Text | Button) -> None:
        ask = QUESTIONS[self.state]
        if (
            isinstance(event, Text)
            and ask.kind != "note"
            and self._not_for_this_question(ask, event)
        ):
            return
        outcome = READERS[ask.kind](self, ask, event)
        if outcome is None:  # handled in place (a tick in a multi-select)
            return
        if isinstance(outcome, Invalid):
            if self._been_away():
                self._say("referral/resume", state=self.state)
            else:
                self._say(outcome.template, **outcome.context)
            self._ask()
            return
        self.chosen = outcome.value
        if ask.key:
            self.answers[ask.key] = outcome.value
        if ask.kind != "note":
            self.replies.append(CloseQuestion(outcome.chosen_label, outcome.chosen_context))
        self._set_control(last_typed=_as_typed(ask, event, outcome))
        answered = self.state
        self.answer()
        ask_now = self._signs(answered, event) and not self.control.asked_directly
        after_waiting = self.state == "handed_off" and answered in WAIT_STATES
        if ask_now and (self.state in QUESTION_STATES or self.state in WAIT_STATES
                        or after_waiting):  # fmt: skip
            self.ask_directly()
        self._ask()

    def _signs(self, answered: str, event: Text | Button) -> bool:
        """Whether to ask directly about thoughts of harm: they ticked low mood, or
        their wellbeing answers are low, or the screen saw a weaker sign."""
        if isinstance(event, Text) and event.concern == "weak_sign":
            return True
        if answered == "need_areas":
            return "mood" in (self.answers.get("need_areas") or ())
        if answered == "wait_anxious":
            low = [self.answers.get("life_satisfaction"), self.answers.get("happiness")]
            anxious = self.answers.get("anxiety")
            return any(v is not None and v <= 4 for v in low) or (anxious or 0) >= 6
        return False

    def _not_for_this_question(self, ask: Ask, event: Text) -> bool:
        """Typed words that were not written for the question they are on: sent
        before it appeared (our messages crossed), or the same words as their last
        answer (sent twice, or answered on a repeated question) where they could
        answer this one too (elsewhere the usual hint says what it takes). They are
        not taken as its answer; the same words sent again on purpose are."""
        ctx, text = self.ctx, event.text.strip()
        early = (
            ctx.written_at is not None
            and ctx.question_shown_at is not None
            and (ctx.written_at < ctx.question_shown_at)
        )
        if ctx.question_unsent or early:
            self._say("referral/crossed")
            return True
        if text and text == self.control.last_typed and self.control.same_again_at != self.step:
            if ask.kind in READ_WITHOUT_CHANGE and isinstance(
                READERS[ask.kind](self, ask, event), Invalid
            ):
                return False
            self._set_control(same_again_at=self.step)
            self._say("referral/sent_twice", text=text)
            return True
        return False

    def _been_away(self) -> bool:
        last = self.ctx.last_seen
        return last is not None and self.ctx.now - last > RESUME_REMINDER_AFTER

    # Saying things -------------------------------------------------------------------
    def _say(self, template: str, **context: Any) -> None:
        self.replies.append(Reply(template, {**self._common(), **context}))

    def _common(self) -> dict[str, Any]:
        return {"name": self.answers.get("name"), "first_name": self.ctx.first_name}

    def _ask(self) -> None:
        """Send the question of the state we are now in (a new prompt: new step)."""
        ask = QUESTIONS.get(self.state)
        if self.state in ("declined", "under_18"):
            # A message about their safety is kept (vital interests): say so honestly.
            self._say(f"referral/{self.state}", kept_for_safety=self.ctx.case is not None)
            return
        if self.state in ("handed_off", "erasing"):  # no question: what they write goes on the case
            if self.just_noted:
                self._say("referral/added_to_case", edited=False, case=self.ctx.case)
            return
        if ask is None:
            return
        self.step += 1
        context: dict[str, Any] = {
            **self._common(),
            "answers": self.answers,
            "shown": list(self.control.shown),
            "part": self._part_begun(),
            "welcome": self.welcoming,
        }
        if ask.kind == "multi":
            options = self._tick_boxes(ask)
            context["guessed"] = self._guessed(ask)
        elif ask.kind == "scale":
            options = [Choice(str(n), "number", label_context={"n": n}).option() for n in range(11)]
            options.append((SKIP_THESE if self.state == "wait_life" else SKIP_CHOICE).option())
        elif ask.kind == "suggestions":
            shown = self._suggest()
            context["suggestions"] = shown
            context["offset"] = self.control.suggestion_offset
            context["last_page"] = self.last_page
            options = [
                c.option()
                for c in _suggestion_choices(
                    len(shown), self.last_page, self.control.suggestion_offset
                )
            ]
        else:
            options = [c.option() for c in self._choices(ask) if c.shown]
        self.replies.append(
            Reply(ask.template, context, tuple(options), step=self.step, columns=_columns(ask))
        )

    def _choices(self, ask: Ask) -> list[Choice]:
        """The buttons a question offers; the name question also offers their Telegram name."""
        if self.state == "name" and self.ctx.first_name:
            use_it = Choice(
                "first_name", "use_first_name", label_context={"first_name": self.ctx.first_name}
            )
            return [use_it, *ask.choices]
        return list(ask.choices)

    def _part_begun(self) -> int | None:
        """The part of the conversation (of PARTS) that this question begins, the
        first time it is asked: a plain sense of how far there is to go."""
        if self.state == self.started_in:
            return None  # asked again, or on their return
        part = PART_STARTS.get(self.state)
        if self.state == "contact_wanted" and self.answers.get("suggestions"):
            part = None  # the last part began with the suggestions
        return part

    def _guessed(self, ask: Ask) -> list[str]:
        """The labels of the boxes ticked for them that are still ticked."""
        ticked = self.answers.get(ask.key) or []
        return [self.ctx.label_of(c.option()) for c in ask.choices
                if c.value in self.control.guessed_needs and c.value in ticked]  # fmt: skip

    def _tick_boxes(self, ask: Ask) -> list[Option]:
        ticked = set(self.answers.get(ask.key, []))
        return [c.option(ticked=c.value in ticked) if c in ask.choices else c.option()
                for c in _shown(ask, self.answers)]  # fmt: skip

    def _suggest(self) -> list[Suggestion]:
        """The page of suggestions at the offset "Show me others" reached. A page
        is never shown again unasked: past the last, the last is kept (and the
        reader says these are all)."""
        if not self.suggestions_shown:
            offset = self.control.suggestion_offset
            profile = profile_from(self.answers)
            shown = self.ctx.directory.suggest(profile, SUGGESTIONS_PER_PAGE, offset)
            self.suggestions_shown = shown
            following = self.ctx.directory.suggest(
                profile, SUGGESTIONS_PER_PAGE, offset + len(shown)
            )
            self.last_page = not following
            self._set_control(
                suggestion_offset=offset, shown=tuple(_activity_ref(s) for s in shown)
            )
        return self.suggestions_shown

    # Tick boxes ----------------------------------------------------------------------
    def _update_multi(self, ask: Ask) -> None:
        self.replies.append(
            Reply(
                ask.template,
                {**self._common(), "answers": self.answers, "guessed": self._guessed(ask)},
                tuple(self._tick_boxes(ask)),
                step=self.step,
                columns=_columns(ask),
                mode="update",
            )
        )


def _retired_places_moved_on(control: ReferralControl) -> ReferralControl:
    """Places kept in the control (where "Carry on" goes back to) that are questions
    no longer asked there: the question that now follows."""
    changes = {
        name: RETIRED_TO[place]
        for name in ("back_to", "resume_at", "paused_at")
        if (place := getattr(control, name)) in RETIRED_TO
    }
    return control.model_copy(update=changes) if changes else control


def _brings_them_back(event: Event) -> bool:
    """Someone who stopped for now comes back with anything but a question about
    where they are (/status, /help) or crisis words (answered as such)."""
    if isinstance(event, Command):
        return event.name == "start"
    return not isinstance(event, Crisis | WorkerTookOver)


_UNDER_18 = re.compile(
    r"\b(?:i\s*(?:'|’)?\s*a?m|im|i\s+am|aged?|age)\s+(?:only\s+|just\s+)?(1[0-7]|[5-9])\b"
    r"|\b(1[0-7]|[5-9])\s*(?:years?\s*old|yrs?\s*old|yo|y/o)\b",
    re.IGNORECASE,
)


#: Words that name a need area clearly enough to tick it for them to check. Fewer
#: than NEED_WORDS: "home" or "fit" in a story says too little ("stuck at home").
NAMED_NEEDS = {
    "loneliness": ("lonely", "loneliness", "isolated", "on my own", "no friends", "meet people",
                   "make friends", "no one to talk to"),
    "mood": ("stressed", "stress", "anxious", "anxiety", "depressed", "depression", "low mood",
             "mental health", "feeling low", "feel low"),
    "activity": ("exercise", "get fit", "fitness", "more active", "get active", "walking", "sport"),
    "long_term_condition": ("diabetes", "arthritis", "copd", "chronic pain", "long term condition"),
    "money": ("money", "debt", "debts", "bills", "benefits", "skint", "cost of living"),
    "housing": ("housing", "landlord", "evicted", "homeless", "damp", "rent"),
    "work": ("job", "unemployed", "course", "college", "volunteering", "volunteer"),
    "caring": ("carer", "caring for", "look after my", "looking after my"),
    "alcohol_smoking": ("drinking", "alcohol", "smoking", "vaping", "stop smoking"),
    "confidence": ("confidence", "shy", "nervous going out"),
}  # fmt: skip
_NOT_BEFORE = re.compile(r"\b(?:not|no|never|dont|isnt|arent|wasnt|without)\s+(?:\w+\s+)?$")


def needs_named_in(text: str) -> tuple[str, ...]:
    """The need areas someone's own words name ("lonely", "debt"), in the order of the
    tick boxes; not where the word is denied ("I'm not lonely")."""
    plain = " " + simplify(text) + " "
    named = []
    for area in NEED_AREAS:
        for phrase in NAMED_NEEDS.get(area, ()):
            at = plain.find(f" {phrase} ")
            if at >= 0 and not _NOT_BEFORE.search(plain[: at + 1]):
                named.append(area)
                break
    return tuple(named)


def mentions_an_age_under_18(text: str) -> bool:
    """'im 16', 'I am 15', '14 years old', 'aged 13'."""
    return bool(_UNDER_18.search(text))


def _as_typed(ask: Ask, event: Text | Button, outcome: Answer) -> str | None:
    """An answer as words someone might send again by mistake: what they typed in
    their own words, or a number on a scale (typed or tapped)."""
    if ask.kind == "scale":
        return None if outcome.value is None else str(outcome.value)
    if isinstance(event, Text) and outcome.chosen_label == "typed" and ask.kind != "note":
        return event.text.strip()
    return None


def _columns(ask: Ask) -> int:
    return {"scale": 6, "multi": 2}.get(ask.kind, ask.columns)


def _activity_ref(s: Suggestion) -> ActivityRef:
    return ActivityRef(id=s.activity_id, name=s.name, organisation=s.organisation)


# --- How each kind of question reads an answer ---------------------------------------
# Each returns an Answer, an Invalid, or None when it changed things in place.

Outcome = Answer | Invalid | None


def _read_choice(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    choices = flow._choices(ask)
    choice = match_choice(event, choices, flow.ctx.label_of)
    if choice is not None:
        value: Any = choice.value
        if flow.state == "travel":
            value = float(choice.value)
        return Answer(value, choice.label, dict(choice.label_context))
    if ask.kind == "text" and isinstance(event, Text):
        text = read_text(event, ask.limit)
        if isinstance(text, Invalid):
            return text
        if ask.check is None:
            return Answer(text, "typed", {"text": text})
        checked = ask.check(text)
        if checked is None:
            return Invalid(ask.invalid, {"typed": text})
        return Answer(checked, "typed", {"text": checked})
    return Invalid("referral/errors/choose", {"count": len([c for c in choices if c.shown])})


def _read_multi(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    """Ticks. A tap ticks (or unticks) one, then Done. Typed words that name options
    ("lonely and money", "mornings") tick them and answer the question, with no
    Done to tap after; words that name none get a hint (and "Did you mean …?" when
    one is close), and are never kept: their own words are asked for after
    "Something else"."""
    # Numbers follow the buttons as shown.
    shown = _shown(ask, flow.answers)
    label_of = flow.ctx.label_of
    if isinstance(event, Button):
        picks = [match_choice(event, shown, label_of)]
        if picks == [None]:
            return Invalid("referral/errors/choose", {"count": len(shown)})
    sure = True
    if isinstance(event, Button):
        pass
    elif ask.min_ticks == 0 and simplify(event.text) in NONE_OF_THEM:
        picks = [DONE_CHOICE]  # none of them applies: on, with nothing more ticked
    else:
        numbers = simplify(event.text).split()
        all_numbers = numbers and all(n.isdigit() for n in numbers)
        parts = (numbers if all_numbers else split_answers(event.text)) or [event.text]
        picks = [match_choice(Text(part), shown, label_of, loose=True) for part in parts]
        # Read without guessing past words it could not read ("purple monkey
        # dishwasher" is not "money"): only then does typing answer the question.
        sure = picks == [match_choice(Text(part), shown, label_of) for part in parts]
        if None in picks:
            missed = next(part for part, pick in zip(parts, picks, strict=True) if pick is None)
            meant = near_miss(missed, [c for c in shown if c in ask.choices or c is SKIP_TICKS],
                              label_of)  # fmt: skip
            return Invalid("referral/errors/tick_hint", {
                "meant": label_of(meant.option()) if meant else None,
                "optional": ask.min_ticks == 0,
                "skip": SKIP_TICKS in shown,
            })  # fmt: skip
    ticked: list[str] = list(flow.answers.get(ask.key, []))
    for pick in picks:
        assert pick is not None
        if pick is ALL_CHOICE:
            ticked = [c.value for c in ask.choices]
            flow.answers[ask.key] = ticked
            return Answer(ticked, ALL_CHOICE.label)
        if pick is SKIP_TICKS:  # none of them: nothing kept, on to the next
            flow.answers[ask.key] = []
            return Answer([], SKIP_TICKS.label)
        if pick is DONE_CHOICE or pick is OTHER_CHOICE:
            if pick is OTHER_CHOICE:
                flow.something_else = True
            elif len(ticked) < ask.min_ticks and not flow.answers.get(f"{ask.key}_typed"):
                return Invalid("referral/errors/tick_one")
            flow.answers[ask.key] = ticked
            labels = [label_of(c.option()) for c in ask.choices if c.value in ticked]
            if pick is OTHER_CHOICE:
                labels.append(label_of(OTHER_CHOICE.option()))
            return Answer(ticked, "ticked", {"labels": labels})
        if isinstance(event, Button) or not sure:  # a tap, or a guess: shown to check
            ticked = _toggle(ticked, pick.value)
        elif pick.value not in ticked:  # typed: what they name is what they mean
            ticked = [*ticked, pick.value]
    flow.answers[ask.key] = ticked
    if isinstance(event, Button):
        flow._update_multi(ask)
        return None
    if not sure:  # ticked, and shown in a fresh message, to check and change
        flow._ask()
        return None
    # Typed words that name options answer the question: no "Done" to tap after.
    labels = [label_of(c.option()) for c in ask.choices if c.value in ticked]
    return Answer(ticked, "ticked", {"labels": labels})


def _shown(ask: Ask, answers: dict[str, Any]) -> list[Choice]:
    """A tick-box question's buttons: the options, "Any time" where it has one, then
    Something else, then Done (before you phone: Skip, then Done)."""
    if ask.key == "before_you_phone":
        offered = [
            c for c in ask.choices if c.value != "no_voicemail" or _asked_for_a_call(answers)
        ]
        return [*offered, SKIP_TICKS, DONE_CHOICE]
    return [*ask.choices, *([ALL_CHOICE] if ask.all_of_them else []), OTHER_CHOICE, DONE_CHOICE]


def _asked_for_a_call(answers: dict[str, Any]) -> bool:
    return answers.get("contact_method") == "phone"


def _toggle(ticked: list[str], value: str) -> list[str]:
    return [v for v in ticked if v != value] if value in ticked else [*ticked, value]


def _read_age(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    """18 or over: a button, its words, or an age typed in years ("45", "I'm 16").
    A bare 1 or 2 is the number of a button."""
    typed = simplify(event.text) if isinstance(event, Text) else ""
    age = read_age(event.text) if isinstance(event, Text) and typed not in ("1", "2") else None
    if age is None:
        return _read_choice(flow, ask, event)
    if not 1 <= age <= 120:
        return Invalid("referral/errors/age")
    choice = ask.choices[0] if age >= 18 else ask.choices[1]
    return Answer(choice.value, choice.label)


def _read_consent(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    """The consent notice's buttons (agreeing and 18 or over is one), their words
    ("yes" alone agrees: the age is asked next), or an age typed on its own: under
    18 is answered as such ("16", "I'm 16"). A bare number up to the buttons' count
    is a button's."""
    if isinstance(event, Text):
        age = read_age(event.text)
        shown = [c for c in ask.choices if c.shown]
        if age is not None and not (1 <= age <= len(shown) and simplify(event.text) == str(age)):
            if 1 <= age < 18:
                return Answer("under_18", "consent_under_18")
            return Invalid("referral/errors/choose", {"count": len(shown)})
    return _read_choice(flow, ask, event)


def _read_name(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    """A button (their Telegram name; "I'd rather not say"), or a name typed, read
    as a name ("my name is Ron" is Ron). No name is a fine answer."""
    choice = match_choice(event, flow._choices(ask), flow.ctx.label_of, guess=False)
    if choice is not None and choice.value == "rather_not_say":
        return Answer(None, choice.label)
    if choice is not None:
        return Answer(flow.ctx.first_name, choice.label, dict(choice.label_context))
    if isinstance(event, Button):
        return Invalid("referral/errors/choose", {"count": len(flow._choices(ask))})
    text = read_text(event, ask.limit)
    if isinstance(text, Invalid):
        return text
    name = read_name(text)
    return Answer(name, "typed", {"text": name})


def _read_scale(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    if flow.state == "wait_life" and _skips_these(flow, event):
        return Answer("skip_all", SKIP_THESE.label)
    value = read_scale(event, 0, 10)
    if isinstance(value, Invalid):
        return value
    if value is None:
        return Answer(None, "skip")
    return Answer(value, "number", {"n": value})


def _skips_these(flow: Referral, event: Text | Button) -> bool:
    """ "Skip these" tapped, or its words typed (never a number: that is a score)."""
    if isinstance(event, Button):
        return event.value == SKIP_THESE.value
    typed = simplify(event.text)
    return typed in SKIP_THESE.words or typed == simplify(flow.ctx.label_of(SKIP_THESE.option()))


def _suggestion_choices(count: int, last_page: bool, offset: int) -> list[Choice]:
    """The buttons under a page of suggestions: for each, "I'm interested" and
    "More about this"; then "Show me others", or on the last page "Talk to a
    link worker" (and the first ones again, if they have paged on); "None of these"."""
    choices: list[Choice] = []
    for i in range(count):
        choices.append(Choice(f"pick_{i}", "interested", (str(i + 1),), {"n": i + 1}))
        choices.append(Choice(f"more_{i}", "more_about", (), {"n": i + 1}))
    if not last_page:
        choices.append(
            Choice("others", "show_others", ("others", "more", "show me others", "next"))
        )
    else:
        if offset:
            choices.append(
                Choice("again", "first_ones_again", ("again", "first ones", "start again"))
            )
        choices.append(
            Choice("link_worker", "talk_to_link_worker", ("link worker", "talk to someone"))
        )
    choices.append(Choice("none", "none_of_these", ("none", "none of these", "no")))
    return choices


_NUMBERS = re.compile(r"\d+")


def _read_suggestion(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    shown = flow.control.shown
    flow._suggest()  # whether this is the last page
    choices = _suggestion_choices(len(shown), flow.last_page, flow.control.suggestion_offset)
    if not flow.last_page:  # typed words may still ask for a link worker
        choices.append(
            Choice("link_worker", "talk_to_link_worker", ("link worker", "talk to someone"))
        )
    # Typed numbers pick activities ("1", or "1 and 3" for more than one);
    # typed labels and words also work.
    numbers = [int(n) for n in _NUMBERS.findall(event.text)] if isinstance(event, Text) else []
    several = len(numbers) > 1 and all(1 <= n <= len(shown) for n in numbers)
    # A number on its own is an activity's number (as the cards are numbered), and
    # an activity's name picks it too.
    for i, s in enumerate(shown):
        choices.append(Choice(f"pick_{i}", "interested", (simplify(s.name),), {"n": i + 1},
                              shown=False))  # fmt: skip
    alone = (
        re.fullmatch(r"(?:number |no |option )?(\d{1,2})", simplify(event.text))
        if isinstance(event, Text)
        else None
    )
    if alone and 1 <= int(alone[1]) <= len(shown):
        choice: Choice | None = choices[2 * (int(alone[1]) - 1)]  # its "I'm interested"
    else:
        choice = None if several else match_choice(event, choices, flow.ctx.label_of)
    if choice is None and not several:
        if isinstance(event, Text) and set(simplify(event.text).split()) & {
            "others",
            "more",
            "next",
        }:
            flow._say("referral/no_more_suggestions")  # typed on the last page: no page again
            return None
        return Invalid("referral/errors/choose", {"count": len(choices)})
    if choice is not None and choice.value.startswith("more_"):
        number = int(choice.value.removeprefix("more_"))
        wanted = shown[number].id
        found = next((s for s in flow.suggestions_shown if s.activity_id == wanted), None)
        if found is None:  # the directory changed since the page was shown: a fresh page
            flow.suggestions_shown = []
            flow._ask()
            return None
        flow._say("directory/more", suggestion=found, number=number + 1)
        return None  # the page and its buttons stay
    flow.answers["seen"] = [*flow.answers.get("seen", []), *(s.model_dump() for s in shown)]
    if choice is not None and choice.value in ("others", "again"):
        following = flow.control.suggestion_offset + len(shown)
        flow._set_control(suggestion_offset=following if choice.value == "others" else 0)
        flow.suggestions_shown = []  # the next page is read when it is asked
        return Answer("others", choice.label)
    if choice is not None and choice.value == "link_worker":
        return Answer("link_worker", choice.label)
    if choice is not None and choice.value == "none":
        flow.answers["declined"] = [*flow.answers.get("declined", []), *(s.id for s in shown)]
        return Answer("none", choice.label)
    picks = (
        [shown[n - 1] for n in dict.fromkeys(numbers)]
        if several
        else [shown[int(choice.value.removeprefix("pick_"))]]  # type: ignore[union-attr]
    )
    flow.answers["interested"] = picks[0].model_dump()
    flow.answers["also_interested"] = [p.model_dump() for p in picks[1:]]
    names = [p.name for p in picks]
    label = "interested_in" if len(picks) == 1 else "interested_in_several"
    return Answer("picked", label, {"name": names[0], "names": names})


def _read_note(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    if isinstance(event, Button):
        return Invalid("referral/errors/type_it")
    text = read_text(event, ask.limit)
    if isinstance(text, Invalid):
        return text
    flow.note = text
    return Answer(None, "typed", {"text": text})


def _read_crisis_check(flow: Referral, ask: Ask, event: Text | Button) -> Outcome:
    """Carry on, stop for now, or talk to someone. Other words are theirs to say:
    kept for the team, and the choice offered again."""
    choice = match_choice(event, list(ask.choices), flow.ctx.label_of)
    if choice is not None:
        return Answer(choice.value, choice.label, dict(choice.label_context))
    if isinstance(event, Button):
        return Invalid("referral/errors/choose", {"count": len(ask.choices)})
    text = read_text(event, LIMIT_MESSAGE)
    if isinstance(text, Invalid):
        return text
    flow.effects.append(AddToCase(text))
    flow._say("referral/kept_for_team")
    flow._ask()
    return None


READERS: dict[str, Callable[[Referral, Ask, Text | Button], Outcome]] = {
    "choice": _read_choice,
    "age": _read_age,
    "consent": _read_consent,
    "name": _read_name,
    "text": _read_choice,  # typed text, with any offered buttons still working
    "multi": _read_multi,
    "scale": _read_scale,
    "suggestions": _read_suggestion,
    "note": _read_note,
    "crisis_check": _read_crisis_check,
}

#: Question kinds whose reading changes nothing (a tick, a page of suggestions, a
#: note or words kept for the team happen as they are read): read to ask whether
#: words could answer it at all.
READ_WITHOUT_CHANGE = frozenset(READERS) - {"multi", "suggestions", "note", "crisis_check"}

MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="new",
    auto_transitions=False,
    send_event=True,
)
bind_triggers(Referral, MACHINE)


def handle(
    conversation: Conversation, event: Event | Nudge, ctx: FlowContext
) -> FlowResult[ReferralControl]:
    """Run one event through the referral conversation. Pure: no I/O."""
    return Referral(conversation, ctx).handle(event)


# --- Reading the answers ------------------------------------------------------------


def profile_from(answers: dict[str, Any]) -> Profile:
    """What matching needs, from the stored answers."""
    mode = answers.get("mode", "any")
    modes = {None: MODES, "any": MODES, "remote": ("online", "phone")}.get(mode, (mode,))
    free_times = tuple(answers.get("free_times") or ()) or FREE_TIMES
    return Profile(
        need_areas=tuple(answers.get("need_areas") or ()),
        what_matters=" ".join(
            str(t) for t in (answers.get("what_matters"), answers.get("need_other"),
                             *(answers.get("need_areas_typed") or ())) if t and t != "not_sure"
        ),
        postcode=answers.get("postcode") if answers.get("postcode") not in (None, "none") else None,
        modes=modes,
        max_miles=answers.get("max_miles"),
        group=answers.get("group") or "either",
        free_times=free_times,
        free_only="cost" in (answers.get("barriers") or ()),
        declined=tuple(answers.get("declined") or ()),
    )  # fmt: skip


def case_summary(answers: dict[str, Any], *, finished: bool = False) -> CaseSummary:
    """The case record under the PRSB Social Prescribing Information Standard's
    headings: about the person; needs and what matters; support offered; outcomes.
    `finished`: every question was answered (the handoff)."""

    def given(key: str) -> Any:
        value = answers.get(key)
        return None if value in ("none", "not_sure", "") else value

    interested = answers.get("interested")
    also = answers.get("also_interested") or []
    return CaseSummary(
        about_the_person=AboutThePerson(
            name=given("name"),
            adult=answers.get("adult") == "yes",
            contact_wanted={"yes": True, "no": False}.get(answers.get("contact_wanted") or ""),
            postcode=given("postcode"),
            contact_method=given("contact_method"),
            phone=given("phone"),
            best_time=given("best_time"),
            takes_part=TakesPart(
                mode=given("mode"),
                max_miles=answers.get("max_miles"),
                group=given("group"),
                free_times=answers.get("free_times") or [],
            ),
            before_you_phone=before_you_phone(answers),
        ),
        needs=Needs(
            what_matters=given("what_matters"),
            need_areas=answers.get("need_areas") or [],
            in_their_words=[t for t in [given("need_other"), *(answers.get("need_areas_typed") or [])] if t],
            barriers=answers.get("barriers") or [],
            barriers_in_their_words=[t for t in [given("barriers_other"), *(answers.get("barriers_typed") or [])] if t],
        ),
        support_offered=SupportOffered(
            suggested=[ActivityRef.model_validate(s) for s in answers.get("seen") or []],
            interested_in=ActivityRef.model_validate(interested) if interested else None,
            also_interested_in=[ActivityRef.model_validate(a) for a in also],
            declined_because=given("none_reason"),
        ),
        outcomes=Outcomes(
            wellbeing_baseline={key: answers.get(key) for key in ONS4.values()},
        ),
        referral_finished=finished,
    )  # fmt: skip


def before_you_phone(answers: dict[str, Any]) -> BeforeYouPhone:
    """What helps a link worker get in touch, from the answers while they wait: only
    what they ticked or wrote (a box not ticked is "not said", never a no)."""
    ticked = answers.get("before_you_phone") or ()

    def own_words(key: str) -> str | None:
        value = answers.get(key)
        return None if value in (None, "none", "") else str(value)

    return BeforeYouPhone(
        interpreter=True if "interpreter" in ticked else None,
        language=own_words("language") if "interpreter" in ticked else None,
        access_needs=True if "access_needs" in ticked else None,
        carer=True if "carer" in ticked else None,
        voicemail_ok=False if "no_voicemail" in ticked else None,
        gp_practice=own_words("gp_practice"),
    )
