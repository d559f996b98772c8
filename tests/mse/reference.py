"""Numbers from the R package MultipleSystemsEstimation 1.2.0 (B. Silverman), R 4.2.2.

Data: ``data/korea.csv`` and ``data/western.csv`` (copies of the package's
Korea and Western data sets: one 0/1 column per list, last column the count).

R calls::

    library(MultipleSystemsEstimation)
    estimatepopulation(Korea, method = "stepwise")       # pthresh = 0.02
    estimatepopulation(Korea, method = "BICandbounds")   # every hierarchical model,
                                                         # up to order (lists - 1)
    estimatepopulation(Korea, method = "fixed", model = "[1,2,3]")  # main effects
    # and the same three for Western

``model`` is the selected hierarchical model in the package's notation.
"""

#: (dataset, method) -> (popest, model)
EXPECTED = {
    ("korea", "stepwise"): (268.7778, "[12,3]"),
    ("korea", "bic"): (157.1667, "[12,23]"),
    ("korea", "main"): (141.9926, "[1,2,3]"),
    ("western", "stepwise"): (2483.384, "[15,2,3,4]"),
    ("western", "bic"): (2483.384, "[15,2,3,4]"),
    ("western", "main"): (2007.142, "[1,2,3,4,5]"),
}

#: relative tolerance on point estimates (the parity target of issue 5)
RTOL = 0.005
