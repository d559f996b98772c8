"""The whole pipeline for one study file: read the inputs, fit, triangulate."""

from __future__ import annotations

from pathlib import Path

from crowdcensus.errors import InputError
from crowdcensus.methods.experiment import fit_capture
from crowdcensus.sources.responses import read_responses
from crowdcensus.study import Study, load_study
from crowdcensus.triangulate import Results, triangulate


def run_study(
    study: Study | str | Path,
    seed: int | None = None,
    draws: int | None = None,
    progress: bool = False,
) -> Results:
    """Run every method of ``study`` with its Monte Carlo and sensitivity analysis.

    ``study`` is a validated :class:`~crowdcensus.study.Study` or the path of a
    study file. ``seed`` and ``draws`` override the study's settings.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    responses = capture = None
    path = study.responses_path()
    if path is not None:
        exp = study.experiment
        columns = exp.columns.model_dump()
        responses = read_responses(path, columns, exp.answers)
        if study.assumptions.multihoming.value == "estimate" and \
                responses.respondents["n_registered"].isna().all():
            raise InputError(f"{path}: no respondent reports the platforms they are registered "
                             f"on ('{exp.columns.registered_on}'), so assumptions.multihoming "
                             "cannot be estimated")
        capture = fit_capture(responses.histories)
    return triangulate(study, responses, capture, seed=seed, draws=draws, progress=progress)
