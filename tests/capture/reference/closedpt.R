# Rcapture's closedp.t on every history table of a folder; one TSV row per model.
# Rscript closedpt.R FOLDER OUT.tsv
library(Rcapture)
args <- commandArgs(trailingOnly = TRUE)
files <- sort(list.files(args[1], pattern = "\\.csv$", full.names = TRUE))
short <- c("M0" = "M0", "Mt" = "Mt", "Mh Chao (LB)" = "MhC", "Mh Poisson2" = "MhP",
           "Mh Darroch" = "MhD", "Mh Gamma3.5" = "MhG", "Mth Chao (LB)" = "MthC",
           "Mth Poisson2" = "MthP", "Mth Darroch" = "MthD", "Mth Gamma3.5" = "MthG",
           "Mb" = "Mb", "Mbh" = "Mbh")
rows <- list()
for (f in files) {
  X <- read.csv(f)
  res <- closedp.t(X, dfreq = "freq" %in% names(X))  # freq: a count column
  tab <- res$results
  for (m in rownames(tab)) {
    w <- res$glm.warn[[short[[m]]]]
    rows[[length(rows) + 1]] <- data.frame(
      dataset = sub("\\.csv$", "", basename(f)), t = res$t, n = res$n, model = m,
      abundance = tab[m, "abundance"], stderr = tab[m, "stderr"],
      deviance = tab[m, "deviance"], df = tab[m, "df"], AIC = tab[m, "AIC"],
      BIC = tab[m, "BIC"], infoFit = tab[m, "infoFit"],
      warnings = if (is.null(w)) "" else gsub("[\t\n]", " ", paste(w, collapse = " | ")))
  }
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 10), args[2], sep = "\t", quote = FALSE, row.names = FALSE)
