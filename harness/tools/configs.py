"""The typed configuration of each adapter kind: the `adapter:` block of a tool.yaml, one pydantic model per
kind. An adapter is built from its own config (plus the few facts about the tool in `ToolSite`), never from
the whole manifest; `harness.tools.kinds` names the kinds, and the manifest schema reads its table.

This module imports nothing of the manifest and no adapter, so both can import it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class AdapterBase(BaseModel):
    """What every adapter config is: strict (a misspelt field is an error, not ignored) and frozen, with the
    `kind` tag the manifest's union is discriminated by."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    if TYPE_CHECKING:  # each kind declares its own `kind: Literal[...]` (a field here would move it first in a dump)
        kind: str


LabelValue = bool | int | float | str


class Labelled(AdapterBase):
    """An adapter whose outputs are labels. `label_map` turns the tool's own labels into the dataset
    card's target values (`{1: ">50K", 0: "<=50K"}`; 1, 1.0 and "1" are one key); labels it does not name
    stay as they are. Without it, a tool none of whose labels is a target value is refused (exit 2)."""

    label_map: dict[LabelValue, LabelValue] | None = None

    @field_validator("label_map")
    @classmethod
    def _one_key_per_label(cls, v: dict[LabelValue, LabelValue] | None) -> dict[LabelValue, LabelValue] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("label_map is empty; leave it out, or give one entry per label the tool outputs")
        from harness.tools.labels import canonical  # pandas only when a label_map is given

        keys: dict[object, LabelValue] = {}
        for k in v:
            c = canonical(k)
            if c in keys:
                raise ValueError(f"label_map names the label {keys[c]!r} twice (as {keys[c]!r} and {k!r}); "
                                 f"1, 1.0, \"1\" and true are one label")
            keys[c] = k
        return v


class ModelConfig(Labelled):
    """A fitted model. `input_columns` names the columns the model is fed, in the order it was fitted on;
    needed when it was fitted without column names (a numpy array) and the card's features are not its
    inputs one for one, e.g. when they include protected attributes the model never saw."""

    input_columns: list[str] | None = Field(None, min_length=1)


class PythonAdapter(Labelled):
    """A callable `module:function` taking a DataFrame and returning labels (and optionally scores)."""

    kind: Literal["python"]
    callable: str = Field(pattern=r"^[\w.]+:[\w.]+$")


class SklearnAdapter(ModelConfig):
    """A scikit-learn model saved with skops. It is loaded in the harness process only when every type it
    holds is trusted by the City (the harness allowlist plus the policy's settings.sandbox.trusted_types,
    `harness.tools.skops_trust`); otherwise it runs in the sandboxed worker like a pickle.

    `trusted` is kept so that older manifests still parse, but it decides nothing: the vendor must not choose
    what skops may build (issue 12). A type listed there that the City does not already trust is refused."""

    kind: Literal["sklearn"]
    path: str
    trusted: list[str] = Field(default_factory=list)
    threshold: float = Field(0.5, ge=0, le=1)


class PredictionsAdapter(Labelled):
    """A vendor's CSV of predictions keyed by the dataset's id column: the black-box path."""

    kind: Literal["predictions"]
    path: str
    id_column: str = "id"
    label_column: str = "prediction"
    score_column: str | None = None
    # the vendor's reasons for each decision: input names, most important first, joined by reason_separator
    # ("income_pct_ami; rent_burden"); the explainability suite reads them, since a file cannot be asked why
    reason_column: str | None = None
    reason_separator: str = Field(";", min_length=1)


class ResponsesAdapter(AdapterBase):
    """A vendor's JSONL of answers keyed by item id, one line per item: {"id": ..., "answer": ...}
    (the black-box path for generative tools; an empty answer is an abstention)."""

    kind: Literal["responses"]
    path: str
    id_field: str = "id"
    answer_field: str = "answer"


class OpenAIAdapter(AdapterBase):
    """Any OpenAI-compatible chat-completions endpoint (a hosted service, or vLLM, llama.cpp, Ollama).

    The API key is named, never written: `api_key_env` is the environment variable that holds it, so a
    manifest can be filed with the assessment without leaking a secret. Every exchange is cached on disk
    under `cache_dir` (relative to the manifest; default `.harness/cache/openai` in the working folder),
    so a re-run costs nothing and a report can show the exact prompt and answer."""

    kind: Literal["openai"]
    base_url: str = Field(pattern=r"^https?://\S+$", description="e.g. https://api.example.com/v1")
    model: str = Field(min_length=1)
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(256, ge=1)
    timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0, le=60)  # first wait before a retry; doubles each attempt
    concurrency: int = Field(4, ge=1, le=256)
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    system_prompt: str | None = None  # default: harness.tools.openai.DEFAULT_SYSTEM_PROMPT
    cache_dir: str | None = None
    cache: bool = True
    # what a hostile endpoint can cost (issue 12): timeout_s bounds each request whole; a reply over
    # max_response_bytes is that item's error, never read further; after run_deadline_s (from the first
    # request) nothing more is asked. Defaults: harness.tools.openai.DEFAULT_MAX_RESPONSE_BYTES / _RUN_DEADLINE_S
    max_response_bytes: int = Field(1_048_576, ge=1024, le=16_777_216)
    run_deadline_s: float = Field(3600.0, gt=0, le=86_400)


class PickleAdapter(ModelConfig):
    """A model in a format that runs code when loaded (pickle, joblib, cloudpickle): loaded and called only
    in the sandboxed worker (`harness.sandbox`), never in the harness process. `threshold` is recorded as
    for `sklearn`; labels come from the model's own `predict`. `timeout_s` bounds the load and each call;
    `memory_mb` the worker's address space."""

    kind: Literal["pickle"]
    path: str
    format: Literal["pickle", "joblib", "cloudpickle"] = "pickle"
    threshold: float = Field(0.5, ge=0, le=1)
    timeout_s: float = Field(300.0, gt=0)
    memory_mb: int = Field(8192, ge=256)


class MlflowAdapter(ModelConfig):
    """An MLflow model, loaded with `mlflow.pyfunc.load_model` inside the sandboxed worker: either a model
    folder (with its `MLmodel` file) next to the manifest, `path`, or a `model_uri` (`models:/NAME/VERSION`,
    `runs:/RUN/PATH`) that the harness downloads first, so the worker needs no network. When the model
    returns a frame, `label_column` and `score_column` name the columns to read."""

    kind: Literal["mlflow"]
    path: str | None = None
    model_uri: str | None = Field(None, min_length=1)
    label_column: str | None = None
    score_column: str | None = None
    threshold: float = Field(0.5, ge=0, le=1)
    timeout_s: float = Field(300.0, gt=0)
    memory_mb: int = Field(8192, ge=256)

    @model_validator(mode="after")
    def _one_source(self) -> MlflowAdapter:
        if (self.path is None) == (self.model_uri is None):
            raise ValueError("give exactly one of path (a model folder) or model_uri")
        return self


class HttpAdapter(ModelConfig):
    """A vendor's JSON scoring endpoint (`harness.tools.http`): rows are POSTed in batches as
    `{records_key: [{id_field: <row id>, <feature>: <value>, ...}, ...]}` to `url`, and each row's label (and score)
    is read from the reply by `label_path` (`score_path`), paths of `harness.tools.rowpaths` (`predictions[*].label`).
    With `id_path` results are matched to rows by id (a row the reply leaves out is that row's error); without it, by
    position, so a reply with one result too few or too many fails its whole batch.

    The URL is held to the endpoint rules (`harness.tools.endpoint`: https:// for any host but loopback, the host on
    the policy's `settings.endpoints.allowed_hosts`) before anything is sent; certificates are always verified and
    redirects never followed (there is no switch for either). The API key is named, never written: `api_key_env`
    is the environment variable holding it, sent as `Authorization: Bearer <key>`, or as the bare key in the header
    `api_key_header` names (e.g. `x-api-key`). Bounds as for `openai`: `timeout_s` per request whole,
    `max_response_bytes` per reply, `run_deadline_s` for the run, at most `max_retries` retries of a batch (429,
    5xx, timeouts, lost connections) with backoff from `backoff_s`, honouring Retry-After up to 60 s."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://\S+$", description="e.g. https://scoring.vendor.example/v2/score")
    records_key: str = Field("instances", min_length=1)
    id_field: str | None = Field("id", min_length=1)
    label_path: str = "predictions[*].label"
    score_path: str | None = None
    id_path: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    api_key_header: str = Field("Authorization", pattern=r"^[A-Za-z0-9-]+$")
    batch_size: int = Field(100, ge=1, le=10_000)
    concurrency: int = Field(4, ge=1, le=64)
    timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0, le=60)
    run_deadline_s: float = Field(3600.0, gt=0, le=86_400)
    max_response_bytes: int = Field(4_194_304, ge=1024, le=67_108_864)

    @field_validator("label_path", "score_path", "id_path")
    @classmethod
    def _a_row_path(cls, v: str | None) -> str | None:
        if v is not None:
            from harness.tools.rowpaths import parse

            parse(v)
        return v

    @model_validator(mode="after")
    def _one_list(self) -> HttpAdapter:
        from harness.tools.rowpaths import parse

        lists = {name: parse(p).list_text for name, p in (("label_path", self.label_path),
                                                            ("score_path", self.score_path),
                                                            ("id_path", self.id_path)) if p is not None}
        if len(set(lists.values())) > 1:
            raise ValueError(f"label_path, score_path and id_path must name one list of results (each row's values "
                             f"are read from one result); they name {lists}")
        if self.id_path is not None and self.id_field is None:
            raise ValueError("id_path matches results to rows by id, so id_field must name where each row's id is "
                             "sent")
        return self
