"""Numbers printed by Rcapture 1.4-4 (R 4.2.2) for the eider duck data.

Data: ``data/duck.csv`` (Rcapture's ``duck``: 6 periods, frequency-weighted).

R call::

    library(Rcapture)
    openp(duck, dfreq = TRUE)

``None`` where Rcapture prints ``--`` (not estimable). Values are as printed
(rounded to 4 decimals for probabilities, 1 for counts).
"""

FIT = {"deviance": 83.36, "df": 49, "aic": 328.83}
TRAP = [
    ("model with homogenous trap effect", 82.526, 48, 329.996),
    ("model with trap effect", 78.049, 46, 329.519),
]
CAPTURE = [None, (0.4649, 0.0346), (0.4635, 0.0354), (0.4457, 0.0338), (0.4170, 0.0306), None]
SURVIVAL = [(0.4469, 0.0256), (0.9578, 0.0523), (0.7135, 0.0423), (1.0000, 0.0000), None]
ABUNDANCE = [None, (378.6, 18.9), (455.2, 26.1), (356.7, 17.0), (455.7, 21.9), None]
ARRIVALS = [None, (92.6, 23.5), (31.9, 18.5), (99.0, 23.6), None]
TOTAL = (962, 12)
N_CAPTURED = 896

#: parity targets of issue 5
RTOL_ESTIMATE = 0.005
RTOL_STDERR = 0.02
