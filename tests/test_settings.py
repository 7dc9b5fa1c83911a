"""The config schema as the one home of keys, ranges and defaults: what the workflow and each script accept."""

import subprocess
import sys

import pytest

from snakemake_runner import load_config
from wlf import settings

DEFINITIONS = (
    "dataset",
    "training",
    "inference",
    "evaluation",
    "tfidf_logreg",
    "tiny_model",
    "synthetic_corpus",
)


def merged(overlay):
    """Return config.yaml with each section of overlay updated key by key (as --configfile merges)."""
    config = load_config()
    for section, values in overlay.items():
        config[section] = {**config.get(section, {}), **values} if isinstance(values, dict) else values
    return config


@pytest.mark.parametrize("name", DEFINITIONS)
def test_every_key_a_script_reads_has_a_default(name):
    spec = settings.definition(name)["properties"]
    assert spec and all("default" in key_spec for key_spec in spec.values())
    assert settings.resolve(name, {}, name) == settings.defaults(name)


def test_the_production_and_demo_configs_pass():
    settings.check_config(load_config())
    settings.check_config(merged(load_config("demo.yaml")))


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        (
            {"infer": {"thresold": 0.9}},
            "infer.thresold: unknown key (did you mean threshold?); known: batch_size,",
        ),
        ({"evaluate": {"bootstrap_resample": 50}}, "evaluate.bootstrap_resample: unknown key"),
        ({"train": {"learning_rte": 1e-5}}, "train.learning_rte: unknown key (did you mean learning_rate?)"),
        (
            {"train": {"overrides": {"accept_gamma2.0_prop1_2": {"learning_rate": "fast"}}}},
            "train.overrides.accept_gamma2.0_prop1_2.learning_rate = 'fast' must be of type number",
        ),
        (
            {"train": {"overrides": {"accept_gamma2.0_prop1_2": {"gpus": 2}}}},
            "train.overrides.accept_gamma2.0_prop1_2.gpus: unknown key",
        ),
        ({"data": {"max_paper_tokens": 0}}, "data.max_paper_tokens = 0 must be an integer >= 1"),
        ({"data": {"synthetic": {"n_trian": 10}}}, "data.synthetic.n_trian: unknown key"),
        ({"model": {"tiny": {"hidden": 8}}}, "model.tiny.hidden: unknown key"),
        ({"baselines": {"tfidf_logreg": {"C": 0}}}, "baselines.tfidf_logreg.C = 0 must be a number > 0"),
        ({"infer": {"threshold": 1.5}}, "infer.threshold = 1.5 must be a number <= 1"),
        ({"evaluate": {"confidence": 1}}, "evaluate.confidence = 1 must be a number < 1"),
        ({"data": {"user_template": "Judge it."}}, "data.user_template must contain {paper} exactly once"),
    ],
)
def test_a_wrong_key_or_value_in_any_section_is_one_line_naming_it(overlay, message):
    with pytest.raises(settings.SettingsError) as error:
        settings.check_config(merged(overlay))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_script_fills_in_defaults_and_refuses_keys_of_other_sections():
    resolved = settings.resolve("inference", {"threshold": 0.7}, "infer", settings.model_keys())
    assert (
        resolved["threshold"] == 0.7
        and resolved["mode"] == "score"
        and resolved["trust_remote_code"] is False
    )
    with pytest.raises(settings.SettingsError, match=r"^infer\.gpus: unknown key"):
        settings.resolve("inference", {"gpus": 1}, "infer")


def test_an_object_setting_is_updated_key_by_key():
    resolved = settings.resolve("training", {"lora": {"r": 4}}, "train")
    assert resolved["lora"] == {**settings.defaults("training")["lora"], "r": 4}


def test_the_modules_the_snakefile_imports_need_no_torch():
    code = (
        "import sys; import wlf.settings, wlf.experiments, wlf.evaluation.figures; "
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert process.stdout.strip() == "[]"
