# Reference p-values of the tie-aware exact two-sample Wilcoxon-Mann-Whitney test, computed by coin.
# Run from the project root:  Rscript tests/data/coin_reference.R > tests/data/coin_reference.csv
# (R 4.2.2, coin 1.4-2 from Debian's r-cran-coin). The samples are small answers on rating scales,
# with ties, like the study's items. tests/test_utests.py compares the engine's method="exact" p with
# the `p_exact` column and its asymptotic p (no continuity correction) with `p_asymptotic`.
suppressPackageStartupMessages(library(coin))
set.seed(20201001)
cases <- list(
  list(x = c(1, 2, 2, 3, 3, 3), y = c(2, 3, 4, 4, 5)),
  list(x = c(-2, -1, -1, 0, 0, 1), y = c(-1, 0, 1, 1, 2, 2, 2)),
  list(x = c(1, 1, 1, 1, 1, 2, 2, 2, 2), y = c(1, 1, 1, 1, 1, 1, 1, 1))
)
for (k in 1:9) {
  n1 <- sample(5:25, 1); n2 <- sample(5:25, 1); top <- sample(c(2, 5, 10), 1)
  cases[[length(cases) + 1]] <- list(x = sample(1:top, n1, replace = TRUE), y = sample(1:top, n2, replace = TRUE))
}
cat("x,y,p_exact,p_asymptotic\n")
for (case in cases) {
  g <- factor(c(rep("x", length(case$x)), rep("y", length(case$y))), levels = c("x", "y"))
  v <- c(case$x, case$y)
  exact <- pvalue(wilcox_test(v ~ g, distribution = "exact"))
  asym <- pvalue(wilcox_test(v ~ g, distribution = "asymptotic"))
  cat(sprintf("\"%s\",\"%s\",%.10g,%.10g\n", paste(case$x, collapse = " "), paste(case$y, collapse = " "), exact, asym))
}
