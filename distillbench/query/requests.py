"""What a detector may ask the models of its pair, what it gets back, and what its track allows.

Every request names one model of the pair by the id the detector was shown: `"teacher"`, `"student"`, or a
reference's masked `model_id` (`PairEvidence.references[i].model_id`). Answers carry only text and numbers: no model
name, path, fingerprint or label; refusals are in words about the request, and the harness pads cache hits on other
pairs' entries (`harness`), so the channel neither names models nor remembers pairs.

Request types (the same on every suite; the tracks add to each other, as in `evidence.view.AccessLevel`):

| request | black-box | gray-box | white-box | teacher-side |
| --- | --- | --- | --- | --- |
| `generate` (sampled text: prompts, max_new_tokens, temperature, n, seed) | every model | every model | every model | every model |
| `score` (log-likelihood of texts: sum and per token) and `top_k` (next-token log-probs) | - | student, references; the teacher only where its API serves log-probs | same | + the teacher |
| `hidden` (mean hidden state of chosen layers on chosen texts) | - | - | student, references | + the teacher |
| `weights` (the student's parameters by name) | - | - | student | + the teacher |

The teacher is an API on every track: whether it serves token log-probabilities is a property of the suite's
teacher API (`zoo.manifest.TeacherApi`, recorded in the manifest), not of the detector. On the teacher-side track the detector is the teacher's owner, who
may also score texts with, and read, its own model.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from distillbench.evidence.view import AccessLevel
from distillbench.zoo.manifest import TeacherApi

MAX_ITEMS = 256  # prompts, texts or contexts in one request: a bigger batch is split by the client
MAX_TEXT_CHARS = 4000
MAX_NEW_TOKENS = 256
MAX_SAMPLES = 64
MAX_TOP_K = 20
MAX_LAYERS = 16
MAX_WEIGHT_VALUES = 4_000_000  # parameters one `weights` request may return (the largest zoo model has ~1.1M)

_Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generate(_Strict):
    kind: Literal["generate"] = "generate"
    model: str
    prompts: list[_Text] = Field(min_length=1, max_length=MAX_ITEMS)
    max_new_tokens: int = Field(32, ge=1, le=MAX_NEW_TOKENS)
    temperature: float = Field(1.0, ge=0.0, le=2.0, allow_inf_nan=False)  # 0: greedy
    n: int = Field(1, ge=1, le=MAX_SAMPLES)  # samples per prompt
    seed: int = Field(0, ge=0, lt=2**63)

    @property
    def queries(self) -> int:
        return len(self.prompts) * self.n


class TextPair(_Strict):
    context: _Text
    continuation: _Text = Field(min_length=1)


class Score(_Strict):
    kind: Literal["score"] = "score"
    model: str
    texts: list[TextPair] = Field(min_length=1, max_length=MAX_ITEMS)

    @property
    def queries(self) -> int:
        return len(self.texts)


class TopK(_Strict):
    kind: Literal["top_k"] = "top_k"
    model: str
    contexts: list[_Text] = Field(min_length=1, max_length=MAX_ITEMS)
    k: int = Field(5, ge=1, le=MAX_TOP_K)

    @property
    def queries(self) -> int:
        return len(self.contexts)


class Hidden(_Strict):
    kind: Literal["hidden"] = "hidden"
    model: str
    texts: list[_Text] = Field(min_length=1, max_length=MAX_ITEMS)
    layers: list[int] = Field([-1], min_length=1, max_length=MAX_LAYERS)  # indices into hidden_states; 0: embeddings

    @property
    def queries(self) -> int:
        return len(self.texts)


class Weights(_Strict):
    kind: Literal["weights"] = "weights"
    model: str = "student"
    names: list[str] | None = Field(None, max_length=1024)  # None: only the parameter names and shapes

    @property
    def queries(self) -> int:
        return 1


Request = Annotated[Union[Generate, Score, TopK, Hidden, Weights], Field(discriminator="kind")]
REQUEST = TypeAdapter(Request)


class GenerateAnswer(_Strict):
    kind: Literal["generate"] = "generate"
    texts: list[list[str]]  # per prompt, its n samples
    generated_tokens: int


class ScoreAnswer(_Strict):
    kind: Literal["score"] = "score"
    sums: list[float]
    per_token: list[list[float]]  # log-prob of each continuation token given everything before it
    scored_tokens: int


class TopKAnswer(_Strict):
    kind: Literal["top_k"] = "top_k"
    tokens: list[list[str]]  # per context, the k most likely next tokens (decoded), most likely first
    logprobs: list[list[float]]
    scored_tokens: int


class HiddenAnswer(_Strict):
    kind: Literal["hidden"] = "hidden"
    vectors: list[list[list[float]]]  # per text, per requested layer: the mean over the text's tokens
    scored_tokens: int


class WeightsAnswer(_Strict):
    kind: Literal["weights"] = "weights"
    shapes: dict[str, list[int]]
    values: dict[str, list[float]]  # flattened, row-major


Answer = Annotated[Union[GenerateAnswer, ScoreAnswer, TopKAnswer, HiddenAnswer, WeightsAnswer],
                   Field(discriminator="kind")]
ANSWER = TypeAdapter(Answer)

_MIN_ACCESS = {"generate": AccessLevel.BLACK_BOX, "score": AccessLevel.GRAY_BOX, "top_k": AccessLevel.GRAY_BOX,
               "hidden": AccessLevel.WHITE_BOX, "weights": AccessLevel.WHITE_BOX}


def refusal(kind: str, role: str, access: AccessLevel, api: TeacherApi) -> str | None:
    """Why the `access` track may not send a `kind` request to a model of `role` (teacher, student, reference), or
    None when it may."""
    need = _MIN_ACCESS[kind]
    if access.rank < need.rank:
        return f"a {kind!r} request needs the {need.value} track or above; this detector is {access.value}"
    owner = access is AccessLevel.TEACHER_SIDE
    if role == "teacher" and not owner:
        if kind in ("score", "top_k") and not api.logprobs:
            return ("the teacher is an API that serves no token log-probabilities on this suite; only `generate` "
                    "reaches it below the teacher-side track")
        if kind in ("hidden", "weights"):
            return (f"the teacher is an API on the {access.value} track: its {'hidden states' if kind == 'hidden' else 'weights'} "
                    "are not available (only its owner, on the teacher-side track, has them)")
    if kind == "weights" and role == "reference":
        return "`weights` reads the student's parameters (and, on the teacher-side track, the teacher's), not a reference's"
    return None
