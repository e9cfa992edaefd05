"""The words leads use for common sales topics, so a strategy key finds its questions.

A team writes `faqs: {"pricing": ...}`; leads say "how much is it?". Each concept below is a
topic name and the phrases that mean it. A strategy key pulls in a concept when one of the
key's words is the concept's name or one of its one-word phrases ("data_security" -> security).
Strategies can add their own phrases under `scripts.keywords` (see `agentcore.intents`).

Phrases are written the way `intents.normalise` leaves text: lower case, contractions
expanded ("do not", "i am"), no punctuation.
"""

from __future__ import annotations

FAQ_CONCEPTS: dict[str, tuple[str, ...]] = {
    "pricing": (
        "price", "prices", "pricing", "cost", "costs", "how much", "fee", "fees", "charge",
        "rate", "rates", "quote", "per month", "per seat", "plans", "subscription", "payment",
        "what do you charge", "ballpark", "dollars", "rupees",
    ),
    "security": (
        "secure", "security", "soc2", "soc 2", "gdpr", "data", "privacy", "encryption",
        "encrypted", "pii", "iso 27001", "hipaa", "safe", "breach", "certified", "compliant",
    ),
    "integrations": (
        "integrate", "integration", "integrations", "crm", "salesforce", "hubspot", "api",
        "connect", "plug in", "works with", "zapier", "sync",
    ),
    "trial": ("trial", "free trial", "try it", "pilot", "test drive", "try it out"),
    "onboarding": (
        "setup", "set up", "onboarding", "implementation", "implement", "get started", "install",
        "installation", "deploy", "rollout", "how long does it take", "go live",
    ),
    "support": ("support", "help desk", "customer service", "customer support", "24 7"),
    "contract": (
        "contract", "commitment", "lock in", "cancel", "cancellation", "annual", "term",
    ),
    "roi": ("roi", "return on investment", "payback", "savings", "save money", "results"),
    "warranty": ("warranty", "guarantee", "guaranteed", "warranties"),
    "financing": (
        "financing", "finance", "loan", "lease", "monthly payment", "payment plan", "emi",
        "credit", "down payment",
    ),
    "insurance": ("insurance", "insured", "coverage", "covered", "claim"),
    "availability": (
        "availability", "available", "appointment", "opening", "openings", "schedule",
        "hours", "open on",
    ),
    "location": ("location", "where are you", "address", "located", "directions", "parking"),
    "references": (
        "references", "reference", "customers", "clients", "case study", "case studies",
        "who else uses", "reviews",
    ),
    "tracking": ("tracking", "track", "visibility", "where is my", "live location", "eta"),
    "capacity": ("capacity", "volume", "how many", "fleet", "trucks", "lanes", "coverage area"),
}

OBJECTION_CONCEPTS: dict[str, tuple[str, ...]] = {
    "busy": (
        "busy", "no time", "in a meeting", "bad time", "not a good time", "driving",
        "middle of something", "can not talk", "swamped", "hectic", "running late",
        "at work right now",
    ),
    "budget": (
        "expensive", "no budget", "too much", "too pricey", "pricey", "afford", "costly",
        "budget", "money is tight", "out of budget", "cheaper", "spending freeze",
        "too expensive", "can not afford",
    ),
    "competitor": (
        "already use", "already have", "already using", "another vendor", "competitor",
        "current provider", "current vendor", "happy with our", "existing solution",
        "we use", "in house", "built our own", "already work with", "have a guy",
    ),
    "authority": (
        "decision maker", "my boss", "my manager", "not my call", "not my decision",
        "talk to my team", "need approval", "my partner", "my wife", "my husband", "spouse",
        "run it by", "check with",
    ),
    "timing": (
        "not right now", "maybe later", "next quarter", "next year", "bad timing",
        "not the right time", "revisit", "not a priority", "down the road",
    ),
    "trust": (
        "scam", "spam", "how did you get my number", "legit", "trust", "never heard of",
        "sounds too good",
    ),
    "send_info": (
        "send me an email", "send me info", "send info", "email me", "send details",
        "send me something", "brochure", "send it over", "in writing",
    ),
    "renter": ("rent", "renting", "renter", "landlord", "tenant", "do not own"),
}

# Control intents: how a conversation is steered rather than what it is about.
CONTROL_PHRASES: dict[str, tuple[str, ...]] = {
    "do_not_call": (
        "take me off", "off your list", "off the list", "remove me", "remove my number",
        "do not call", "stop calling", "never call", "unsubscribe", "opt out",
        "do not contact", "lose my number", "do not ever call", "put me on your do not call",
        "harassment", "report you",
    ),
    "ai_check": (
        "robot", "bot", "are you ai", "is this ai", "an ai", "artificial", "real person",
        "are you human", "a human", "automated", "recording", "a machine", "computer",
        "are you real", "recorded message", "is this a person",
    ),
    "identity": (
        "who is this", "who are you", "who is calling", "who is speaking", "who am i speaking",
        "who am i talking", "what company", "which company", "who do you work for",
        "your name", "where are you calling from", "who did you say",
    ),
    "callback": (
        "call me later", "call me back", "call back", "call later", "another time",
        "some other time", "try me later", "try again later", "reach me later",
        "ring me later", "give me a call", "catch me later", "follow up later",
    ),
    "goodbye": (
        "bye", "goodbye", "good bye", "have to go", "got to go", "gotta go", "that is all",
        "see you", "hang up", "have a good day", "have a nice day", "take care", "cheers",
        "talk soon", "i am done",
    ),
    "not_interested": (
        "not interested", "no thanks", "no thank you", "we are good", "we are all set",
        "not for us", "do not need", "do not want", "not looking", "no need",
        "we will pass", "i will pass", "not a fit", "not a good fit", "no interest",
    ),
    "repeat": (
        "say that again", "come again", "repeat that", "pardon", "what did you say",
        "can you repeat", "sorry what", "did not catch",
    ),
    "demo_request": (
        "demo", "demonstration", "show me", "see it", "walk me through", "book",
        "schedule", "set up a meeting", "set up a call", "a meeting", "sign me up",
        "let us do it", "let us talk", "appointment", "consultation", "site visit",
        "assessment", "count me in",
    ),
    "pitch_request": (
        "what is this about", "what is this regarding", "what is it about", "what do you do",
        "what do you sell", "tell me more", "how does it work", "why are you calling",
        "what are you offering", "go on", "i am listening", "what is this", "what do you offer",
        "what is the offer", "what is it",
    ),
    "greeting": (
        "hello", "hi", "hey", "namaste", "good morning", "good afternoon", "good evening",
        "hiya", "howdy",
    ),
    "affirm": (
        "yes", "yeah", "yep", "yup", "sure", "okay", "ok", "of course", "absolutely",
        "sounds good", "go ahead", "i have a minute", "that works", "alright", "all right",
        "definitely", "please", "interested", "i am interested", "sounds great", "perfect",
        "works for me", "that is fine", "fine", "great", "why not", "haan", "ji", "speaking",
        "this is she", "this is he", "go on then",
    ),
    "deny": ("no", "nope", "nah", "not really", "i do not think so", "not now"),
}

QUESTION_WORDS = frozenset(
    "what how why when where who which can could do does did is are will would should "
    "have has may".split()
)

STOPWORDS = frozenset(
    "a an the and or of to in on for with at by from is are be it this that your you we our "
    "my me i do does how what faq q".split()
)
