"""The offline summarizer: picks the transcript's own sentences, no model, no network.

Sentences are cleaned of transcription noise (`{vocalsound}`, fillers, stutters), scored by
cosine similarity to the meeting's TF-IDF centroid (what the meeting is mostly about), and
picked with maximal marginal relevance so near-repeats do not crowd the budget. Action items
and decisions are found by phrase rules (`summaries.actions`). Everything is shown in meeting order and is
deterministic: ties break on position, no randomness, no clock.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from rtk_sessions.summaries.actions import Participants, action_line, is_action, is_decision
from rtk_sessions.summaries.model import SummaryError, Utterance
from rtk_sessions.summaries.render import (
    SummaryParts,
    check_request,
    fit,
    render,
    truncate_words,
)

MIN_WORDS, MAX_WORDS = 6, 40  # shorter is chatter ("Okay, cool."), longer is split at commas
MMR_LAMBDA = 0.7  # relevance vs. novelty when picking key points
DUPLICATE = 0.8  # cosine above which a sentence repeats one already chosen
CANDIDATES = 300  # MMR looks at this many best-scored sentences; keeps long meetings fast
OVERVIEW_SHARE, ACTION_SHARE, DECISION_SHARE = 0.2, 0.2, 0.15
MAX_NAMES, MAX_TOPICS = 5, 8

_MARKER = re.compile(r"\{[^{}]*\}|\[[a-z][a-z _-]*\]")
_ACRONYM = re.compile(r"\b((?:[A-Z]_)+)([a-z]*)")  # QMSum spells "TVs" as T_V_s
_FILLER = re.compile(
    r"\b(?:u+m+|u+h+|uh-huh|m+-?hm+|m{2,}|h+m+|erm|er|ah|eh|huh|ooh|oh)\b[,.]?", re.IGNORECASE
)
_HEDGE = re.compile(r"\b(?:yeah|you know|i mean)\b[,.]?", re.IGNORECASE)
# "the the" -> "the", "I think I think" -> "I think"
_STUTTER = re.compile(r"\b(\w+(?:\s+\w+){0,2})(?:\s+\1\b)+", re.IGNORECASE)
# A cut-off word restarted: "s sacrifice", "voi voice" (not the "s" of "let's start").
_FRAGMENT = re.compile(r"(?<!['’])\b(\w{1,4})\s+(?=\1\w)", re.IGNORECASE)
_DANGLING = re.compile(r"\s+[b-z]\s*$")  # a cut-off last word: "might k"
_REPEAT_END = re.compile(r"([.!?])[.!?]+")
_SPACE_PUNCT = re.compile(r"\s+([,.?!;:])")
_DOUBLE_PUNCT = re.compile(r"([,;:])\s*(?=[,.?!;:])")
_LEADIN = re.compile(
    r"^(?:(?:so|well|okay|ok|'kay|yeah|yes|right|anyway|alright|now|and)\b[\s,.]*)+",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;])\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

_STOPWORD_TEXT = """
    a about above after again against all also am an and any are aren't as at be because been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each even ever few for from further get gets getting
    go goes going gonna got gotta had hadn't has hasn't have haven't having he he'd he'll he's
    her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is
    isn't it it's its itself just kind kinda know let's like lot maybe me mean might more most
    much must mustn't my myself need no nor not now of off ok okay on once one only or other
    ought our ours ourselves out over own pretty probably quite really right said same say
    see she she'd she'll she's should shouldn't so some something sort still stuff such sure
    than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've thing things think this those though through to too under until
    up us very wanna want was wasn't way we we'd we'll we're we've well were weren't what
    what's when when's where where's which while who who's whom why why's will with won't
    would wouldn't yeah yes yep you you'd you'll you're you've your yours yourself
    yourselves actually basically guess mm uh um hmm oh cos 'cause cause bit
    zero two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty
    hundred thousand first second look looks looking use used using make made put take give
    come came went tell told talk talking let lot good great nice fine little big new means
    thank thanks please people time able try start everybody everyone guys whatever within
    terms"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Sentence:
    """A cleaned candidate sentence and where it came from."""

    position: int  # order in the meeting
    speaker: str
    text: str
    terms: tuple[str, ...]  # stemmed content words


class ExtractiveSummarizer:
    """The default summarizer: offline, deterministic, a few milliseconds per meeting."""

    def summarize(
        self,
        utterances: Sequence[Utterance],
        *,
        word_limit: int,
        text_format: str,
        duration_ms: int | None = None,
    ) -> str:
        check_request(word_limit, text_format)
        if not any(clean(u.text) for u in utterances):
            raise SummaryError("transcript is empty")
        parts = summary_parts(utterances, word_limit, duration_ms)
        return render(fit(parts, word_limit), text_format)


def summary_parts(
    utterances: Sequence[Utterance], word_limit: int, duration_ms: int | None = None
) -> SummaryParts:
    """Choose the content of each section within the word limit."""
    sentences = candidate_sentences(utterances) or candidate_sentences(utterances, strict=False)
    ranking = Ranking.of(sentences)
    decided_at = {s.position for s in sentences if is_decision(s.text)}
    decisions = [s for s in sentences if s.position in decided_at]
    actions = [s for s in sentences if s.position not in decided_at and is_action(s.text)]
    participants = Participants.of(u.speaker for u in utterances)

    def todo_line(s: Sentence) -> str:
        return action_line(s.text, s.speaker, participants)

    overview = _overview(utterances, sentences, round(word_limit * OVERVIEW_SHARE), duration_ms)
    decided = _findings(ranking, decisions, round(word_limit * DECISION_SHARE), [], _line)
    taken = [s for s, _ in decided]
    todo = _findings(ranking, actions, round(word_limit * ACTION_SHARE), taken, todo_line)
    taken += [s for s, _ in todo]
    lines = [line for _, line in decided + todo]
    spent = _count(overview) + sum(map(_count, lines)) + 2 * (not decided) + 2 * (not todo)
    key_points = ranking.pick(sentences, word_limit - spent, taken, _line)
    return SummaryParts(
        overview=overview,
        key_points=tuple(_line(s) for s in key_points),
        action_items=tuple(line for _, line in todo),
        decisions=tuple(line for _, line in decided),
    )


def _findings(
    ranking: Ranking,
    pool: Sequence[Sentence],
    budget: int,
    taken: list[Sentence],
    line: Callable[[Sentence], str],
) -> list[tuple[Sentence, str]]:
    """(sentence, line) of a rule-based section; if none fits whole, the best one is cut.

    A small limit must not claim "None recorded." when something was found.
    """
    chosen = ranking.pick(pool, budget, taken, line)
    if chosen or not pool:
        return [(s, line(s)) for s in chosen]
    best = min(pool, key=lambda s: (-ranking.scores[s.position], s.position))
    return [(best, truncate_words(line(best), max(budget, 3)))]


def clean(text: str) -> str:
    """Transcript text without sound markers, fillers, stutters and tokenizer spacing."""
    text = _MARKER.sub(" ", text)
    text = _ACRONYM.sub(lambda m: m.group(1).replace("_", "") + m.group(2), text)
    text = _HEDGE.sub(" ", _FILLER.sub(" ", text))
    text = _FRAGMENT.sub(_drop_fragment, text)
    text = _STUTTER.sub(r"\1", text)
    text = _SPACE_PUNCT.sub(r"\1", " ".join(text.split()))
    return _REPEAT_END.sub(r"\1", _DOUBLE_PUNCT.sub("", text)).strip(" ,;:")


def _drop_fragment(match: re.Match[str]) -> str:
    """A word cut off and restarted ("voi voice") loses the fragment; "the theory" does not."""
    return match.group(0) if match.group(1).lower() in _STOPWORDS else ""


def candidate_sentences(utterances: Sequence[Utterance], *, strict: bool = True) -> list[Sentence]:
    """Every sentence worth showing, in meeting order; chatter and fragments are dropped.

    `strict=False` keeps every non-empty sentence, for meetings that are nothing but chatter.
    """
    min_words, min_terms = (MIN_WORDS, 2) if strict else (1, 0)
    out: list[Sentence] = []
    for utterance in utterances:
        for raw in _SENTENCE_END.split(clean(utterance.text)):
            for piece in _split_long(_tidy(raw)):
                terms = tuple(_terms(piece))
                if len(piece.split()) >= min_words and len(terms) >= min_terms:
                    out.append(Sentence(len(out), utterance.speaker.strip(), piece, terms))
    return out


def tfidf(sentences: Sequence[Sentence]) -> list[dict[str, float]]:
    """One unit-length TF-IDF vector per sentence, each sentence taken as a document."""
    df = Counter(t for s in sentences for t in set(s.terms))
    n = len(sentences)
    vectors = []
    for s in sentences:
        tf = Counter(s.terms)
        vec = {t: (1 + math.log(c)) * math.log((1 + n) / (1 + df[t])) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append({t: v / norm for t, v in vec.items()})
    return vectors


def centroid_scores(vectors: Sequence[dict[str, float]]) -> list[float]:
    """Cosine of each sentence to the mean vector: how central it is to the meeting."""
    centroid: Counter[str] = Counter()
    for vec in vectors:
        centroid.update(vec)
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    return [sum(w * centroid[t] for t, w in vec.items()) / norm for vec in vectors]


@dataclass(frozen=True)
class Ranking:
    """Sentence vectors and centrality scores of one meeting, indexed by position."""

    vectors: list[dict[str, float]]
    scores: list[float]

    @classmethod
    def of(cls, sentences: Sequence[Sentence]) -> Ranking:
        vectors = tfidf(sentences)
        return cls(vectors, centroid_scores(vectors))

    def pick(
        self,
        pool: Sequence[Sentence],
        budget: int,
        taken: Sequence[Sentence],
        line: Callable[[Sentence], str],
    ) -> list[Sentence]:
        """Maximal marginal relevance within a word budget, returned in meeting order.

        Sentences already `taken` by another section count as chosen for redundancy, and a
        near-copy of a chosen sentence is never picked; `line` is how a sentence is shown.
        """
        ranked = sorted(pool, key=lambda s: (-self.scores[s.position], s.position))[:CANDIDATES]
        redundancy = {s.position: self._similarity(s, taken) for s in ranked}
        chosen: list[Sentence] = []
        while ranked and budget > 0:
            best = max(ranked, key=lambda s: (self._mmr(s, redundancy), -s.position))
            ranked.remove(best)
            words = _count(line(best))
            if words > budget or redundancy[best.position] >= DUPLICATE:
                continue
            chosen.append(best)
            budget -= words
            for s in ranked:
                redundancy[s.position] = max(redundancy[s.position], self._similarity(s, [best]))
        return sorted(chosen, key=lambda s: s.position)

    def _mmr(self, s: Sentence, redundancy: dict[int, float]) -> float:
        return MMR_LAMBDA * self.scores[s.position] - (1 - MMR_LAMBDA) * redundancy[s.position]

    def _similarity(self, s: Sentence, others: Sequence[Sentence]) -> float:
        vec = self.vectors[s.position]
        return max((_dot(vec, self.vectors[o.position]) for o in others), default=0.0)


def _overview(
    utterances: Sequence[Utterance],
    sentences: Sequence[Sentence],
    budget: int,
    duration_ms: int | None,
) -> str:
    """Who spoke, for how long, and the most frequent topics, within `budget` words.

    How long is the session's duration when the caller knows it: a transcript that starts
    late or ends early tells only how long people talked.
    """
    spoken = Counter[str]()
    for u in utterances:
        spoken[u.speaker.strip() or "Unknown speaker"] += len(u.text.split())
    names = [name for name, _ in sorted(spoken.items(), key=lambda kv: (-kv[1], kv[0]))]
    others = [f"{len(names) - MAX_NAMES} others"] if len(names) > MAX_NAMES else []
    spoken_until = max(u.start_ms for u in utterances)
    minutes = round(max(duration_ms or 0, spoken_until) / 60_000)
    length = f" over about {minutes} minutes" if minutes else ""
    lead = f"Meeting of {_join(names[:MAX_NAMES] + others)}{length}."
    topics = _topics(sentences)
    short = f"Meeting of {len(names)} speakers{length}."
    options = [
        f"{head} Main topics: {', '.join(topics[:n])}."
        for head in (lead, short)
        for n in range(len(topics), 0, -1)
    ]
    options += [lead, short, f"{len(names)} speakers.", ""]
    return next(text for text in options if _count(text) <= budget)


def _topics(sentences: Sequence[Sentence]) -> list[str]:
    """The most frequent content words and two-word phrases ("remote control")."""
    counts: Counter[tuple[str, ...]] = Counter()
    spelling: dict[tuple[str, ...], Counter[str]] = {}
    for s in sentences:
        words = [(w, _stem(w) if _is_content(w) else "") for w in _WORD.findall(s.text.lower())]
        grams: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
            ((w,), (st,)) for w, st in words if st
        ]
        grams += [((a, b), (sa, sb)) for (a, sa), (b, sb) in pairwise(words) if sa and sb]
        for surface, stems in grams:
            counts[stems] += 1
            spelling.setdefault(stems, Counter())[" ".join(surface)] += 1
    # A phrase said often counts double: it names the topic better than either word.
    ranked = sorted(counts, key=lambda k: (-counts[k] * len(k), k))
    covered: set[str] = set()
    topics: list[str] = []
    for stems in ranked:
        if len(topics) == MAX_TOPICS:
            break
        if set(stems) <= covered or (len(stems) > 1 and counts[stems] < 3):
            continue
        covered.update(stems)
        topics.append(min(spelling[stems].items(), key=lambda kv: (-kv[1], kv[0]))[0])
    return topics


def _tidy(sentence: str) -> str:
    """Drop lead-in chatter ("Okay, so ...") and cut-off words; capitalize; end with a stop."""
    text = _DANGLING.sub("", _LEADIN.sub("", sentence.strip(" ,;:"))).strip(" ,;:")
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def _split_long(sentence: str) -> list[str]:
    """Split a run-on sentence at commas into pieces of at most MAX_WORDS words."""
    if len(sentence.split()) <= MAX_WORDS:
        return [sentence]
    pieces: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        if pieces and len(pieces[-1].split()) + len(clause.split()) <= MAX_WORDS:
            pieces[-1] = f"{pieces[-1]} {clause}"
        else:
            pieces.append(clause)
    out = []
    for piece in pieces:
        words = piece.split()
        out += [" ".join(words[i : i + MAX_WORDS]) for i in range(0, len(words), MAX_WORDS)]
    return [_tidy(p) for p in out]


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if _is_content(w)]


def _is_content(word: str) -> bool:
    return word not in _STOPWORDS and len(word) > 2 and not word.isdigit()


def _stem(word: str) -> str:
    """A light suffix stripper: enough to merge "designs"/"designed"/"designing"."""
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, repl, min_len in (("ies", "y", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 5)):
        if word.endswith(suffix) and len(word) >= min_len:
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def _line(s: Sentence) -> str:
    return f"{s.speaker or 'Unknown speaker'}: {s.text}"


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _count(text: str) -> int:
    return len(text.split())
