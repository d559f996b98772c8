# Rcapture's openp on every table of a folder; one TSV row per reported quantity.
# Rscript openp.R FOLDER OUT.tsv
library(Rcapture)
args <- commandArgs(trailingOnly = TRUE)
files <- sort(list.files(args[1], pattern = "\\.csv$", full.names = TRUE))
rows <- list()
add <- function(name, what, i, est, se) {
  rows[[length(rows) + 1]] <<- data.frame(dataset = name, quantity = what, index = i,
                                          estimate = est, stderr = se)
}
for (f in files) {
  X <- read.csv(f)
  res <- suppressWarnings(openp(X, dfreq = TRUE))
  name <- sub("\\.csv$", "", basename(f))
  add(name, "deviance", 0, res$model.fit[1], NA)
  add(name, "df", 0, res$model.fit[2], NA)
  add(name, "AIC", 0, res$model.fit[3], NA)
  for (k in seq_len(nrow(res$trap.fit))) {
    add(name, "trap_deviance", k, res$trap.fit[k, 1], NA)
    add(name, "trap_df", k, res$trap.fit[k, 2], NA)
  }
  tabs <- list(capture_prob = res$capture.prob, survival = res$survivals,
               abundance = res$N, arrivals = res$birth, total = res$Ntot)
  for (what in names(tabs)) {
    m <- tabs[[what]]
    for (i in seq_len(nrow(m))) add(name, what, i, m[i, 1], m[i, 2])
  }
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 10), args[2], sep = "\t", quote = FALSE, row.names = FALSE)
