"""What the leads of the turn-taking corpus say, written for the corpus (not taken from scenarios).

Each category is a list of *families*: one thing a lead might say, in a few wordings. The
first wording is the tidy one; the others are paraphrases and the kind of text an ASR or a
hurried speaker produces (no punctuation, contractions, fillers, repetitions), so the TTS
renders them with different prosody too. The corpus splits by family, never by wording: a
phrase held out for evaluation has no paraphrase among the phrases used for tuning.

A multi-part turn is a tuple of parts, spoken with a pause between them. `COUGH` is not
speech: the corpus synthesises it as a shaped noise burst.
"""

from __future__ import annotations

COUGH = "[cough]"

Family = tuple[str, ...]  # wordings of one single-part phrase
PartsFamily = tuple[tuple[str, ...], ...]  # wordings of one multi-part turn

INTERRUPTIONS: tuple[Family, ...] = (
    ("Sorry, wait, hold on a second please.", "sorry wait hold on a sec",
     "Wait, wait, hold on one second."),
    ("Can I stop you there?", "can i just stop you there for a second",
     "Let me stop you right there."),
    ("Actually, how much is this?", "actually how much does this run",
     "Um, actually, what's the price on this?"),
    ("No no, we already have a vendor.", "no no we've already got a vendor for that",
     "Nope, we already work with someone."),
    ("Sorry, who did you say you were with?", "sorry who are you with again",
     "Wait, what company is this?"),
    ("Hang on, is this a sales call?", "hang on is this a sales call",
     "Hold on, are you selling something?"),
    ("I'm actually driving right now.", "im driving at the moment",
     "Sorry, I'm in the car right now."),
    ("Excuse me, how did you get my number?", "excuse me where'd you get this number",
     "Hold on, how do you have my number?"),
    ("Look, I only have two minutes.", "look i've only got a couple of minutes",
     "I have like two minutes, okay?"),
    ("Wait, are you a robot?", "wait is this a real person",
     "Hold on, am I talking to an AI?"),
    ("Sorry, you're breaking up.", "sorry youre cutting out",
     "I can't hear you very well."),
    ("Just send me an email instead.", "can you just email me",
     "Honestly, just email me the details."),
    ("We're not interested, thanks.", "we're not interested thank you",
     "Thanks, but we're going to pass."),
    ("Sorry, what was your name again?", "sorry what's your name",
     "Sorry, I missed your name."),
)

BACKCHANNELS: tuple[Family, ...] = (
    ("mhm", "mhm mhm"),
    ("mm-hmm", "mm hmm"),
    ("okay", "ok", "okay okay"),
    ("right", "right right", "Right."),
    ("yeah", "yeah yeah", "yep"),
    ("uh-huh", "uh huh"),
    ("I see", "Oh, I see."),
    ("sure", "Sure, sure."),
    ("ha ha", "ha ha ha"),
    (COUGH, f"{COUGH} {COUGH}"),
    ("got it", "Gotcha."),
    ("hmm", "Hmm."),
)

MULTIPART: tuple[PartsFamily, ...] = (
    (("How much is it?", "Is there a discount for small teams?"),
     ("how much does it cost", "do you do discounts for smaller teams")),
    (("We use Salesforce today.", "but the contract ends in March."),
     ("we're on salesforce right now", "but our contract's up in march")),
    (("I'd be open to it,", "if it works with HubSpot."),
     ("I might be interested", "as long as it plugs into HubSpot.")),
    (("Okay.", "So what exactly does it do?"),
     ("Okay, so", "what does it actually do?")),
    (("We tried something like this last year.", "It didn't really stick with the team."),
     ("we tried a tool like this before", "and nobody used it")),
    (("Send me some information.", "And maybe call back next week."),
     ("just send me some info", "then call me next week")),
    (("I'm not the one who decides that.", "You'd need to talk to our VP of sales."),
     ("that's not my call", "you want our head of sales")),
    (("How long is the setup?", "We don't have an IT team."),
     ("how long does setup take", "cause we have no IT people")),
    (("Um, let me think.", "Maybe Thursday afternoon?"),
     ("let me see", "Thursday afternoon could work")),
    (("Well,", "we have twelve reps,", "and most of them are remote."),
     ("so we have twelve reps", "mostly remote")),
)

SHORT: tuple[Family, ...] = (
    ("Yes.", "Yeah.", "yes"),
    ("Thursday works.", "thursday works for me"),
    ("No thanks.", "no thank you"),
    ("Sounds good.", "sounds great"),
    ("Not interested.", "not interested sorry"),
    ("Go ahead.", "Sure, go on."),
    ("Email is better.", "email works better"),
    ("We're all set.", "we're good thanks"),
    ("Call me Friday.", "try me friday"),
    ("Twenty people.", "about twenty"),
)
