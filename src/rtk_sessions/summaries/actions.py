"""Which sentences are decisions and action items, and whose action item each one is.

The rules are written out for users in docs/summaries.md ("Action items and decisions"):
a question is an action item only when it asks for work after the meeting, a request about
the meeting itself ("Can you go back one slide?") never is, and an action item belongs to the
participant it is addressed to when the sentence names one, else to its speaker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DECISION = re.compile(
    r"\b(?:decided|agreed|settled on|approved?|final decision|consensus|"
    r"let's go with|we(?:'ll| will| are going to|'re going to) (?:go|stick) with|"
    r"decision (?:is|was) to|we chose|we've chosen|we have chosen)\b",
    re.IGNORECASE,
)
_DEADLINE = (
    rf"by (?:the )?(?:{_DAYS}|tomorrow|tonight|next (?:week|meeting|time)|"
    r"end of (?:the )?(?:day|week|month))"
)
_COMMITMENT = re.compile(
    rf"\b(?:action items?|to-?do|follow[- ]up|{_DEADLINE}|"
    r"i(?:'ll| will| am going to|'m going to| need to| have to)|"
    r"we(?:'ll| will| need to| have to| must| should| are going to|'re going to)|"
    r"let's(?! (?:start|begin|get started|move on|see|talk|look|have a look|go back|wait))|"
    r"(?:can|could|would) you|please|will send|will prepare)\b",
    re.IGNORECASE,
)
# A question is a request when it asks someone to do something ...
_REQUEST = re.compile(r"\b(?:(?:can|could|would) you|please)\b", re.IGNORECASE)
# ... and it is work after the meeting when it has a deadline or names a piece of work.
_LATER = re.compile(
    rf"\b(?:{_DEADLINE}|(?:on|before|until) (?:{_DAYS})|tomorrow|tonight|"
    r"next (?:week|month|sprint|meeting)|(?:after|before) (?:the|this|our) (?:meeting|call)|"
    r"afterwards|offline|later today|this (?:week|afternoon|evening)|end of (?:the )?day|"
    r"send|e-?mail|write(?: up)?|draft|prepare|review|fix|follow[- ]up|look into|take a look|"
    r"(?:update|schedule) (?:a|an|the|it|them|this|that|our|your|my)|investigate|set up|book|"
    r"circulate|file (?:a|an|the)|finish|document|"
    r"put together|find out|forward|upload|reach out|get back to|loop in|ping)\b",
    re.IGNORECASE,
)
# Requests about the meeting as it happens: the screen, the slides, audio and video, the chat.
_LIVE = re.compile(
    r"\b(?:(?:go|going|move|flip|skip|jump) (?:back|forward|ahead)|"
    r"(?:next|previous|last|one|a|that|this|other) slide|slides? (?:back|forward)|"
    r"hear (?:me|us|you|him|her|them)|see (?:my|your|the|our) screen|"
    r"(?:share|sharing|stop sharing) (?:your|my|the|his|her) screen|screen ?shar\w*|"
    r"(?:on|off) mute|unmute|muted|camera|(?:video|mic|microphone) (?:on|off)|"
    r"speak up|louder|say that again|repeat (?:that|the question|yourself)|"
    r"scroll (?:up|down)|zoom (?:in|out)|in the chat|(?:start|stop) (?:the )?recording)\b",
    re.IGNORECASE,
)
_NAME_WORD = r"[^\W\d_][\w'’-]*"
_NAMES = rf"{_NAME_WORD}(?: {_NAME_WORD}){{0,2}}"
_MENTION = re.compile(rf"@({_NAME_WORD})")
_LEADING_VOCATIVE = re.compile(
    rf"^(?:(?:hey|hi|so|and|ok|okay|right|alright) )?({_NAMES}),\s+(.+)$", re.I
)
_TRAILING_VOCATIVE = re.compile(rf"^(.+?),\s+({_NAMES})\s*([?.!])$")
_ASSIGNED = re.compile(
    rf"^(?:[^:]{{0,40}}:\s*)?({_NAMES})(?:'ll| will| to| is going to| needs to| should)\b"
)
_FIRST_PERSON = re.compile(r"^(?:i|i'm|i'll|i've|i'd|we|we'll|we're|let me|let's|my|our)\b", re.I)


def is_decision(text: str) -> bool:
    return not text.endswith("?") and _DECISION.search(text) is not None


def is_action(text: str) -> bool:
    """A commitment, or a request for work after the meeting; never about the meeting itself."""
    if text.endswith("?"):
        wanted = _REQUEST.search(text) is not None and _LATER.search(text) is not None
    else:
        wanted = _COMMITMENT.search(text) is not None
    return wanted and _LIVE.search(text) is None  # the rarer test last: most sentences fail


@dataclass(frozen=True)
class Participants:
    """The meeting's speakers, found by full name or by an unambiguous first name."""

    by_name: dict[str, str]

    @classmethod
    def of(cls, speakers: Iterable[str]) -> Participants:
        names = {s.strip() for s in speakers if s.strip()}
        firsts: dict[str, set[str]] = {}
        for name in names:
            firsts.setdefault(name.split()[0].strip(",.;:").casefold(), set()).add(name)
        by_name = {first: next(iter(full)) for first, full in firsts.items() if len(full) == 1}
        by_name.update({name.casefold(): name for name in names})
        return cls(by_name)

    def find(self, words: str) -> str | None:
        """The participant these words name: all of them ("Bob Lee"), else the first ("Bob").

        Only a capitalized word can be a name, so "will" never means a participant Will.
        """
        if words[:1].islower():
            return None
        return self.by_name.get(words.casefold()) or self.by_name.get(words.split()[0].casefold())


def action_line(text: str, speaker: str, participants: Participants) -> str:
    """`@Owner: task`, the task without the owner's name as vocative, and who said it when
    that is someone else: "Bob, please send it." (Ada) → "@Bob: Please send it. (from Ada)"."""
    owner, task = _addressee(text, participants)
    if owner is None or owner == speaker:
        return f"@{speaker or 'Unknown speaker'}: {text}"
    return f"@{owner}: {task} (from {speaker or 'an unknown speaker'})"


def _addressee(text: str, participants: Participants) -> tuple[str | None, str]:
    """(the participant the sentence gives the task to, the task as shown), or (None, text)."""
    mention = _MENTION.search(text) if "@" in text else None
    if mention and (owner := participants.find(mention.group(1))):
        return owner, text
    lead = _LEADING_VOCATIVE.match(text)
    if lead and not _FIRST_PERSON.match(rest := lead.group(2)):
        owner = participants.find(lead.group(1))
        if owner:
            return owner, rest[:1].upper() + rest[1:]
    trail = _TRAILING_VOCATIVE.match(text)
    if trail and not _FIRST_PERSON.match(trail.group(1)):
        owner = participants.find(trail.group(2))
        if owner:
            return owner, trail.group(1) + trail.group(3)
    assigned = _ASSIGNED.match(text)
    if assigned and (owner := participants.find(assigned.group(1))):
        return owner, text
    return None, text
