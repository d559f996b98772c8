"""BIC selection figures from MultipleSystemsEstimation 1.2.0 (R 4.2.2).

Data: ``data/ukdat.csv``, ``ned.csv``, ``neworl.csv``, ``western.csv``, the
package's UKdat, Ned, NewOrl and Western data sets written out with ``write.csv``.

Exhaustive BIC on six lists (every hierarchical model up to order 2, 32,768
models, all usable on these data)::

    library(MultipleSystemsEstimation)
    r <- estimate_population_bic(UKdat)   # 859 s elapsed on the 2-core machine (loaded)
    r$model; r$popest; r$BIC
    r <- estimate_population_bic(Ned)     # 898 s
    r$model; r$popest; r$BIC

Downhill search (``downhill_fit`` is internal; default ``maxorder = lists - 1``,
``niter = 20``, ``checkid = TRUE``)::

    z <- UKdat   # and Ned, NewOrl, Western
    f <- MultipleSystemsEstimation:::downhill_fit(z[, ncol(z)], z[, -ncol(z)], verbose = TRUE)
    f$optimum_hierarchy; f$minimum_value; length(f$hierarchies_considered)

Models are in R's notation (its generators may come in another order than ours).
"""

#: dataset -> (model, popest, BIC) of estimate_population_bic
SIX_LISTS = {
    "ukdat": ("[12,13,25,35,36,45]", 12349.58695, 244.1193457),
    "ned": ("[12,16,25,34,36,45,46]", 116667.0182, 310.4416486),
}

#: dataset -> (model, popest, BIC, models considered) of downhill_fit
DOWNHILL = {
    "korea": ("[12,23]", 157.166667, 57.140810, 7),
    "western": ("[15,2,3,4]", 2483.383920, 118.744315, 20),
    "ukdat": ("[12,13,25,35,36,45]", 12349.586954, 244.119346, 95),
    "ned": ("[12,14,16,23,24,25,26,36,46,56]", 43584.737315, 312.786397, 160),
    "neworl": ("[45,1,2,3,6,7,8]", 1110.488081, 145.088455, 56),
}
