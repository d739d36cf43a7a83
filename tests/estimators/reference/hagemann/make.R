# Reference numbers for Hagemann's rearrangement test with one treated cluster ("Inference with a single
# treated cluster", REStud 2025), from the author's own R code (stc.weight, stc: Table 1 and Algorithm 3.3).
# That code is not part of evalkit: download it beside this script first, then run from the repository root:
#   curl -o .ref-venv/hagemann_rea.R https://hgmn.github.io/assets/hagemann_rea.R
#   Rscript tests/estimators/reference/hagemann/make.R .ref-venv/hagemann_rea.R
# (R 4.2.2, Debian r-base-core.) Writes hagemann.json beside this script: the weights w for a grid of
# (q control clusters, alpha, rho) with the code's own 10^4-point grid, and test decisions (one-sided, >)
# for seeded simulated cluster estimates at several shifts of the treated cluster.
args <- commandArgs(trailingOnly = TRUE)
source(args[1])
out <- file.path(dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))), "hagemann.json")
num <- function(x) formatC(x, digits = 17, format = "g")
weights <- c()
for (q in c(4, 9, 19, 49, 149)) for (alpha in c(0.025, 0.05, 0.1)) for (rho in c(1, 2, 5)) {
  w <- tryCatch(stc.weight(q = q, alpha = alpha, rho = rho), error = function(e) NA)
  weights <- c(weights, sprintf('{"q": %d, "alpha": %s, "rho": %s, "w": %s}', q, num(alpha), num(rho),
                                ifelse(is.na(w), "null", num(w))))
}
set.seed(20240101)
tests <- c()
wq <- list()
for (q in c(19, 49)) for (shift in c(0, 1, 2, 3, 4)) for (rep in 1:4) {
  x0 <- rnorm(q, sd = runif(q, 0.5, 2))
  x1 <- shift + rnorm(1)
  key <- as.character(q)
  if (is.null(wq[[key]])) wq[[key]] <- stc.weight(q = q, alpha = 0.05, rho = 2)
  w <- wq[[key]]
  dec <- stc(x1 = x1, x0 = x0, w = w, verbose = FALSE)
  tests <- c(tests, sprintf('{"q": %d, "w": %s, "x1": %s, "x0": [%s], "reject": %s}', q, num(w), num(x1),
                            paste(num(x0), collapse = ", "), ifelse(dec, "true", "false")))
}
writeLines(c("{", sprintf('"R": "%s",', R.version.string), '"source": "https://hgmn.github.io/assets/hagemann_rea.R",',
             '"weights": [', paste(weights, collapse = ",\n"), '],', '"tests": [', paste(tests, collapse = ",\n"), ']', "}"), out)
