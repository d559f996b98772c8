"""Everything a report shows: the methods on their own, the joint model, the baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from crowdcensus.methods.experiment import ModelAverage, StratifiedCapture
from crowdcensus.methods.montecarlo import Interval, Parameter
from crowdcensus.sources.responses import Responses
from crowdcensus.study import Study
from crowdcensus.synthesis.data import SynthesisData
from crowdcensus.synthesis.summary import JointSummary


@dataclass
class Results:
    """The results of one study.

    Attributes
    ----------
    methods : dict
        Method -> tier -> :class:`Interval`: each method on its own (the
        Monte Carlo over its inputs' ranges).
    combined, disjoint : dict
        The joint model's nested tiers and disjoint bands (posterior median and
        central interval); empty when the joint model did not converge (the
        warnings say why).
    baseline, baseline_disjoint : dict
        The inverse-variance combination of the methods (the named baseline;
        the published arithmetic where each tier has one method).
    weights : dict
        The baseline's weights, tier -> method -> weight.
    joint : JointSummary
        The joint model's biases, predictive checks, prior-to-posterior shifts
        and diagnostics.
    """

    study: Study
    parameters: list[Parameter]
    seed: int
    draws: int
    level: float
    methods: dict[str, dict[str, Interval]]
    weights: dict[str, dict[str, float]]
    combined: dict[str, Interval]
    disjoint: dict[str, Interval]
    baseline: dict[str, Interval]
    baseline_disjoint: dict[str, Interval]
    intermediates: dict[str, Interval]
    sensitivity: pd.DataFrame
    draws_frame: pd.DataFrame
    capture: ModelAverage | StratifiedCapture | None = None
    shares: pd.DataFrame | None = None
    responses: Responses | None = None
    warnings: list[str] = field(default_factory=list)
    joint: JointSummary | None = None
    joint_data: SynthesisData | None = None
