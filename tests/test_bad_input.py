"""Bad input stops before it costs GPU-hours, names its cause in one line, and destroys nothing.

Each test feeds one mistake a new user makes to the real script or the real Snakemake CLI and checks the exit
code, the one-line message and that no output was written, moved or deleted. The positive controls at the end
must keep passing.
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import aggregate_metrics
import evaluate
import hypotheses
import infer
import plots
import priorshift
import synthetic_corpus
import tfidf_baseline
import tiny_model
import train
from paper_sources import run_cli as make_set
from paper_sources import table_rows as paper_rows
from paper_sources import write_jsonl
from snakemake_runner import (
    copy_workflow,
    run_snakemake,
    workflow_env,
    write_config_overlay,
)
from wlf import files
from wlf.data import leakage

REPO = Path(__file__).resolve().parents[1]


def one_line_error(capsys, stage):
    """Return the single error line a script printed, checking its form: `<stage>: error: ...`, no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{stage}: error: ") and "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- leakage


def test_a_resubmission_under_a_new_id_with_the_same_title_is_leakage(tmp_path, capsys, data_tiny_model):
    train_rows, test_rows = paper_rows(), paper_rows(prefix="q")
    test_rows[2]["title"] = "  PAPER   P NUMBER 7  "  # train row 8's title, in upper case with extra spaces
    source = write_jsonl(tmp_path / "train.jsonl", train_rows)
    test_source = write_jsonl(tmp_path / "test.jsonl", test_rows)
    code, data, stats = make_set(tmp_path, data_tiny_model, source=source, test_source=test_source)
    line = one_line_error(capsys, "make_dataset")
    assert code == 2 and not data.exists() and not stats.exists()
    assert "1 training paper(s) also in the test source (1 same title)" in line
    assert f"{source} row 8 ~ {test_source} row 3 (same title: 'Paper p number 7')" in line


def test_a_title_that_differs_only_in_punctuation_is_a_near_duplicate(tmp_path, capsys, data_tiny_model):
    train_rows, test_rows = paper_rows(), paper_rows(prefix="q")
    train_rows[0]["title"] = "Graph-Nets: scaling up, fast"
    test_rows[5]["title"] = "GraphNets scaling up fast!"
    source = write_jsonl(tmp_path / "train.jsonl", train_rows)
    test_source = write_jsonl(tmp_path / "test.jsonl", test_rows)
    code, data, _ = make_set(tmp_path, data_tiny_model, source=source, test_source=test_source)
    line = one_line_error(capsys, "make_dataset")
    assert code == 2 and not data.exists()
    assert f"{source} row 1 ~ {test_source} row 6 (near-duplicate title" in line


def test_stats_record_what_the_leakage_check_compared(tmp_path, data_tiny_model):
    source = write_jsonl(tmp_path / "train.jsonl", paper_rows())
    test_source = write_jsonl(tmp_path / "test.jsonl", paper_rows(3, 7, prefix="q"))
    code, _, stats = make_set(tmp_path, data_tiny_model, source=source, test_source=test_source)
    assert code == 0
    assert json.loads(stats.read_text())["leakage"] == {
        "compared": ["same id", "same title", "near-duplicate title"],
        "train_papers": 12,
        "test_papers": 10,
        "pairs_checked": 120,
        "shared": 0,
    }


def test_leakage_keys_fold_case_space_and_punctuation():
    assert leakage.normalise_title("  Deep  LEARNING ") == "deep learning"
    assert leakage.title_without_punctuation("Deep-Learning: a Survey!") == "deeplearningasurvey"
    assert leakage.title_without_punctuation("") == ""


# ---------------------------------------------------------------- config typos stop the workflow at start


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        (
            {"infer": {"thresold": 0.9}},
            "invalid config: infer.thresold: unknown key (did you mean threshold?)",
        ),
        (
            {"evaluate": {"bootstrap_resample": 50}},
            "invalid config: evaluate.bootstrap_resample: unknown key (did you mean bootstrap_resamples?)",
        ),
        ({"train": {"learning_rte": 1e-5}}, "invalid config: train.learning_rte: unknown key"),
        (
            {"train": {"overrides": {"accept_gamma2.0_prop1_3": {"learning_rate": "fast"}}}},
            "invalid config: train.overrides.accept_gamma2.0_prop1_3.learning_rate = 'fast' must be of type number",
        ),
    ],
    ids=["infer-typo", "evaluate-typo", "train-typo", "override-type"],
)
def test_a_config_typo_stops_the_dry_run_in_one_line_naming_the_key(workdir, tmp_path, overlay, message):
    config_file = write_config_overlay(tmp_path / "typo.yaml", overlay)
    process = run_snakemake(workdir, "-n", "--configfile", "config/demo.yaml", str(config_file), check=False)
    output = process.stdout + process.stderr
    assert process.returncode != 0 and message in output
    assert not (workdir / "results").exists()


def test_a_missing_model_folder_stops_the_run_before_its_first_job(workdir, tmp_path):
    # the demo builds its own model; without that, the configured folder must exist
    overlay = write_config_overlay(
        tmp_path / "model.yaml", {"model": {"embedded": False, "name_or_path": "/no/such/model"}}
    )
    process = run_snakemake(
        workdir, "--cores", "1", "--configfile", "config/demo.yaml", str(overlay), check=False
    )
    output = process.stdout + process.stderr
    assert process.returncode != 0
    assert (
        "model.name_or_path = '/no/such/model': model folder /no/such/model does not exist, and it is not a hub id"
        in output
    )
    assert not (workdir / "results").exists()


def test_the_data_stage_is_told_the_smallest_max_length_of_its_experiments(workdir, tmp_path):
    overlay = write_config_overlay(
        tmp_path / "lengths.yaml", {"train": {"overrides": {"accept_gamma2.0_prop1_3": {"max_length": 300}}}}
    )
    process = run_snakemake(
        workdir, "-n", "-p", "results/data/prop1_3/train.jsonl", "results/data/prop1_2/train.jsonl",
        "--configfile", "config/demo.yaml", str(overlay),
    )  # fmt: skip
    commands = [line for line in process.stdout.splitlines() if "make_dataset.py --split train" in line]
    assert any("--prop 1_3" in line and "--max-length 300 " in line for line in commands)
    assert any("--prop 1_2" in line and "--max-length 512 " in line for line in commands)


# ---------------------------------------------------------------- output paths and sets


def test_train_refuses_an_output_dir_that_is_a_file_and_leaves_it_untouched(tmp_path, capsys):
    existing = tmp_path / "model"
    existing.write_text("my notes")
    code = train.main(
        [
            "--train-file", str(tmp_path / "never-read.jsonl"), "--model", "unused", "--variant", "accept",
            "--gamma", "2", "--output-dir", str(existing), "--checkpoint-dir", str(tmp_path / "ckpt"),
        ]
    )  # fmt: skip
    line = one_line_error(capsys, "train")
    assert code == 2 and f"{existing} is an existing file, but a folder is written there" in line
    assert existing.read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_make_dataset_checks_both_outputs_before_any_work(tmp_path, capsys, data_tiny_model):
    source = write_jsonl(tmp_path / "test.jsonl", paper_rows())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stats.json").mkdir()  # a folder where the stats file goes
    code, data, _ = make_set(tmp_path, data_tiny_model, split="test", source=source)
    line = one_line_error(capsys, "make_dataset")
    assert code == 2 and "stats.json is an existing folder, but a file is written there" in line
    assert not data.exists()


def test_a_set_of_outputs_is_written_together_or_not_at_all(tmp_path, monkeypatch):
    first, second = tmp_path / "data.jsonl", tmp_path / "stats.json"
    first.write_text("old data\n")
    real_replace = os.replace

    def fail_on_the_stats(source, target):
        if Path(target) == second:
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", fail_on_the_stats)
    with pytest.raises(OSError, match="disk full"):
        files.write_together({first: "new data\n", second: "{}\n"})
    monkeypatch.undo()
    assert first.read_text() == "old data\n" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]  # no temporary or backup left


@pytest.mark.parametrize(
    ("script", "stage", "argv"),
    [
        (synthetic_corpus, "synthetic_corpus", ["--seed", "0", "--train-out", "{d}", "--test-out", "{o}/t.jsonl"]),
        (tiny_model, "tiny_model", ["--corpus", "{m}", "--seed", "0", "--output-dir", "{f}"]),
        (infer, "infer", ["--model", "{m}", "--test-file", "{m}", "--output", "{d}"]),
        (evaluate, "evaluate", ["--predictions", "{m}", "--experiment", "{{}}", "--output", "{d}"]),
        (priorshift, "priorshift", [
            "--baseline-predictions", "{m}", "--baseline-experiment", "{{}}", "--experiment", "{{}}",
            "--threshold", "0.5", "--output", "{o}/p.jsonl", "--status", "{d}",
        ]),
        (tfidf_baseline, "tfidf_logreg", [
            "--train-file", "{m}", "--test-file", "{m}", "--experiment", "{{}}", "--output", "{d}",
        ]),
        (aggregate_metrics, "aggregate", ["{m}", "--output-json", "{o}/a.json", "--output-csv", "{d}"]),
        (hypotheses, "hypotheses", [
            "--all-metrics", "{m}", "--predictions", "{m}", "--runs", "[]", "--output-json", "{o}/h.json",
            "--output-md", "{d}",
        ]),
        (plots, "plots", [
            "--all-metrics", "{m}", "--predictions", "{m}", "--model-dirs", "{m}", "--runs", "[]", "--outdir", "{f}",
        ]),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_every_script_refuses_an_output_where_it_cannot_write_in_one_line(
    tmp_path, capsys, script, stage, argv
):
    """{d}: an existing folder where a file goes; {f}: an existing file where a folder goes; {m}: missing."""
    folder, plain = tmp_path / "folder", tmp_path / "file"
    folder.mkdir()
    plain.write_text("keep me")
    names = {"d": folder, "f": plain, "o": tmp_path / "out", "m": tmp_path / "missing"}
    code = script.main([part.format(**names) for part in argv])
    line = one_line_error(capsys, stage)
    assert code == 2 and ("is an existing" in line)
    assert plain.read_text() == "keep me" and not list(folder.iterdir()) and not (tmp_path / "out").exists()


def test_a_missing_input_file_is_one_line_naming_it(tmp_path, capsys):
    code = evaluate.main(
        [
            "--predictions", str(tmp_path / "none.jsonl"),
            "--experiment", json.dumps({"name": "baseline_gamma1.0_prop1_2", "prop": "1_2", "variant": "baseline", "gamma": 1.0}),
            "--output", str(tmp_path / "m.json"),
        ]
    )  # fmt: skip
    line = one_line_error(capsys, "evaluate")
    assert code == 2 and "No such file or directory" in line and "none.jsonl" in line


def test_outputs_honour_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        files.write_together({tmp_path / "a.jsonl": "x\n", tmp_path / "b.json": "{}\n"})
        files.write_json(tmp_path / "c.json", {})
    finally:
        os.umask(previous)
    for name in ("a.jsonl", "b.json", "c.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


# ---------------------------------------------------------------- unclear messages become one line


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_a_byte_that_is_not_utf8_is_named_by_file_and_line(tmp_path, capsys, data_tiny_model, suffix):
    rows = paper_rows()
    path = tmp_path / f"test{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, rows)
    elif suffix == ".json":
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    else:
        path.write_text(
            "id,title,abstract,decision\n"
            + "".join(f"{r['id']},{r['title']},{r['abstract']},{r['decision']}\n" for r in rows)
        )
    lines = path.read_bytes().split(b"\n")
    bad = [index for index, line in enumerate(lines) if b"problem 3" in line][0]
    lines[bad] = lines[bad].replace(b"problem", b"probl\xe9m")  # a latin-1 'é'
    path.write_bytes(b"\n".join(lines))
    code, data, _ = make_set(tmp_path, data_tiny_model, split="test", source=path)
    line = one_line_error(capsys, "make_dataset")
    assert code == 2 and f"{path}:{bad + 1}: not UTF-8 text (byte 0xe9 at column" in line
    assert not data.exists()


def test_a_missing_model_folder_is_named_before_the_heavy_imports(tmp_path):
    source = write_jsonl(tmp_path / "test.jsonl", paper_rows())
    code = (
        "import sys, make_dataset\n"
        f"code = make_dataset.main(['--split', 'test', '--source', {str(source)!r}, '--model', '/no/model/here',"
        f" '--output', {str(tmp_path / 'd.jsonl')!r}, '--stats', {str(tmp_path / 's.json')!r}])\n"
        "print(code, 'transformers' in sys.modules, 'torch' in sys.modules)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO / "workflow" / "scripts", capture_output=True, text=True,
        env=workflow_env(),
    )  # fmt: skip
    assert process.stdout.split() == ["2", "False", "False"], process.stderr
    assert process.stderr.strip() == (
        "make_dataset: error: --model = '/no/model/here': model folder /no/model/here does not exist, and it is "
        "not a hub id"
    )


def test_a_hub_id_while_offline_is_named_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    train_file = write_jsonl(tmp_path / "train.jsonl", [
        {"id": "a", "label": "Accept", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "Accept"}]}
    ])  # fmt: skip
    code = train.main(
        [
            "--train-file", str(train_file), "--model", "no-such-org/no-such-model", "--variant", "accept",
            "--gamma", "2", "--output-dir", str(tmp_path / "m"), "--checkpoint-dir", str(tmp_path / "c"),
            "--tensorboard-dir", str(tmp_path / "t"),
        ]
    )  # fmt: skip
    line = one_line_error(capsys, "train")
    assert (
        code == 2 and "'no-such-org/no-such-model' is a hub id, but the hub is off (HF_HUB_OFFLINE)" in line
    )
    assert not (tmp_path / "m").exists() and not (tmp_path / "c").exists()


def test_papers_too_long_for_training_stop_the_data_stage_naming_both_settings(
    tmp_path, capsys, data_tiny_model
):
    rows = paper_rows()
    rows[4]["abstract"] = " ".join(["a long and detailed abstract"] * 80)
    source = write_jsonl(tmp_path / "train.jsonl", rows)
    test_source = write_jsonl(tmp_path / "test.jsonl", paper_rows(prefix="q"))
    code, data, stats = make_set(
        tmp_path, data_tiny_model, source=source, test_source=test_source, extra=["--max-length", "128"]
    )
    line = one_line_error(capsys, "make_dataset")
    assert code == 2 and not data.exists() and not stats.exists()
    assert "paper 'p4' (source row 5) is " in line
    assert (
        "more than train.max_length = 128; raise train.max_length or lower data.max_paper_tokens (now 512)"
        in line
    )


# ---------------------------------------------------------------- a retrain keeps the previous model


def test_a_failed_retrain_keeps_the_previous_model_beside_the_checkpoints(
    tmp_path, data_tiny_model, data_chat_rows
):
    train_file = write_jsonl(tmp_path / "train.jsonl", data_chat_rows[:8])
    model_dir, checkpoint_dir = tmp_path / "models" / "exp", tmp_path / "checkpoints" / "exp"

    def run(settings):
        argv = [
            sys.executable, str(REPO / "workflow" / "scripts" / "train.py"), "--train-file", str(train_file),
            "--model", str(data_tiny_model), "--variant", "accept", "--gamma", "2", "--settings",
            json.dumps({"num_train_epochs": 1, "per_device_train_batch_size": 4, "report_to": "none", **settings}),
            "--output-dir", str(model_dir), "--checkpoint-dir", str(checkpoint_dir),
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=workflow_env())

    first = run({})
    assert first.returncode == 0, first.stderr[-2000:]
    kept = checkpoint_dir / "model"
    first_summary = json.loads((model_dir / "train_summary.json").read_text())
    assert json.loads((kept / "train_summary.json").read_text()) == first_summary
    assert (kept / "model.safetensors").stat().st_ino == (model_dir / "model.safetensors").stat().st_ino
    # a changed setting: Snakemake deletes the model folder, then the new job fails after the fresh start
    for path in sorted(model_dir.iterdir()):
        path.unlink()
    model_dir.rmdir()
    second = run({"learning_rate": 1e-3, "max_length": 16})
    assert second.returncode != 0
    assert "the last complete model stays in" in second.stdout
    assert json.loads((kept / "train_summary.json").read_text()) == first_summary
    assert not list(checkpoint_dir.glob("checkpoint-*"))
    third = run({"learning_rate": 1e-3})
    assert third.returncode == 0, third.stderr[-2000:]
    assert json.loads((kept / "train_summary.json").read_text())["settings"]["learning_rate"] == 1e-3


# ---------------------------------------------------------------- positive controls


def test_label_spellings_still_normalise(tmp_path, data_tiny_model):
    rows = paper_rows(3, 3, decisions=("Accept (Poster)", "REJECT"))
    rows[1]["decision"], rows[2]["decision"] = "accepted", "Accept (Oral)"
    source = write_jsonl(tmp_path / "test.jsonl", rows)
    code, data, _ = make_set(tmp_path, data_tiny_model, split="test", source=source)
    assert code == 0
    labels = {row["id"]: row["label"] for row in map(json.loads, data.read_text().splitlines())}
    assert labels == {
        "p0": "Accept",
        "p1": "Accept",
        "p2": "Accept",
        "p3": "Reject",
        "p4": "Reject",
        "p5": "Reject",
    }


def test_a_3_mb_paper_is_truncated_with_its_answer_intact(tmp_path, data_tiny_model):
    rows = paper_rows(3, 3)
    rows[0]["abstract"] = "word " * 600_000  # 3 MB
    source = write_jsonl(tmp_path / "test.jsonl", rows)
    code, data, stats = make_set(
        tmp_path, data_tiny_model, split="test", source=source, settings={"max_paper_tokens": 64}
    )
    assert code == 0
    row = next(row for row in map(json.loads, data.read_text().splitlines()) if row["id"] == "p0")
    assert row["truncated"] and row["n_paper_tokens"] > 500_000
    assert row["messages"][-1] == {"role": "assistant", "content": "Accept"}
    assert len(row["messages"][1]["content"]) < 2000
    assert json.loads(stats.read_text())["n_truncated"] == 1
