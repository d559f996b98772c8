# Rcapture's closedpCI.t on the history tables named on the command line; one TSV row per
# table and model (crowdcensus's model names).
# Rscript closedpci.R FOLDER OUT.tsv NAME...
library(Rcapture)
args <- commandArgs(trailingOnly = TRUE)
models <- list("M0" = list(m = "M0"), "Mt" = list(m = "Mt"),
               "Mh Chao (LB)" = list(m = "Mh", h = "Chao"),
               "Mh Poisson2" = list(m = "Mh", h = "Poisson"),
               "Mh Darroch" = list(m = "Mh", h = "Darroch"),
               "Mth Chao (LB)" = list(m = "Mth", h = "Chao"),
               "Mth Poisson2" = list(m = "Mth", h = "Poisson"))
rows <- list()
for (name in args[-(1:2)]) {
  X <- read.csv(file.path(args[1], paste0(name, ".csv")))
  for (model in names(models)) {
    spec <- models[[model]]
    # called by name (closedpCI.t reads its own name from the call, which do.call loses)
    res <- suppressWarnings(if (is.null(spec$h)) closedpCI.t(X, dfreq = TRUE, m = spec$m)
                            else closedpCI.t(X, dfreq = TRUE, m = spec$m, h = spec$h))
    rows[[length(rows) + 1]] <- data.frame(
      dataset = name, model = model, ci_abundance = res$CI[1, 1], ci_low = res$CI[1, 2],
      ci_high = res$CI[1, 3],
      warnings = gsub("[\t\n]", " ", paste(res$CI.warn, collapse = " | ")))
  }
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 10), args[2], sep = "\t", quote = FALSE, row.names = FALSE)
