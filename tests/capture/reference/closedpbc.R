# Rcapture's closedp.bc for every model on every table of a folder; one TSV row per model.
# Rscript closedpbc.R FOLDER OUT.tsv [nbcap]
library(Rcapture)
args <- commandArgs(trailingOnly = TRUE)
nbcap <- length(args) > 2 && args[3] == "nbcap"
files <- sort(list.files(args[1], pattern = "\\.csv$", full.names = TRUE))
calls <- list(
  "M0" = list(m = "M0"), "Mt" = list(m = "Mt"),
  "Mh Chao (LB)" = list(m = "Mh", h = "Chao"), "Mh Poisson2" = list(m = "Mh", h = "Poisson"),
  "Mh Darroch" = list(m = "Mh", h = "Darroch"), "Mh Gamma3.5" = list(m = "Mh", h = "Gamma"),
  "Mth Chao (LB)" = list(m = "Mth", h = "Chao"), "Mth Poisson2" = list(m = "Mth", h = "Poisson"),
  "Mth Darroch" = list(m = "Mth", h = "Darroch"), "Mb" = list(m = "Mb"), "Mbh" = list(m = "Mbh"))
if (nbcap) calls <- calls[c("M0", "Mh Chao (LB)", "Mh Poisson2", "Mh Darroch", "Mh Gamma3.5")]
rows <- list()
for (f in files) {
  X <- read.csv(f)
  dfreq <- nbcap || "freq" %in% names(X)  # a count column named freq, or one row per unit
  t <- if (nbcap) as.integer(sub("^t0*([0-9]+)_.*$", "\\1", basename(f))) else ncol(X) - dfreq
  for (name in names(calls)) {
    cl <- calls[[name]]
    res <- tryCatch(
      if (nbcap) closedp.bc(X, dfreq = TRUE, dtype = "nbcap", t = t, m = cl$m, h = cl$h)
      else closedp.bc(X, dfreq = dfreq, m = cl$m, h = cl$h),
      error = function(e) e)
    if (inherits(res, "error")) {
      rows[[length(rows) + 1]] <- data.frame(dataset = sub("\\.csv$", "", basename(f)), t = t,
        model = name, abundance = NA, stderr = NA, infoFit = NA,
        note = gsub("[\t\n]", " ", conditionMessage(res)))
    } else {
      rows[[length(rows) + 1]] <- data.frame(dataset = sub("\\.csv$", "", basename(f)), t = t,
        model = name, abundance = res$results[1, "abundance"], stderr = res$results[1, "stderr"],
        infoFit = res$results[1, "infoFit"],
        note = if (is.null(res$glm.warn)) "" else gsub("[\t\n]", " ", paste(res$glm.warn, collapse = " | ")))
    }
  }
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 10), args[2], sep = "\t", quote = FALSE, row.names = FALSE)
