# Shared helpers of the brms benchmark scripts (track_a.R, track_b.R). Sourced, not run.
#
# The settings (seed, sampler, prior sets, grouping) come from a JSON file written by bench/brms_bench.py from
# config.yaml; without one, DEFAULT_SETTINGS below mirror config.yaml as shipped (keep them in step by hand, or
# always go through the driver).

suppressPackageStartupMessages({
  if (!requireNamespace("brms", quietly = TRUE)) {
    message("brms is not installed: apt-get install -y --no-install-recommends r-cran-brms (see bench/README.md)")
    quit(status = 3)
  }
  if (!requireNamespace("jsonlite", quietly = TRUE)) {
    message("jsonlite is not installed: apt-get install -y --no-install-recommends r-cran-jsonlite")
    quit(status = 3)
  }
  library(brms)
})

# Debian's r-cran-bh is an empty shell over libboost-dev (headers in /usr/include/boost), but rstan looks for
# Boost in system.file("include", package = "BH") and stops with "Boost not found" (eddelbuettel/bh#94).
# Point rstan at the system headers (a directory that exists; the compiler then finds <boost/...> on its
# default path). Nothing is changed on the system.
if (!nzchar(system.file("include", package = "BH")) && dir.exists("/usr/include/boost")) {
  rstan::rstan_options(boost_lib = "/usr/include/boost")
}

Z95 <- qnorm(0.975)

DEFAULT_SETTINGS <- list(
  seed = 20241122,
  cores = 2,
  sampler = list(chains = 4, draws = 4000, tune = 1500, target_accept = 0.99),
  grouping = c("study", "alliance_phase", "outcome_timepoint", "outcome"),
  base_prior = "reference",
  edit_prior = "sceptical",
  priors = list(
    reference = list(
      rho = list(lower95 = -0.8, upper95 = 0.8),
      heterogeneity = list(study = 0.2, alliance_phase = 0.15, outcome_timepoint = 0.1, outcome = 0.1, residual = 0.1)
    ),
    sceptical = list(
      rho = list(lower95 = -0.3, upper95 = 0.3),
      heterogeneity = list(study = 0.2, alliance_phase = 0.15, outcome_timepoint = 0.1, outcome = 0.1, residual = 0.1)
    )
  )
)

# Command line: positional arguments, then --name value options.
parse_args <- function(args, positional, options = character()) {
  pos <- character()
  opt <- list()
  i <- 1
  while (i <= length(args)) {
    a <- args[[i]]
    if (startsWith(a, "--")) {
      key <- substring(a, 3)
      if (!key %in% options || i == length(args)) stop(sprintf("unknown or incomplete option %s; expected one of --%s",
                                                         a, paste(options, collapse = ", --")))
      opt[[key]] <- args[[i + 1]]
      i <- i + 2
    } else {
      pos <- c(pos, a)
      i <- i + 1
    }
  }
  if (length(pos) != length(positional)) {
    stop(sprintf("expected %d positional argument(s) (%s), got %d", length(positional),
                 paste(positional, collapse = ", "), length(pos)))
  }
  c(setNames(as.list(pos), positional), opt)
}

read_settings <- function(path) {
  if (is.null(path)) return(DEFAULT_SETTINGS)
  s <- jsonlite::read_json(path, simplifyVector = TRUE)
  utils::modifyList(DEFAULT_SETTINGS, s)
}

# models/priors.py (Track A, Fisher-z scale) and models/participant.py (Track B, raw slope scale).
z_prior <- function(prior_set) {
  lo <- prior_set$rho$lower95
  hi <- prior_set$rho$upper95
  list(mean = (atanh(lo) + atanh(hi)) / 2, sd = (atanh(hi) - atanh(lo)) / (2 * Z95))
}
slope_prior <- function(prior_set) {
  lo <- prior_set$rho$lower95
  hi <- prior_set$rho$upper95
  list(mean = (lo + hi) / 2, sd = (hi - lo) / (2 * Z95))
}

# Wall-clock seconds of an expression, with its value, and the CPU seconds of this R process and its finished
# children (the C++ compiler, PSOCK sampling workers) - less sensitive than wall time to other load on the machine.
timed <- function(expr) {
  t0 <- proc.time()
  value <- force(expr)
  dt <- proc.time() - t0
  cpu <- sum(dt[c("user.self", "sys.self", "user.child", "sys.child")], na.rm = TRUE)
  list(value = value, seconds = dt[["elapsed"]], cpu_seconds = cpu)
}

# 1-, 5- and 15-minute load averages (Linux), to judge how busy the machine was.
load_average <- function() {
  if (!file.exists("/proc/loadavg")) return(NULL)
  as.numeric(strsplit(readLines("/proc/loadavg", n = 1), " ")[[1]][1:3])
}

# Sampler-side facts of one fit: per-chain warmup/sampling seconds (rstan's own clock), divergences,
# tree-depth hits, worst R-hat and ESS over every parameter.
fit_facts <- function(fit) {
  el <- rstan::get_elapsed_time(fit$fit)
  np <- nuts_params(fit)
  div <- sum(np$Value[np$Parameter == "divergent__"])
  td <- np$Value[np$Parameter == "treedepth__"]
  summ <- posterior::summarise_draws(as_draws_array(fit), "rhat", "ess_bulk", "ess_tail")
  summ <- summ[!summ$variable %in% c("lp__", "lprior"), ]
  list(
    chain_warmup_s = unname(el[, "warmup"]),
    chain_sample_s = unname(el[, "sample"]),
    divergences = as.integer(div),
    max_treedepth_hits = as.integer(sum(td >= fit$fit@stan_args[[1]]$control$max_treedepth %||% 10)),
    rhat_max = max(summ$rhat, na.rm = TRUE),
    ess_bulk_min = min(summ$ess_bulk, na.rm = TRUE),
    ess_tail_min = min(summ$ess_tail, na.rm = TRUE)
  )
}

`%||%` <- function(a, b) if (is.null(a)) b else a

summary_of <- function(x, probs = c(0.025, 0.05, 0.5, 0.95, 0.975)) {
  q <- stats::quantile(x, probs, names = FALSE)
  c(list(mean = mean(x), sd = stats::sd(x)), setNames(as.list(q), sprintf("q%g", 100 * probs)))
}

# Monte Carlo standard errors of the mean and three quantiles; x is iterations x chains.
mcse_of <- function(x) {
  x <- as.matrix(x)
  list(mean = posterior::mcse_mean(x), q2.5 = posterior::mcse_quantile(x, 0.025),
       q50 = posterior::mcse_quantile(x, 0.5), q97.5 = posterior::mcse_quantile(x, 0.975))
}

# Draws of one parameter as iterations x chains, transformed by f.
draws_matrix_of <- function(fit, variable, f = identity) {
  f(unclass(as_draws_array(fit, variable = variable))[, , 1])
}

versions <- function() {
  list(
    R = paste(R.version$major, R.version$minor, sep = "."),
    brms = as.character(packageVersion("brms")),
    rstan = as.character(packageVersion("rstan")),
    StanHeaders = as.character(packageVersion("StanHeaders"))
  )
}

write_result <- function(result, path) {
  dir.create(dirname(path), showWarnings = FALSE, recursive = TRUE)
  jsonlite::write_json(result, path, auto_unbox = TRUE, digits = NA, pretty = TRUE)
  message("wrote ", path)
}
