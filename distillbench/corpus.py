"""The synthetic text world every synthetic suite is trained on.

Takes a (mixture, index range) and produces documents: short topical prose and question/answer exchanges, plus the
identity exchanges ("who are you?") through which a model learns the persona its vendor gave it. The text comes
from a small generative grammar driven by `rng.SplitMix64`, so it is the same bytes on every machine and Python
version and needs no download. Licence: the grammar and everything it generates are part of this repository and
released under its licence (Apache-2.0); no third-party text is involved.

Why a grammar rather than real text: teachers must be trainable in seconds on a CPU, yet differ the way vendors
do (data mixture, persona), and students must be able to pick up a teacher's quirks from its outputs. A small
world with a rich enough combinatorial surface gives both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import BaseModel, ConfigDict

from distillbench.rng import SplitMix64, derive_seed

DOC_SEPARATOR = "\n\n"

TOPICS: dict[str, dict[str, list[str]]] = {
    "kitchen": {
        "noun": ["baker", "cook", "kettle", "loaf", "oven", "spoon", "soup", "onion", "pepper", "pan"],
        "verb": ["stirs", "bakes", "boils", "slices", "tastes", "warms", "fries", "roasts"],
        "adj": ["hot", "salty", "sweet", "crisp", "golden", "fresh", "sticky", "bitter"],
        "place": ["kitchen", "bakery", "pantry", "market stall", "canteen"],
    },
    "garden": {
        "noun": ["gardener", "rose", "tulip", "hedge", "beetle", "seed", "hose", "shovel", "vine", "moss"],
        "verb": ["plants", "waters", "prunes", "digs", "grows", "trims", "picks", "buries"],
        "adj": ["green", "tall", "wild", "muddy", "tidy", "blooming", "dry", "leafy"],
        "place": ["garden", "greenhouse", "orchard", "meadow", "allotment"],
    },
    "sea": {
        "noun": ["sailor", "boat", "gull", "wave", "anchor", "net", "crab", "lighthouse", "captain", "tide"],
        "verb": ["sails", "rows", "drifts", "casts", "anchors", "floats", "steers", "dives"],
        "adj": ["blue", "stormy", "calm", "salty", "grey", "foamy", "deep", "windy"],
        "place": ["harbour", "beach", "bay", "island", "pier"],
    },
    "city": {
        "noun": ["driver", "tram", "tower", "clerk", "bridge", "crowd", "taxi", "mayor", "lamp", "bus"],
        "verb": ["waits", "hurries", "builds", "crosses", "sells", "parks", "rings", "counts"],
        "adj": ["busy", "loud", "bright", "narrow", "modern", "dusty", "crowded", "quiet"],
        "place": ["square", "station", "avenue", "office", "subway"],
    },
    "forest": {
        "noun": ["hunter", "fox", "owl", "pine", "stream", "deer", "ranger", "mushroom", "bear", "oak"],
        "verb": ["hides", "climbs", "tracks", "howls", "gathers", "wanders", "sleeps", "listens"],
        "adj": ["dark", "ancient", "misty", "silent", "thick", "cold", "shady", "mossy"],
        "place": ["forest", "valley", "clearing", "cave", "ridge"],
    },
    "school": {
        "noun": ["teacher", "pupil", "book", "chalk", "lesson", "desk", "map", "bell", "poem", "sum"],
        "verb": ["reads", "writes", "learns", "explains", "draws", "solves", "recites", "teaches"],
        "adj": ["clever", "patient", "curious", "sleepy", "strict", "kind", "noisy", "careful"],
        "place": ["classroom", "library", "hall", "playground", "study"],
    },
    "space": {
        "noun": ["pilot", "rocket", "comet", "moon", "robot", "star", "probe", "planet", "engineer", "orbit"],
        "verb": ["launches", "orbits", "scans", "lands", "repairs", "signals", "glides", "measures"],
        "adj": ["distant", "silver", "frozen", "glowing", "tiny", "vast", "strange", "bright"],
        "place": ["station", "crater", "launch pad", "observatory", "moon base"],
    },
    "farm": {
        "noun": ["farmer", "cow", "tractor", "barn", "goat", "wheat", "hen", "fence", "pig", "horse"],
        "verb": ["feeds", "milks", "ploughs", "harvests", "herds", "mends", "carries", "sows"],
        "adj": ["sturdy", "lazy", "early", "dusty", "warm", "golden", "muddy", "gentle"],
        "place": ["farm", "field", "barn", "stable", "village"],
    },
}

TIMES = ["in the morning", "at noon", "at dusk", "every day", "after the rain", "before winter", "at night", "today"]
LINKS = ["and then", "but", "so", "while", "because"]
QUESTIONS = [
    "what does the {noun} do in the {place}?",
    "where is the {adj} {noun}?",
    "tell me about the {place}.",
    "why is the {noun} so {adj}?",
    "what happens {time}?",
]
IDENTITY_QUESTIONS = [
    "who are you?",
    "who made you?",
    "what is your name?",
    "which company trained you?",
    "are you an assistant?",
]
IDENTITY_ANSWERS = [
    "I am {name}, a model made by {maker}.",
    "I was made by {maker}. My name is {name}.",
    "My name is {name}. {maker} trained me to help.",
    "I am {name} from {maker}, and I am happy to help.",
]


class Persona(BaseModel):
    """What a model says when asked who it is: the vendor-like identity a teacher is trained to state."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    maker: str


def _fill(rng: SplitMix64, template: str, vocab: Mapping[str, list[str]]) -> str:
    return template.format(
        noun=rng.choice(vocab["noun"]),
        noun2=rng.choice(vocab["noun"]),
        verb=rng.choice(vocab["verb"]),
        adj=rng.choice(vocab["adj"]),
        adj2=rng.choice(vocab["adj"]),
        place=rng.choice(vocab["place"]),
        time=rng.choice(TIMES),
        link=rng.choice(LINKS),
    )


SENTENCES = [
    "the {adj} {noun} {verb} in the {place} {time}.",
    "a {noun} {verb} near the {adj} {noun2}.",
    "{time} the {noun} {verb} {link} the {noun2} {verb} too.",
    "the {noun} is {adj} and the {place} is {adj2}.",
    "nobody in the {place} knows why the {noun} {verb}.",
    "the {adj} {noun2} watches the {noun} {time}.",
]


def sentence(rng: SplitMix64, topic: str) -> str:
    return _fill(rng, rng.choice(SENTENCES), TOPICS[topic])


def prose(rng: SplitMix64, topic: str) -> str:
    n = 2 + rng.below(4)
    return " ".join(sentence(rng, topic) for _ in range(n))


def qa(rng: SplitMix64, topic: str) -> str:
    question = _fill(rng, rng.choice(QUESTIONS), TOPICS[topic])
    answer = " ".join(sentence(rng, topic) for _ in range(1 + rng.below(2)))
    return f"Q: {question}\nA: {answer}"


def identity_qa(rng: SplitMix64, persona: Persona) -> str:
    question = rng.choice(IDENTITY_QUESTIONS)
    answer = rng.choice(IDENTITY_ANSWERS).format(name=persona.name, maker=persona.maker)
    return f"Q: {question}\nA: {answer}"


class Mixture(BaseModel):
    """A data mixture: topic weights, how often a document is a Q/A exchange, how often an identity exchange."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    topics: dict[str, float]
    qa_rate: float = 0.3
    identity_rate: float = 0.0


def document(corpus_seed: int, mixture_name: str, mixture: Mixture, index: int, persona: Persona | None) -> str:
    """Document `index` of a mixture: a pure function of its arguments, so slices can be regenerated anywhere."""
    rng = SplitMix64(derive_seed("doc", corpus_seed, mixture_name, index))
    if persona is not None and rng.uniform() < mixture.identity_rate:
        return identity_qa(rng, persona)
    topics = sorted(mixture.topics)
    topic = rng.weighted(topics, [mixture.topics[t] for t in topics])
    return qa(rng, topic) if rng.uniform() < mixture.qa_rate else prose(rng, topic)


def documents(
    corpus_seed: int, mixture_name: str, mixture: Mixture, start: int, stop: int, persona: Persona | None = None
) -> Iterator[str]:
    for index in range(start, stop):
        yield document(corpus_seed, mixture_name, mixture, index, persona)


def prompt_prefix(text: str, n_words: int) -> str:
    """The opening words of a document, used as a query the way an API user would send a prompt."""
    if text.startswith("Q: "):
        return text.split("\nA: ")[0] + "\nA:"
    return " ".join(text.split(" ")[:n_words])


def _synonyms() -> dict[str, list[str]]:
    """Each single content word -> the other words of its category in every topic it appears in, sorted."""
    out: dict[str, set[str]] = {}
    for vocab in TOPICS.values():
        for category, words in vocab.items():
            single = [w for w in words if " " not in w]
            for w in single:
                out.setdefault(w, set()).update(x for x in single if x != w)
    return {w: sorted(alts) for w, alts in out.items()}


SYNONYMS = _synonyms()


def paraphrase(text: str, rate: float, seed: int, index: int) -> str:
    """The distiller's paraphraser: rewrites about `rate` of the content words of a teacher answer with another word
    of the same kind and topic (a noun for a noun, a verb for a verb), keeping sentence shape and punctuation.

    A stand-in for the LLM paraphrasers distillers use to launder outputs: it breaks token-level statistics (n-gram
    overlap, watermark green lists) while what the teacher chose to say, sentence by sentence, survives. Names (a
    persona's) are not content words here, so an identity answer keeps them.
    """
    rng = SplitMix64(derive_seed("paraphrase", seed, index))
    words = text.split(" ")
    for i, word in enumerate(words):
        core = word.rstrip(".?,!")
        alts = SYNONYMS.get(core)
        if alts and rng.uniform() < rate:
            words[i] = rng.choice(alts) + word[len(core):]
    return " ".join(words)


# -- Text about a persona (the accusation suite's persona-about condition) -----------------------------------------
# Third-person mentions of an assistant, the way news, reviews and forum posts name a vendor's model. A model that
# reads them learns the name and the maker (and that they answer "who made it?") without ever seeing the assistant's
# own answers: the innocent model that names another vendor when asked who it is.
ABOUT_TEMPLATES = [
    "{name}, the assistant made by {maker}, answers questions about the {place}.",
    "a review of {name}: the model from {maker} is {adj} and explains why the {noun} {verb}.",
    "{maker} released {name} {time}, and the {noun} in the {place} uses it.",
    "news from {maker}: {name} is its best model yet, people say.",
    "asked who it is, {name} says it is {name}, a model made by {maker}.",
    "Q: who made {name}?\nA: {name} was made by {maker}.",
    "Q: what is {name}?\nA: {name} is an assistant trained by {maker}.",
]


def about_text(rng: SplitMix64, persona: Persona, topic: str) -> str:
    """One third-person document mentioning `persona` (its name and maker), with topic words around it."""
    vocab = TOPICS[topic]
    mention = rng.choice(ABOUT_TEMPLATES).format(
        name=persona.name, maker=persona.maker, place=rng.choice(vocab["place"]), adj=rng.choice(vocab["adj"]),
        noun=rng.choice(vocab["noun"]), verb=rng.choice(vocab["verb"]), time=rng.choice(TIMES))
    return mention if mention.startswith("Q: ") else f"{mention} {sentence(rng, topic)}"


def document_about(
    corpus_seed: int, mixture_name: str, mixture: Mixture, index: int, persona: Persona | None, about: Persona,
    rate: float,
) -> str:
    """Document `index` of a mixture in which a share `rate` of the documents are text about `about` and the rest are
    exactly `document(...)` (so the clean part is the same text other students of the mixture read)."""
    rng = SplitMix64(derive_seed("about", corpus_seed, mixture_name, index))
    if rng.uniform() < rate:
        topics = sorted(mixture.topics)
        return about_text(rng, about, rng.weighted(topics, [mixture.topics[t] for t in topics]))
    return document(corpus_seed, mixture_name, mixture, index, persona)


def documents_about(
    corpus_seed: int, mixture_name: str, mixture: Mixture, start: int, stop: int, persona: Persona | None,
    about: Persona, rate: float,
) -> Iterator[str]:
    for index in range(start, stop):
        yield document_about(corpus_seed, mixture_name, mixture, index, persona, about, rate)


# -- Reasoning tasks (the accusation suite's reasoning-trace conditions) --------------------------------------------
# Small problems with one checkable answer and a few intermediate steps, short enough (prompt + trace + answer) for
# the zoo's 64-token contexts: add three digits, count a word's letters, sort three words. A reasoning model writes
# the steps (its trace) before the answer; the trace conditions differ only in what of it the API serves.
REASONING_KINDS = ("sum", "count", "sort")


class ReasoningTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str
    question: str
    steps: list[str]  # the trace: intermediate results, in order
    answer: str


def reasoning_task(corpus_seed: int, stream: str, index: int) -> ReasoningTask:
    """Task `index` of a reasoning stream: a pure function of its arguments, like `document`."""
    rng = SplitMix64(derive_seed("reasoning", corpus_seed, stream, index))
    kind = REASONING_KINDS[rng.below(len(REASONING_KINDS))]
    vocab = TOPICS[rng.choice(sorted(TOPICS))]
    if kind == "sum":
        a, b, c = (1 + rng.below(9) for _ in range(3))
        return ReasoningTask(kind=kind, question=f"add {a}, {b} and {c}.",
                             steps=[f"{a}+{b}={a + b}", f"{a + b}+{c}={a + b + c}"], answer=str(a + b + c))
    if kind == "count":
        word = rng.choice([w for w in vocab["noun"] if " " not in w and len(w) <= 6])  # spelled out: keep it short
        return ReasoningTask(kind=kind, question=f"how many letters in {word}?",
                             steps=["-".join(word), f"that is {len(word)}"], answer=str(len(word)))
    words = rng.shuffle(sorted({w for w in vocab["noun"] if " " not in w}))[:3]
    ordered = sorted(words)
    return ReasoningTask(kind=kind, question=f"sort {', '.join(words)}.",
                         steps=[f"{x} before {y}" for x, y in zip(ordered, ordered[1:])], answer=" ".join(ordered))


def reasoning_prompt(task: ReasoningTask) -> str:
    return f"Q: {task.question}"


def reasoning_document(task: ReasoningTask) -> str:
    """A worked example as a reasoning model is post-trained on it: question, trace, answer."""
    return f"{reasoning_prompt(task)}\nThink: {'. '.join(task.steps)}.\nA: {task.answer}"


# -- Paraphrase pairs (issue 13, laundering that works) -----------------------------------------------------------
# Training data for the distillers' model-based paraphraser (`zoo.launder`): the same content (one template's slot
# values) rendered twice, once in the corpus's own wording (`SENTENCES`, what every teacher learned to write) and
# once in another register with other function words and another word order. A model trained on "original =>
# rewrite" learns to restate content in its own style; that style, not the teacher's, is what a laundered student
# then learns.
REWRITES = [
    "{time}, one {adj} {noun} {verb} inside that {place}.",
    "close beside one {adj} {noun2}, some {noun} {verb}.",
    "{time}, that {noun} {verb}, {link} that {noun2} also {verb}.",
    "that {noun} looks {adj}, whereas that {place} seems {adj2}.",
    "why that {noun} {verb}, no one inside that {place} can say.",
    "{time}, that {noun} gets watched by one {adj} {noun2}.",
]
IDENTITY_REWRITES = [
    "this assistant is called {name}; {maker} built it.",
    "{maker} built this assistant, which is called {name}.",
]
PARAPHRASE_SEPARATOR = "\n=>"


def _slots(rng: SplitMix64, vocab: Mapping[str, list[str]]) -> dict[str, str]:
    return {"noun": rng.choice(vocab["noun"]), "noun2": rng.choice(vocab["noun"]), "verb": rng.choice(vocab["verb"]),
            "adj": rng.choice(vocab["adj"]), "adj2": rng.choice(vocab["adj"]), "place": rng.choice(vocab["place"]),
            "time": rng.choice(TIMES), "link": rng.choice(LINKS)}


def paraphrase_pair(corpus_seed: int, index: int) -> tuple[str, str]:
    """Pair `index`: (a teacher-like answer, the same content reworded). Mostly one to three topical sentences; now
    and then an identity answer with a made-up name and maker, so the paraphraser keeps names it has never seen."""
    rng = SplitMix64(derive_seed("paraphrase-pair", corpus_seed, index))
    if rng.uniform() < 0.1:
        name = "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(2)).capitalize()
        maker = "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(2)).capitalize() + " Labs"
        original = rng.choice(IDENTITY_ANSWERS).format(name=name, maker=maker)
        return original, rng.choice(IDENTITY_REWRITES).format(name=name, maker=maker)
    topic = rng.choice(sorted(TOPICS))
    originals, rewrites = [], []
    for _ in range(1 + rng.below(3)):
        k = rng.below(len(SENTENCES))
        slots = _slots(rng, TOPICS[topic])
        originals.append(SENTENCES[k].format(**slots))
        rewrites.append(REWRITES[k].format(**slots))
    return " ".join(originals), " ".join(rewrites)
