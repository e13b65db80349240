# Track B in brms: the participant-level outcome model of one cohort (models/participant.py build_outcome_model),
# timed.
#
#   Rscript bench/brms/track_b.R CLEAN_LONG_CSV OUT_JSON [--settings SETTINGS_JSON]
#
# CLEAN_LONG_CSV is results/data/<cohort>/clean.csv (participant_id, timepoint, measure, value; empty = missing).
# The cohort design (alliance measure and timepoints, baseline, follow-up, outcomes) comes from the settings'
# `cohort` block (config.yaml cohorts.<name>); the default is the PTSD cohort. One follow-up only (PTSD): with
# several, the PyMC model adds participant effects across follow-ups, which this script does not write.
#
# For participant i, on the standardised scale (as in PyMC: alliance per timepoint, baseline by its own mean/SD,
# follow-up by the mean/SD of its observed values):
#
#   y_i = alpha + beta * b_i + sum_a (gamma_mean + tau * delta_a) * x_ia + eps_i,  eps_i ~ Normal(0, sigma)
#
# written as a brms non-linear formula, so the slopes are partially pooled and non-centred exactly as in PyMC
# (delta_a ~ Normal(0, 1), gamma_mean ~ Normal(prior set), tau ~ HalfNormal(heterogeneity.alliance_phase)).
# Missing values, as in PyMC, are imputed inside the model:
#   * a missing alliance value x_ia: brms mi(), with the imputation model x_a | mi() ~ 1 + (the fully observed
#     alliance timepoints). PyMC imputes from its alliance trajectory model instead (x_ia = theta_a + v_i + e_ia,
#     fitted to every observed alliance value): both are normal linear imputation models given the other
#     timepoints, but not the same one (documented in bench/README.md);
#   * a missing baseline: Normal(0, 1) on the standardised scale, as in PyMC (mi() with constant priors);
#   * a missing follow-up: the row leaves the outcome likelihood (brms subset()), as in PyMC.
#
# Timed steps (seconds of wall clock):
#   compile_s / sample_s / compile_fit_s  as in track_a.R, first outcome of the cohort, base prior set
#   prior_edit_s   update(fit, prior = <edit prior set>): recompiles (prior constants are in the Stan program)
#   data_refit_s   update(fit, newdata = <second outcome of the cohort>, recompile = FALSE): same structure and
#                  missing-data pattern, other data (the PTSD cohort's IES-R after CAPS-5)

script_dir <- if (sys.nframe() == 0L) {  # run by Rscript
  dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1]])))
} else {  # source()d
  dirname(normalizePath(sys.frame(1)$ofile))
}
source(file.path(script_dir, "common.R"))

DEFAULT_COHORT <- list(
  name = "ptsd",
  alliance = list(measure = "WAI"),
  alliance_timepoints = c("pre_session_3", "session_4", "session_9"),
  baseline_timepoint = "baseline",
  followups = c("post"),
  outcomes = c("CAPS-5", "IES-R")
)
# Fixed weakly-informative priors of models/participant.py ParticipantPrior (standardised scale).
FIXED <- list(alpha_sd = 1, beta_sd = 1, sigma = 1, theta_sd = 1, sigma_x = 1)

std <- function(v, what) {
  o <- v[is.finite(v)]
  if (length(o) < 2 || !(stats::sd(o) > 0)) stop(sprintf("%s: cannot standardise (%d observed value(s))", what, length(o)))
  (v - mean(o)) / stats::sd(o)  # sd(): ddof = 1, as np.std(ddof=1) in PyMC's CohortData
}

# Wide standardised data of one outcome: y, b, x1..xA per participant (ids sorted as text, as in PyMC).
track_b_data <- function(path, cohort, outcome) {
  df <- utils::read.csv(path, colClasses = c(participant_id = "character", timepoint = "character",
                                             measure = "character"), na.strings = c("", "NA", "NaN", "nan"))
  ids <- sort(unique(df$participant_id))
  if (length(cohort$followups) != 1) {
    stop(sprintf(paste("cohort %s has %d follow-ups; this brms script writes the one-follow-up model only",
                       "(PyMC adds participant effects across follow-ups)"), cohort$name, length(cohort$followups)))
  }
  cell <- function(measure, tp) {
    sub <- df[df$measure == measure & df$timepoint == tp, ]
    if (anyDuplicated(sub$participant_id)) stop(sprintf("%s at %s: duplicated participant rows", measure, tp))
    sub$value[match(ids, sub$participant_id)]  # absent cell -> NA
  }
  d <- data.frame(participant = ids, stringsAsFactors = FALSE)
  raw_y <- cell(outcome, cohort$followups[[1]])
  d$y <- std(raw_y, sprintf("%s at %s", outcome, cohort$followups[[1]]))
  d$b <- std(cell(outcome, cohort$baseline_timepoint), sprintf("%s at %s", outcome, cohort$baseline_timepoint))
  tps <- unlist(cohort$alliance_timepoints)
  for (k in seq_along(tps)) {
    d[[paste0("x", k)]] <- std(cell(cohort$alliance$measure, tps[[k]]), sprintf("alliance at %s", tps[[k]]))
  }
  o <- raw_y[is.finite(raw_y)]
  attr(d, "outcome_center") <- mean(o)
  attr(d, "outcome_scale") <- stats::sd(o)
  d
}

# Formula and priors for one missing-data pattern (the pattern is part of the compiled model, as in PyMC).
track_b_model <- function(d, n_alliance, prior_set, residual) {
  x_mis <- vapply(seq_len(n_alliance), function(k) anyNA(d[[paste0("x", k)]]), logical(1))
  b_mis <- anyNA(d$b)
  y_mis <- anyNA(d$y)
  multi <- any(x_mis) || b_mis
  resp <- if (multi) "y" else ""
  terms <- character()
  nlpars <- c("a", "bb", "gm", "tau", paste0("d", seq_len(n_alliance)))
  lin <- list()
  # with subset() on y, brms matches the rows of the mi() submodels through an index column
  idx <- if (y_mis && multi) ", idx = pid" else ""
  mi_lhs <- if (y_mis && multi) "mi() + index(pid)" else "mi()"
  for (k in seq_len(n_alliance)) {
    xk <- if (x_mis[k]) paste0("m", k) else paste0("x", k)
    if (x_mis[k]) lin[[xk]] <- as.formula(sprintf("%s ~ 0 + mi(x%d%s)", xk, k, idx))
    terms <- c(terms, sprintf("(gm + tau * d%d) * %s", k, xk))
  }
  bterm <- if (b_mis) "mb" else "b"
  if (b_mis) lin[["mb"]] <- as.formula(sprintf("mb ~ 0 + mi(b%s)", idx))
  # a missing follow-up leaves the outcome likelihood: subset() when other submodels still use the row, else the
  # row is simply dropped (prepare())
  lhs <- if (y_mis && multi) "y | subset(y_observed)" else "y"
  nl_rhs <- paste(c("a", sprintf("bb * %s", bterm), terms), collapse = " + ")
  fy <- do.call(bf, c(list(as.formula(paste(lhs, "~", nl_rhs)),
                        as.formula(paste(paste(nlpars, collapse = " + "), "~ 1"))),
                      unname(lin), list(nl = TRUE)))
  sp <- slope_prior(prior_set)
  tau <- prior_set$heterogeneity$alliance_phase %||% 0.15
  pr <- set_prior(sprintf("normal(0, %g)", FIXED$alpha_sd), nlpar = "a", resp = resp) +
    set_prior(sprintf("normal(0, %g)", FIXED$beta_sd), nlpar = "bb", resp = resp) +
    set_prior(sprintf("normal(%.15g, %.15g)", sp$mean, sp$sd), nlpar = "gm", resp = resp) +
    set_prior(sprintf("normal(0, %.15g)", tau), nlpar = "tau", lb = 0, resp = resp) +
    set_prior(sprintf("normal(0, %g)", FIXED$sigma), class = "sigma", resp = resp)
  for (k in seq_len(n_alliance)) pr <- pr + set_prior("normal(0, 1)", nlpar = paste0("d", k), resp = resp)
  for (m in names(lin)) pr <- pr + set_prior("constant(1)", class = "b", nlpar = m, resp = resp)
  if (residual == "student_t") pr <- pr + set_prior("gamma(2, 0.1)", class = "nu", resp = resp)
  f <- fy
  if (multi) {
    observed <- which(!x_mis)
    for (k in which(x_mis)) {
      rhs <- paste(c("1", paste0("x", observed)), collapse = " + ")
      f <- f + bf(as.formula(sprintf("x%d | %s ~ %s", k, mi_lhs, rhs)))
      rk <- paste0("x", k)
      pr <- pr + set_prior(sprintf("normal(0, %g)", FIXED$theta_sd), class = "Intercept", resp = rk) +
        set_prior(sprintf("normal(0, %g)", FIXED$sigma_x), class = "sigma", resp = rk)
      if (length(observed)) pr <- pr + set_prior("normal(0, 1)", class = "b", resp = rk)
    }
    if (b_mis) {
      f <- f + bf(as.formula(sprintf("b | %s ~ 1", mi_lhs)))
      pr <- pr + set_prior("constant(0)", class = "Intercept", resp = "b") +
        set_prior("constant(1)", class = "sigma", resp = "b")
    }
    f <- f + set_rescor(FALSE)
  }
  prepare <- function(d) {
    if (!y_mis) return(d)
    if (!multi) return(d[!is.na(d$y), ])
    d$y_observed <- !is.na(d$y)
    d$pid <- seq_len(nrow(d))
    d$y[is.na(d$y)] <- 0  # brms wants no NA in a subset() response; these rows are out of its likelihood
    d
  }
  list(formula = f, prior = pr, prepare = prepare, family = if (residual == "student_t") student() else gaussian(),
       resp = resp, pattern = list(alliance_missing = sum(is.na(as.matrix(d[paste0("x", seq_len(n_alliance))]))),
                                   baseline_missing = sum(is.na(d$b)), followup_missing = sum(is.na(d$y))))
}

slopes <- function(fit, n_alliance, tps, resp, outcome_scale) {
  dm <- as_draws_matrix(fit)
  nm <- function(p) if (nzchar(resp)) sprintf("b_%s_%s_Intercept", resp, p) else sprintf("b_%s_Intercept", p)
  gm <- as.numeric(dm[, nm("gm")])
  tau <- as.numeric(dm[, nm("tau")])
  per <- lapply(seq_len(n_alliance), function(k) summary_of(gm + tau * as.numeric(dm[, nm(paste0("d", k))])))
  names(per) <- tps
  sig <- if (nzchar(resp)) sprintf("sigma_%s", resp) else "sigma"
  list(
    gamma_mean = c(summary_of(gm), list(p_below_0 = mean(gm < 0), mcse = mcse_of(draws_matrix_of(fit, nm("gm"))))),
    gamma_mean_points = summary_of(gm * outcome_scale),
    tau = summary_of(tau),
    sigma = summary_of(as.numeric(dm[, sig])),
    slope_std = per
  )
}

main <- function(args) {
  a <- parse_args(args, c("clean", "out"), c("settings"))
  s <- read_settings(a$settings)
  cohort <- utils::modifyList(DEFAULT_COHORT, s$cohort %||% list())
  residual <- s$participant_residual %||% "normal"
  outcomes <- unlist(cohort$outcomes)
  tps <- unlist(cohort$alliance_timepoints)
  sp <- s$sampler
  iter <- sp$tune + sp$draws
  ctrl <- list(adapt_delta = sp$target_accept)
  d1 <- track_b_data(a$clean, cohort, outcomes[[1]])
  m <- track_b_model(d1, length(tps), s$priors[[s$base_prior]], residual)
  m_edit <- track_b_model(d1, length(tps), s$priors[[s$edit_prior]], residual)
  d2 <- if (length(outcomes) > 1) track_b_data(a$clean, cohort, outcomes[[2]]) else d1
  m2 <- track_b_model(d2, length(tps), s$priors[[s$base_prior]], residual)
  same_pattern <- identical(m$pattern, m2$pattern) &&
    identical(lapply(d1[paste0("x", seq_along(tps))], is.na), lapply(d2[paste0("x", seq_along(tps))], is.na)) &&
    identical(is.na(d1$b), is.na(d2$b)) && identical(is.na(d1$y), is.na(d2$y))
  if (!same_pattern) stop("the second outcome has another missing-data pattern: a data-only refit is not possible")
  message(sprintf("Track B (%s): %d participants, outcome %s, alliance at %s; missing: %s; %s residuals",
                  cohort$name, nrow(d1), outcomes[[1]], paste(tps, collapse = ", "),
                  paste(names(m$pattern), unlist(m$pattern), sep = " ", collapse = ", "), residual))
  load_start <- load_average()

  t_compile <- timed(brm(m$formula, data = m$prepare(d1), family = m$family, prior = m$prior, chains = 0,
                         seed = s$seed, silent = 2, refresh = 0))
  t_sample <- timed(update(t_compile$value, chains = sp$chains, iter = iter, warmup = sp$tune, cores = s$cores,
                           control = ctrl, seed = s$seed, recompile = FALSE, silent = 2, refresh = 0))
  fit <- t_sample$value
  message(sprintf("compile %.1f s, sample %.1f s", t_compile$seconds, t_sample$seconds))

  t_prior <- timed(update(fit, prior = m_edit$prior, chains = sp$chains, iter = iter, warmup = sp$tune,
                          cores = s$cores, control = ctrl, seed = s$seed, silent = 2, refresh = 0))
  fit_prior <- t_prior$value
  recompiled <- !identical(stancode(fit), stancode(fit_prior))
  message(sprintf("prior edit (%s -> %s): %.1f s (Stan program changed: %s)", s$base_prior, s$edit_prior,
                  t_prior$seconds, recompiled))

  t_data <- timed(update(fit, newdata = m$prepare(d2), chains = sp$chains, iter = iter, warmup = sp$tune,
                         cores = s$cores, control = ctrl, seed = s$seed, recompile = FALSE, silent = 2, refresh = 0))
  fit_data <- t_data$value
  message(sprintf("data-only refit (%s): %.1f s", outcomes[[min(2, length(outcomes))]], t_data$seconds))

  sc1 <- attr(d1, "outcome_scale")
  result <- list(
    model = "track_b",
    clean = normalizePath(a$clean),
    cohort = cohort$name,
    versions = versions(),
    settings = list(seed = s$seed, cores = s$cores, chains = sp$chains, draws = sp$draws, warmup = sp$tune,
                    adapt_delta = sp$target_accept, base_prior = s$base_prior, edit_prior = s$edit_prior,
                    residual = residual),
    n_participants = nrow(d1),
    alliance_timepoints = tps,
    missing = m$pattern,
    timings = list(
      compile_s = t_compile$seconds,
      sample_s = t_sample$seconds,
      compile_fit_s = t_compile$seconds + t_sample$seconds,
      prior_edit_s = t_prior$seconds,
      prior_edit_recompiled = recompiled,
      data_refit_s = t_data$seconds
    ),
    cpu_seconds = list(compile = t_compile$cpu_seconds, sample = t_sample$cpu_seconds,
                       prior_edit = t_prior$cpu_seconds, data_refit = t_data$cpu_seconds),
    load_average = list(start = load_start, end = load_average()),
    fits = list(
      base = c(list(outcome = outcomes[[1]], prior_set = s$base_prior, outcome_scale = sc1),
               slopes(fit, length(tps), tps, m$resp, sc1), list(sampler = fit_facts(fit))),
      prior_edit = c(list(outcome = outcomes[[1]], prior_set = s$edit_prior, outcome_scale = sc1),
                     slopes(fit_prior, length(tps), tps, m$resp, sc1), list(sampler = fit_facts(fit_prior))),
      data_refit = c(list(outcome = outcomes[[min(2, length(outcomes))]], prior_set = s$base_prior,
                          outcome_scale = attr(d2, "outcome_scale")),
                     slopes(fit_data, length(tps), tps, m$resp, attr(d2, "outcome_scale")),
                     list(sampler = fit_facts(fit_data)))
    ),
    stancode = as.character(stancode(fit))
  )
  write_result(result, a$out)
}

if (sys.nframe() == 0L) main(commandArgs(trailingOnly = TRUE))  # not when source()d
