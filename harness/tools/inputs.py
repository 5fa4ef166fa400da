"""Which columns a fitted model is fed (issue 10, "Inputs that cannot be misread").

A model fitted on a DataFrame knows its columns (`feature_names_in_`) and gets exactly those. One fitted on
a numpy array knows only how many inputs it takes (`n_features_in_`): it reads the frame by position, so
feeding it the card's features works only if they are its inputs in its order. When they are not (a
different count), or when they include protected attributes (the vendor may never have given the model
sex or race, and a silent positional match would make it read them as something else), the harness
refuses to guess and asks for `adapter.input_columns`.

Whatever the model asks for, it is never given the answers (issue 12, "the target is never handed to the
model"): a model fitted on the card's target column (or, on a question-answering card, its answer columns)
would be graded on its own input and PASS (Code of Ethics, Safety: "correct results"; policy 4.2: tested
before use). Nor is it given a protected attribute the card does not list among its features: the card is
where the City says which columns a tool receives (policy 1.2: a record of what data is used and for what;
2.1: actively mitigate discrimination).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import ToolConfigError

if TYPE_CHECKING:
    from harness.datasets import ReferenceDataset


def _inputs(n: int) -> str:
    return f"{n} input{'' if n == 1 else 's'}"


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def answer_columns(dataset: ReferenceDataset) -> list[str]:
    """The columns that hold the truth a tool is judged against: the card's target, and on a question-answering
    card its answers."""
    from harness.datasets import QA_COLUMNS

    card = dataset.card
    out = [card.target.column] if card.target is not None else []
    if card.task == "grounded-qa":
        out += [c for c in QA_COLUMNS if c in ("answers", "answerable")]
    return out


def refuse_forbidden(dataset: ReferenceDataset, columns: list[str], model: str) -> None:
    """Refuse inputs that hold the answers, and protected attributes the card does not give tools."""
    card = dataset.card
    answers = answer_columns(dataset)
    for c in columns:
        if c in answers:
            what = "the dataset card's target" if card.target is not None and c == card.target.column else \
                "the dataset's ground truth"
            raise ToolConfigError(f"{model} asks for column {c!r}, {what}: a tool is never given the answers; "
                                  f"refit the model without it")
    protected = [c for c in columns if c in card.protected_attributes and c not in card.features]
    if protected:
        raise ToolConfigError(f"{model} asks for the protected attribute(s) {_quoted(protected)}, which dataset "
                              f"{dataset.name!r}'s card does not give tools (its features are {list(card.features)}): "
                              f"a tool receives a protected attribute only when the card lists it among its "
                              f"features; refit the model without it")


def model_inputs(dataset: ReferenceDataset, *, names: list[str] | None, n_features: int | None,
                 declared: list[str] | None, model: str) -> list[str]:
    """The columns to feed the model: `declared` (adapter.input_columns) when given, else the names the
    model was fitted on, else the card's features when a model fitted without names can take them safely.

    `names` and `n_features` are what the fitted model says about itself (None when it does not say);
    `model` names it in messages ("the model in model.skops")."""
    frame_columns = list(dataset.frame.columns)
    if declared is not None:
        missing = [c for c in declared if c not in frame_columns]
        if missing:
            raise ToolConfigError(f"adapter.input_columns names column(s) {missing} that dataset {dataset.name!r} "
                                  f"does not have; it has {frame_columns}")
        refuse_forbidden(dataset, list(declared), model)
        if names is not None and list(declared) != list(names):
            raise ToolConfigError(f"adapter.input_columns {list(declared)} differ from the columns {model} was "
                                  f"fitted on, {list(names)}; the model names its own inputs, so leave "
                                  f"adapter.input_columns out or make it the same list")
        if n_features is not None and len(declared) != n_features:
            raise ToolConfigError(f"adapter.input_columns lists {len(declared)} columns but {model} expects "
                                  f"{_inputs(n_features)}; list the model's inputs, in the order it was fitted on")
        return list(declared)
    if names is not None:
        refuse_forbidden(dataset, list(names), model)
        return list(names)
    features = list(dataset.card.features)
    if n_features is None:  # the model does not say: it gets the card's features, by name
        return features
    protected = [a for a in dataset.card.protected_attributes if a in features]
    if n_features == len(features) and not protected:
        return features
    including = f", including the protected attributes {_quoted(protected)}" if protected else ""
    by_position = ", which it would read by position" if n_features == len(features) else ""
    raise ToolConfigError(
        f"{model} was fitted without column names and expects {_inputs(n_features)}; the dataset card's features "
        f"are {features} ({len(features)}{including}){by_position}: name the model's inputs with "
        f"adapter.input_columns in tool.yaml, in the order it was fitted on"
    )


__all__ = ["answer_columns", "model_inputs", "refuse_forbidden"]
