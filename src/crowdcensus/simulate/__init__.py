"""Synthetic countries with a known truth, and the validation of the whole system on them.

* :mod:`~crowdcensus.simulate.scenario` — scenario files (TOML);
* :mod:`~crowdcensus.simulate.world` — the generator of a synthetic country;
* :mod:`~crowdcensus.simulate.outputs` — a simulated study's inputs and its truth;
* :mod:`~crowdcensus.simulate.validation` — replicates, bias, RMSE and coverage;
* :mod:`~crowdcensus.simulate.e2e` — the same, through the real collection service.
"""
