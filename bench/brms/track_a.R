# Track A in brms: the hierarchical Fisher-z model of the published statistics (models/published.py), timed.
#
#   Rscript bench/brms/track_a.R OBSERVATIONS_CSV OUT_JSON [--settings SETTINGS_JSON] [--newdata OBSERVATIONS_CSV]
#
# OBSERVATIONS_CSV is results/data/published/observations.<n_source>.csv (models/evidence.py). For row i:
#
#   z_i = atanh(r_i) ~ Normal(mu + sum_g u_g[level_g(i)], sqrt(se_i^2 + sigma_residual^2)),
#   se_i = sqrt(1 / (n_eff_i - 3) + extra_sd_i^2),   u_g ~ Normal(0, sd_g)          (brms: non-centred)
#
# observed as a point (statistic r, std_beta) or interval-censored on the z scale, brms cens("interval") with the
# interval's atanh'd ends (not_significant, omitted_from_abstract, variance_explained_range,
# significant_uncorrected). n_eff already holds n - k and the design effect (models/evidence.py). PyMC's per-row
# residual e_i ~ Normal(0, 1) * sigma_residual is integrated out here (se(..., sigma = TRUE)): the same model.
# Rows whose sign is unknown (a union of two intervals, r_hi2 > r_lo2) cannot be written with cens(): the script
# stops on them.
#
# Timed steps, in one R session (seconds of wall clock; JSON written to OUT_JSON):
#   compile_s      brm(..., chains = 0): brms Stan code generation + C++ compile, no sampling
#   sample_s       update(fit0, chains = 4, recompile = FALSE): sampling only
#   compile_fit_s  compile_s + sample_s (what one brm() call costs)
#   prior_edit_s   update(fit, prior = <edit prior set>): brms compiles prior constants into the Stan program,
#                  so this recompiles, then samples
#   data_refit_s   update(fit, newdata = --newdata or the same file, recompile = FALSE)
# and the posterior of the pooled rho = tanh(Intercept) of each fit.

script_dir <- if (sys.nframe() == 0L) {  # run by Rscript
  dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[[1]])))
} else {  # source()d
  dirname(normalizePath(sys.frame(1)$ofile))
}
source(file.path(script_dir, "common.R"))

R_CLIP <- 0.999999  # models/likelihoods.py _atanh clips r to this before atanh

track_a_data <- function(path, grouping) {
  obs <- utils::read.csv(path, stringsAsFactors = FALSE, check.names = FALSE)
  need <- c("row_id", "kind", "n_eff", "r_obs", "r_lo1", "r_hi1", "r_lo2", "r_hi2", "extra_sd", grouping)
  miss <- setdiff(need, names(obs))
  if (length(miss)) stop(sprintf("%s: no column(s) %s", path, paste(miss, collapse = ", ")))
  two <- obs$kind != "point" & obs$r_hi2 > obs$r_lo2
  if (any(two)) {
    stop(sprintf(paste("%s: row(s) %s are censored to a union of two intervals (sign unknown);",
                       "brms cens() has no such case"), path, paste(obs$row_id[two], collapse = ", ")))
  }
  clip_atanh <- function(r) atanh(pmin(pmax(r, -R_CLIP), R_CLIP))
  point <- obs$kind == "point"
  lo_inf <- !point & obs$r_lo1 <= -1
  hi_inf <- !point & obs$r_hi1 >= 1
  d <- data.frame(
    row_id = obs$row_id,
    z = ifelse(point, clip_atanh(obs$r_obs), ifelse(lo_inf, clip_atanh(obs$r_hi1), clip_atanh(obs$r_lo1))),
    z_hi = ifelse(point | lo_inf | hi_inf, 0, clip_atanh(obs$r_hi1)),
    cens = ifelse(point, "none", ifelse(lo_inf & hi_inf, NA, ifelse(lo_inf, "left", ifelse(hi_inf, "right", "interval")))),
    se_z = sqrt(1 / (obs$n_eff - 3) + obs$extra_sd^2),
    stringsAsFactors = FALSE
  )
  if (anyNA(d$cens)) stop(sprintf("%s: an interval row spans all of (-1, 1)", path))
  for (g in grouping) d[[g]] <- factor(as.character(obs[[g]]))
  d
}

track_a_formula <- function(grouping) {
  rhs <- paste(c("1", sprintf("(1 | %s)", grouping)), collapse = " + ")
  bf(as.formula(paste("z | se(se_z, sigma = TRUE) + cens(cens, z_hi) ~", rhs)))
}

track_a_prior <- function(prior_set, grouping) {
  zp <- z_prior(prior_set)
  het <- prior_set$heterogeneity
  miss <- setdiff(c(grouping, "residual"), names(het))
  if (length(miss)) stop(sprintf("heterogeneity has no scale for %s", paste(miss, collapse = ", ")))
  p <- set_prior(sprintf("normal(%.15g, %.15g)", zp$mean, zp$sd), class = "Intercept")
  for (g in grouping) p <- p + set_prior(sprintf("normal(0, %.15g)", het[[g]]), class = "sd", group = g)
  p + set_prior(sprintf("normal(0, %.15g)", het[["residual"]]), class = "sigma")  # half-normal: sigma > 0
}

pooled_rho <- function(fit) {
  rho_m <- draws_matrix_of(fit, "b_Intercept", tanh)
  rho <- as.numeric(rho_m)
  c(summary_of(rho), list(mcse = mcse_of(rho_m)), list(
    p_below_0 = mean(rho < 0), p_below_m0.1 = mean(rho < -0.1),
    p_abs_above_0.28 = mean(abs(rho) > 0.28), p_below_m0.28 = mean(rho < -0.28)
  ))
}

heterogeneity <- function(fit, grouping) {
  dm <- as_draws_matrix(fit)
  out <- lapply(grouping, function(g) summary_of(as.numeric(dm[, sprintf("sd_%s__Intercept", g)])))
  names(out) <- grouping
  out$residual <- summary_of(as.numeric(dm[, "sigma"]))
  out
}

main <- function(args) {
  a <- parse_args(args, c("observations", "out"), c("settings", "newdata"))
  s <- read_settings(a$settings)
  grouping <- unlist(s$grouping)
  sp <- s$sampler
  iter <- sp$tune + sp$draws
  d <- track_a_data(a$observations, grouping)
  newdata_path <- a$newdata %||% a$observations
  d_new <- track_a_data(newdata_path, grouping)
  f <- track_a_formula(grouping)
  p_base <- track_a_prior(s$priors[[s$base_prior]], grouping)
  p_edit <- track_a_prior(s$priors[[s$edit_prior]], grouping)
  message(sprintf("Track A: %d rows (%d censored), grouping %s; %d chains x %d draws (+%d warm-up), %d cores",
                  nrow(d), sum(d$cens != "none"), paste(grouping, collapse = ", "), sp$chains, sp$draws, sp$tune,
                  s$cores))
  ctrl <- list(adapt_delta = sp$target_accept)
  load_start <- load_average()

  t_compile <- timed(brm(f, data = d, family = gaussian(), prior = p_base, chains = 0, seed = s$seed,
                         silent = 2, refresh = 0))
  fit0 <- t_compile$value
  t_sample <- timed(update(fit0, chains = sp$chains, iter = iter, warmup = sp$tune, cores = s$cores,
                           control = ctrl, seed = s$seed, recompile = FALSE, silent = 2, refresh = 0))
  fit <- t_sample$value
  message(sprintf("compile %.1f s, sample %.1f s", t_compile$seconds, t_sample$seconds))

  t_prior <- timed(update(fit, prior = p_edit, chains = sp$chains, iter = iter, warmup = sp$tune, cores = s$cores,
                          control = ctrl, seed = s$seed, silent = 2, refresh = 0))
  fit_prior <- t_prior$value
  recompiled <- !identical(stancode(fit), stancode(fit_prior))
  message(sprintf("prior edit (%s -> %s): %.1f s (Stan program changed: %s)", s$base_prior, s$edit_prior,
                  t_prior$seconds, recompiled))

  t_data <- timed(update(fit, newdata = d_new, chains = sp$chains, iter = iter, warmup = sp$tune, cores = s$cores,
                         control = ctrl, seed = s$seed, recompile = FALSE, silent = 2, refresh = 0))
  fit_data <- t_data$value
  message(sprintf("data-only refit (%s): %.1f s", basename(newdata_path), t_data$seconds))

  result <- list(
    model = "track_a",
    observations = normalizePath(a$observations),
    newdata = normalizePath(newdata_path),
    versions = versions(),
    settings = list(seed = s$seed, cores = s$cores, chains = sp$chains, draws = sp$draws, warmup = sp$tune,
                    adapt_delta = sp$target_accept, grouping = grouping, base_prior = s$base_prior,
                    edit_prior = s$edit_prior),
    n_rows = nrow(d),
    n_censored = sum(d$cens != "none"),
    timings = list(
      compile_s = t_compile$seconds,
      sample_s = t_sample$seconds,
      compile_fit_s = t_compile$seconds + t_sample$seconds,
      prior_edit_s = t_prior$seconds,
      prior_edit_recompiled = recompiled,
      data_refit_s = t_data$seconds
    ),
    cpu_seconds = list(
      compile = t_compile$cpu_seconds,
      sample = t_sample$cpu_seconds,
      prior_edit = t_prior$cpu_seconds,
      data_refit = t_data$cpu_seconds
    ),
    load_average = list(start = load_start, end = load_average()),
    fits = list(
      base = list(prior_set = s$base_prior, data = basename(a$observations), rho_pooled = pooled_rho(fit),
                  heterogeneity = heterogeneity(fit, grouping), sampler = fit_facts(fit)),
      prior_edit = list(prior_set = s$edit_prior, data = basename(a$observations), rho_pooled = pooled_rho(fit_prior),
                        heterogeneity = heterogeneity(fit_prior, grouping), sampler = fit_facts(fit_prior)),
      data_refit = list(prior_set = s$base_prior, data = basename(newdata_path), rho_pooled = pooled_rho(fit_data),
                        heterogeneity = heterogeneity(fit_data, grouping), sampler = fit_facts(fit_data))
    ),
    stancode = as.character(stancode(fit))
  )
  write_result(result, a$out)
}

if (sys.nframe() == 0L) main(commandArgs(trailingOnly = TRUE))  # not when source()d
