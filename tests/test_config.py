"""reanalysis.config.validate_config: the real config validates, defaults fill omitted sections, and each
kind of mistake is rejected with a message naming the key and what was expected."""

import copy
import re

import pytest
import yaml
from conftest import ROOT

from reanalysis.config import validate_config
from reanalysis.errors import InputError

PRIOR_SETS = ["enthusiastic", "psychotherapy", "reference", "sceptical"]
GROUPING = ["study", "alliance_phase", "outcome_timepoint", "outcome"]


@pytest.fixture(scope="module")
def real_config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture
def cfg(real_config):
    return copy.deepcopy(real_config)


def _error(config, source="config.yaml") -> str:
    with pytest.raises(InputError) as info:
        validate_config(config, source=source)
    return str(info.value)


# ---------------------------------------------------------------- valid configs
def test_real_config_validates_unchanged(real_config):
    out = validate_config(real_config)
    assert out == real_config  # every key is given, so no default is added
    assert out is not real_config
    assert sorted(out["priors"]) == PRIOR_SETS
    assert out["sampler"]["chains"] == 4
    assert len(out["thresholds"]) == 4


def test_omitted_gate_section_gets_defaults(cfg):
    del cfg["gate"]
    out = validate_config(cfg)
    assert out["gate"] == {
        "r_hat_max": 1.01,
        "ess_bulk_min": 400,
        "ess_tail_min": 400,
        "divergences_max": 0,
        "ebfmi_min": 0.3,
        "on_fail": "stop",
    }
    assert "gate" not in cfg  # the caller's dict is not modified


def test_partial_section_keeps_given_values_and_fills_the_rest(cfg):
    cfg["sampler"] = {"draws": 100}
    del cfg["published"]
    out = validate_config(cfg)
    assert out["sampler"] == {
        "backend": "nutpie",
        "gradient": "handwritten",
        "chains": 4,
        "draws": 100,
        "tune": 500,
        "target_accept": 0.99,
        "prior_draws": 2000,
        "retry": {"draws": 4000, "tune": 1500, "target_accept": 0.995},
    }
    assert out["published"]["grouping"] == GROUPING
    assert out["published"]["multiplicity"] == {
        "correction": "bonferroni",
        "family_size": 6,
        "family_size_by_study": {},
    }
    assert out["published"]["likelihood"] == "fisher_z"


def test_minimal_config_gets_every_section(cfg):
    out = validate_config({"priors": cfg["priors"]})
    assert out["seed"] == 20241122
    assert out["data"]["published"] == "data/raw/published/alliance_outcome_published.csv"
    assert out["thresholds"] == []
    assert out["gate"]["on_fail"] == "stop"


# ---------------------------------------------------------------- unknown keys
def test_unknown_top_level_key(cfg):
    cfg["sampeler"] = {"chains": 2}
    message = _error(cfg)
    assert message.startswith("1 problem(s) in config.yaml:")
    assert (
        "unknown key(s) sampeler; expected only "
        "['cohorts', 'data', 'gate', 'participant_residual', 'participant_thresholds', 'priors', 'published', "
        "'sampler', 'sbc', 'sbc_settings', 'scheduler', 'seed', 'thresholds', 'worker', 'worker_keep'] "
        "under <top level>"
    ) in message


def test_unknown_nested_key(cfg):
    cfg["published"]["likelihoood"] = "exact"
    message = _error(cfg)
    assert message.startswith("1 problem(s) in config.yaml:")
    assert "unknown key(s) published.likelihoood; expected only [" in message
    allowed = re.search(r"expected only (\[.*\]) under published", message).group(1)
    assert yaml.safe_load(allowed) == sorted(
        [
            "alpha",
            "grouping",
            "likelihood",
            "multiplicity",
            "n_sensitivity_prior",
            "n_source",
            "omitted_rows",
            "shared_sample_error_correlation",
            "std_beta_extra_sd",
            "widen_for_rounding",
        ]
    )


def test_unknown_key_inside_a_prior_set(cfg):
    cfg["priors"]["sceptical"]["rho"]["median"] = 0.0
    message = _error(cfg)
    assert (
        "unknown key(s) priors.sceptical.rho.median; expected only ['lower95', 'upper95'] under priors.sceptical.rho"
        in message
    )


# ---------------------------------------------------------------- wrong values
BAD_VALUES = [
    ("wrong_type", ("sampler", "chains"), "four", "key sampler.chains: 'four' is not of type 'integer' (Chains.)"),
    (
        "out_of_range",
        ("gate", "r_hat_max"),
        0.9,
        "key gate.r_hat_max: 0.9 is less than the minimum of 1 (Largest R-hat allowed.)",
    ),
    (
        "bad_enum",
        ("published", "likelihood"),
        "laplace",
        "key published.likelihood: 'laplace' is not one of ['fisher_z', 'exact']",
    ),
    (
        "bad_on_fail",
        ("gate", "on_fail"),
        "warn",
        "key gate.on_fail: 'warn' is not one of ['stop', 'flag']",
    ),
    (
        "negative_heterogeneity",
        ("priors", "reference", "heterogeneity", "study"),
        -0.2,
        "key priors.reference.heterogeneity.study: -0.2 is less than or equal to the minimum of 0",
    ),
    (
        "retry_target_accept_of_one",
        ("sampler", "retry", "target_accept"),
        1.0,
        "key sampler.retry.target_accept: 1.0 is greater than or equal to the maximum of 1",
    ),
    (
        "rho_outside_correlation",
        ("priors", "reference", "rho", "upper95"),
        1.0,
        "key priors.reference.rho.upper95: 1.0 is greater than or equal to the maximum of 1",
    ),
]


@pytest.mark.parametrize(("keys", "value", "fragment"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES])
def test_bad_value_names_key(cfg, keys, value, fragment):
    node = cfg
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    message = _error(cfg)
    assert message.startswith("1 problem(s) in config.yaml:")
    assert fragment in message


def test_retry_can_be_switched_off_or_partial(cfg):
    cfg["sampler"]["retry"] = None
    assert validate_config(cfg)["sampler"]["retry"] is None
    cfg["sampler"]["retry"] = {"draws": 8000}  # the other keys keep the first attempt's values
    assert validate_config(cfg)["sampler"]["retry"] == {"draws": 8000}
    cfg["sampler"]["retry"] = {"chains": 8}
    assert "unknown key(s) sampler.retry.chains" in _error(cfg)


def test_every_schema_problem_listed_with_the_source(cfg):
    cfg["sampler"]["chains"] = "four"
    cfg["gate"]["r_hat_max"] = 0.9
    cfg["published"]["likelihood"] = "laplace"
    message = _error(cfg, source="profiles/tiny/config.yaml")
    assert message.startswith("3 problem(s) in profiles/tiny/config.yaml:")
    for key in ["sampler.chains", "gate.r_hat_max", "published.likelihood"]:
        assert f"key {key}:" in message


def test_missing_priors_section(cfg):
    del cfg["priors"]
    assert "key <top level>: 'priors' is a required property" in _error(cfg)


# ---------------------------------------------------------------- cross-checks
def test_prior_interval_lower_not_below_upper(cfg):
    cfg["priors"]["sceptical"]["rho"] = {"lower95": 0.3, "upper95": 0.3}
    message = _error(cfg)
    assert message.startswith("1 problem(s) in config.yaml:")
    assert "key priors.sceptical.rho: lower95 0.3 >= upper95 0.3; expected lower < upper" in message


def test_missing_heterogeneity_scale_for_grouping_term(cfg):
    del cfg["priors"]["psychotherapy"]["heterogeneity"]["alliance_phase"]
    message = _error(cfg)
    assert message.startswith("1 problem(s) in config.yaml:")
    assert (
        "key priors.psychotherapy.heterogeneity: no scale for ['alliance_phase']; expected one per term in "
        f"published.grouping {GROUPING} and 'residual'"
    ) in message


def test_missing_residual_scale(cfg):
    cfg["published"]["grouping"] = ["study"]
    cfg["priors"]["reference"]["heterogeneity"] = {"study": 0.2}
    message = _error(cfg)
    assert "key priors.reference.heterogeneity: no scale for ['residual']" in message


def test_n_sensitivity_prior_must_name_a_prior_set(cfg):
    cfg["published"]["n_sensitivity_prior"] = "referense"
    message = _error(cfg)
    assert message.startswith("1 problem(s) in config.yaml:")
    assert f"key published.n_sensitivity_prior: 'referense' is not a prior set; expected one of {PRIOR_SETS}" in message


def test_cross_check_problems_reported_together(cfg):
    cfg["priors"]["enthusiastic"]["rho"] = {"lower95": -0.2, "upper95": -0.75}
    cfg["published"]["n_sensitivity_prior"] = "nope"
    message = _error(cfg)
    assert message.startswith("2 problem(s) in config.yaml:")
    assert "key priors.enthusiastic.rho: lower95 -0.2 >= upper95 -0.75" in message
    assert "key published.n_sensitivity_prior: 'nope'" in message


def test_sbc_full_needs_at_least_200_replicates(cfg):
    cfg["sbc_settings"] = {"replicates": {"full": 150}}
    assert "sbc_settings.replicates.full" in _error(cfg)


def test_sbc_size_is_quick_or_full(cfg):
    cfg["sbc"] = "huge"
    assert "sbc" in _error(cfg) and "quick" in _error(cfg)


@pytest.mark.parametrize(
    "path",
    ["config.yaml", "workflow/schemas/config.schema.yaml", "workflow/schemas/participants.schema.yaml",
     "workflow/schemas/published.schema.yaml"],
)  # fmt: skip
def test_load_yaml_reads_what_safe_load_reads(path):
    """libyaml's parser where PyYAML has it, with the safe loader's constructors: the same values and types."""
    from reanalysis.config import load_yaml

    text = (ROOT / path).read_text()
    assert yaml.__with_libyaml__  # the pinned PyYAML wheel has it; without it load_yaml is safe_load itself
    assert repr(load_yaml(text)) == repr(yaml.safe_load(text))
    with pytest.raises(yaml.constructor.ConstructorError):  # and refuses what safe_load refuses
        load_yaml("!!python/object/apply:os.getcwd []")
