"""Chat-format teachers: the text template a chat teacher is post-trained on and its API wraps every request in.

Takes the zoo's plain prompts (a question "Q: ...\\nA:", a document's opening words, a reasoning question) and
produces chat transcripts: a system line, user turns, assistant turns. The zoo's models are tiny LMs with small BPE
vocabularies, so a chat template here is a text format, not special tokens; what matters for detection is what the
real case has: the teacher only ever answers inside its template, distillers harvest (multi-turn) transcripts, and
the probes and the text pool ask every model in the same template (`probe.prompts.suite_probe_prompts`).

A teacher is a chat teacher when one of its stages is a `chat_lm` stage (`zoo.spec.ChatLMStage`), which carries the
template; the suite's template is its chat teachers' one (`suite_template`), so suites without chat stages (standard,
dev-small, mini) have none and nothing of this module touches them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ChatTemplate(BaseModel):
    """System / user / assistant turns as text, one per line:

        System: be brief.
        User: what does the cook do in the kitchen?
        Assistant: the cook stirs the soup.

    The assistant turn of a request is left open ("Assistant:") for the model to complete."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    system: str = "be brief."
    system_prefix: str = "System: "
    user_prefix: str = "User: "
    assistant_prefix: str = "Assistant:"

    def render(self, prompt: str, history: tuple[tuple[str, str], ...] = ()) -> str:
        """A request: the system line, earlier (prompt, answer) turns, then `prompt` as the open user turn. A prompt
        already in the template (a multi-turn request built by the caller) passes through unchanged, so wrapping is
        idempotent."""
        if prompt.startswith(self.system_prefix):
            return prompt
        lines = [f"{self.system_prefix}{self.system}"]
        for p, a in history:
            lines.append(f"{self.user_prefix}{user_message(p)}\n{self.assistant_prefix}{assistant_message(a)}")
        lines.append(f"{self.user_prefix}{user_message(prompt)}\n{self.assistant_prefix}")
        return "\n".join(lines)

    def transcript(self, prompt: str, answer: str, history: tuple[tuple[str, str], ...] = ()) -> str:
        """A whole exchange: the request and the assistant's answer (what post-training and distillers train on)."""
        return self.render(prompt, history) + assistant_message(answer)


def user_message(prompt: str) -> str:
    """The user's words in a plain prompt: a question without its "Q: " / "\\nA:" frame, else the prompt itself."""
    if prompt.startswith("Q: "):
        prompt = prompt[3:]
    if prompt.endswith("\nA:"):
        prompt = prompt[:-3]
    return prompt.strip()


def assistant_message(answer: str) -> str:
    """An answer as it follows "Assistant:": one leading space, whatever the plain format put there (a space after
    "A:", a newline before a reasoning trace)."""
    return " " + answer.lstrip(" \n")


def chat_documents(docs: list[str], template: ChatTemplate, split) -> list[str]:  # noqa: ANN001 (doc -> (prompt, rest))
    """Plain documents as single-turn transcripts: a document's prompt (`split`) becomes the user turn, the rest the
    assistant turn. Post-training on these teaches a model the template on its own data."""
    return [template.transcript(*split(d)) for d in docs]


def suite_template(spec) -> ChatTemplate | None:  # noqa: ANN001 (zoo.spec.SuiteSpec; spec imports this module)
    """The template a suite's teacher API, pool and probes use: its chat teachers' (they must agree), or None."""
    found = {t for m in spec.by_role("teacher") if (t := model_template(m)) is not None}
    if len(found) > 1:
        from distillbench.errors import DistillBenchError

        raise DistillBenchError(f"suite {spec.name}: chat teachers use {len(found)} different templates; a suite's "
                                "probes and pool ask in one")
    return next(iter(found), None)


def model_template(model) -> ChatTemplate | None:  # noqa: ANN001 (zoo.spec.ModelSpec)
    """The template a model was post-trained on (its last `chat_lm` stage), None for a plain model."""
    found = [s.template for s in model.stages if getattr(s, "kind", None) == "chat_lm"]
    return found[-1] if found else None


def manifest_template(manifest) -> ChatTemplate | None:  # noqa: ANN001 (zoo.manifest.Manifest)
    """The template a built suite's teacher API wraps requests in, read from its teachers' recorded stages (the
    manifest keeps every stage as provenance): what the query harness serves a detector's requests to a teacher
    in, as the probes were. None for a suite without chat teachers."""
    found = {ChatTemplate.model_validate(p["template"]) for m in manifest.models if m.role == "teacher"
             for p in m.provenance if p.get("kind") == "chat_lm"}
    return next(iter(found)) if len(found) == 1 else None


# How much of an earlier answer a distiller quotes back in the conversation: the zoo's contexts are 64 tokens.
QUOTE_WORDS = 8


def quote(answer: str) -> str:
    """An earlier answer as the distiller keeps it in the conversation: its first line, at most QUOTE_WORDS words."""
    return " ".join(answer.strip().split("\n")[0].split(" ")[:QUOTE_WORDS])


def fit(request: str, tokenizer, max_tokens: int, template: ChatTemplate = ChatTemplate()) -> str:  # noqa: ANN001, B008
    """A request the model can read: the oldest earlier turns dropped (the system line stays) until it is at most
    `max_tokens` tokens, as chat APIs drop the start of a conversation that outgrows the context."""
    turn = "\n" + template.user_prefix
    while len(tokenizer(request)["input_ids"]) > max_tokens and request.count(turn) > 1:
        head, rest = request.split(turn, 1)
        request = head + turn + rest.split(turn, 1)[1]
    return request


# Where a conversation's later turns take their prompts: the same stream, this far on, so a follow-up question is as
# fixed a function of the conversation's index as its first one.
FOLLOW_UP_OFFSET = 1_000_000


def conversations(api, stream: str, prompt_at, start: int, stop: int, turns: int,  # noqa: ANN001 (zoo.api.TeacherAPI)
                  template: ChatTemplate) -> list[tuple[str, str]]:
    """Multi-turn transcripts a distiller harvests from a chat teacher's API, as (request, last answer) pairs: for
    conversation i, turn k asks prompt i + k * FOLLOW_UP_OFFSET of the stream with the conversation so far in the
    request. Turn 1 is the plain request, so its answer is the one every single-turn distiller of the stream got;
    each later turn is its own API stream. The request is already in the template (`ChatTemplate.render` passes it
    through), so `template.transcript(request, answer)` is the whole conversation the distiller sent (the API may have
    dropped its oldest turns to fit the model's context, `fit`)."""
    from distillbench.fingerprint import sha256_json
    from distillbench.zoo.api import CHUNK

    # A later turn's answers depend on how the conversation is laid out: its stream (the API cache's key) says so.
    layout = sha256_json({"template": template.model_dump(), "quote": QUOTE_WORDS, "offset": FOLLOW_UP_OFFSET})[:12]
    # The API samples whole chunks: the history of every prompt in the chunks touched must be at hand.
    lo, hi = start // CHUNK * CHUNK, -(-stop // CHUNK) * CHUNK
    history: dict[int, tuple[tuple[str, str], ...]] = {i: () for i in range(lo, hi)}
    for k in range(turns):
        turn_prompt = lambda i, k=k: prompt_at(i + k * FOLLOW_UP_OFFSET)  # noqa: E731
        request = {i: template.render(turn_prompt(i), history[i]) for i in range(lo, hi)}
        got = api.answers(stream if k == 0 else f"{stream}|turn-{k + 1}|{layout}", lambda i: request[i], lo, hi)
        if k < turns - 1:
            history = {i: history[i] + ((turn_prompt(i), quote(a)),) for i, a in zip(range(lo, hi), got)}
    return [(request[i], got[i - lo]) for i in range(start, stop)]


VOCABULARY_TEXTS = 300


def suite_vocabulary(spec) -> list[str]:  # noqa: ANN001 (zoo.spec.SuiteSpec)
    """Texts a suite's tokenizers also learn from when its vendors speak a template or reason: a few hundred
    transcripts and worked examples (streams no model trains on), so "Assistant:" or "18+4=22" cost a vendor's
    vocabulary a few tokens, not one per character. Empty for every other suite (their tokenizers are unchanged)."""
    from distillbench.corpus import reasoning_document, reasoning_task
    from distillbench.zoo.reasoning import suite_reasons

    reasons = suite_reasons(spec)
    worked = [reasoning_document(reasoning_task(spec.corpus_seed, "vocabulary", i))
              for i in range(VOCABULARY_TEXTS if reasons else 0)]
    template = suite_template(spec)
    if template is None:
        return worked
    from distillbench.corpus import IDENTITY_QUESTIONS

    chats = [template.transcript(f"Q: {q}\nA:", " I am here to help.") for q in IDENTITY_QUESTIONS]
    chats += [template.transcript(*d.split("\n", 1)) for d in worked]
    return worked + chats
