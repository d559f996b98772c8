# Rcapture's closedp.0 on every frequency table of a folder; one TSV row per model.
# Rscript closedp0.R FOLDER OUT.tsv
library(Rcapture)
args <- commandArgs(trailingOnly = TRUE)
files <- sort(list.files(args[1], pattern = "\\.csv$", full.names = TRUE))
rows <- list()
for (f in files) {
  X <- read.csv(f)
  t <- as.integer(sub("^t0*([0-9]+)_.*$", "\\1", basename(f)))
  res <- closedp.0(X, dfreq = TRUE, dtype = "nbcap", t = t)
  tab <- res$results
  for (m in rownames(tab)) {
    key <- switch(m, "M0" = "M0", "Mh Chao (LB)" = "MhC", "Mh Poisson2" = "MhP",
                  "Mh Darroch" = "MhD", "Mh Gamma3.5" = "MhG")
    w <- res$glm.warn[[key]]
    rows[[length(rows) + 1]] <- data.frame(
      dataset = sub("\\.csv$", "", basename(f)), t = t, n = res$n, model = m,
      abundance = tab[m, "abundance"], stderr = tab[m, "stderr"],
      deviance = tab[m, "deviance"], df = tab[m, "df"], AIC = tab[m, "AIC"],
      BIC = tab[m, "BIC"], infoFit = tab[m, "infoFit"],
      warnings = if (is.null(w)) "" else gsub("[\t\n]", " ", paste(w, collapse = " | ")))
  }
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 10), args[2], sep = "\t", quote = FALSE, row.names = FALSE)
