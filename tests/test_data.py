"""Data stage: source readers, label rules, exact proportions, truncation, stats, leakage and the corpus."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import synthetic_corpus as synthetic_corpus_cli
from paper_sources import run_cli, table_rows, write_jsonl
from wlf import labels
from wlf.data import prompts, sampling, sources, synthetic


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load(path, **settings):
    return sources.load_source(path, sources.SourceSettings(**settings))


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Accept (Poster)", "Accept"),
        ("Accept (Oral)", "Accept"),
        ("accepted", "Accept"),
        ("ACCEPT", "Accept"),
        ("  Accept: spotlight", "Accept"),
        ("reject", "Reject"),
        ("Rejected", "Reject"),
        (True, "Accept"),
        (False, "Reject"),
        (np.bool_(True), "Accept"),
        ("FALSE", "Reject"),
        ("true", "Accept"),
        ("Withdrawn", None),
        ("acceptance pending", None),
        ("maybe accept", None),
        (1, None),
        (None, None),
    ],
)
def test_labels_normalise_by_leading_word_or_boolean(value, expected):
    assert labels.normalise_label(value) == expected


# ---------------------------------------------------------------- readers


def test_alpaca_json_list_reads_label_from_output_and_paper_from_input(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(
        json.dumps(
            [
                {
                    "instruction": "Judge this paper.",
                    "input": "Title: Deep Nets\nAbstract: We train.",
                    "output": "Accept",
                    "system": "You review.",
                },
                {"instruction": "Title: Shallow Nets\nAbstract: We do not.", "input": "", "output": "Reject"},
            ]
        )
    )
    loaded = load(path)
    assert loaded.format == "alpaca"
    assert [(p.title, p.label) for p in loaded.papers] == [
        ("Deep Nets", "Accept"),
        ("Shallow Nets", "Reject"),
    ]
    assert loaded.papers[0].text == "Title: Deep Nets\nAbstract: We train."
    assert loaded.papers[1].text.startswith("Title: Shallow Nets")  # instruction used when input is empty
    assert all(p.paper_id.startswith("sha-") and not p.has_source_id for p in loaded.papers)


def test_alpaca_jsonl_keeps_source_ids(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"id": "a1", "instruction": "Judge.", "input": "Paper one text", "output": "Accept (Oral)"},
            {"id": "a2", "instruction": "Judge.", "input": "Paper two text", "output": "rejected"},
        ],
    )
    loaded = load(path)
    assert loaded.format == "alpaca"
    assert [(p.paper_id, p.label, p.has_source_id) for p in loaded.papers] == [
        ("a1", "Accept", True),
        ("a2", "Reject", True),
    ]


def test_messages_jsonl_takes_last_user_and_last_assistant_turn(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "warm-up"},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "Judge this.\nTitle: Real Paper\nBody"},
                    {"role": "assistant", "content": "Reject"},
                ]
            },
        ],
    )
    loaded = load(path)
    assert loaded.format == "messages"
    paper = loaded.papers[0]
    assert (paper.text, paper.title, paper.label) == (
        "Judge this.\nTitle: Real Paper\nBody",
        "Real Paper",
        "Reject",
    )


def test_sharegpt_conversations_are_read_like_messages(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {
                "id": 7,
                "conversations": [
                    {"from": "human", "value": "A paper about graphs"},
                    {"from": "gpt", "value": "ACCEPT"},
                ],
            },
        ],
    )
    paper = load(path).papers[0]
    assert (paper.paper_id, paper.text, paper.label) == ("7", "A paper about graphs", "Accept")


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_tabular_files_join_text_fields_under_their_names(tmp_path, suffix):
    rows = [
        {"id": "t1", "title": "Graph Paper", "abstract": "We do graphs.", "decision": "Accept (Spotlight)"},
        {"id": "t2", "title": "Other Paper", "abstract": "We do other things.", "decision": "rejected"},
    ]
    path = tmp_path / f"train.{suffix}"
    if suffix == "jsonl":
        write_jsonl(path, rows)
    elif suffix == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    loaded = load(path)
    assert loaded.format == "tabular"
    assert [(p.paper_id, p.title, p.label) for p in loaded.papers] == [
        ("t1", "Graph Paper", "Accept"),
        ("t2", "Other Paper", "Reject"),
    ]
    assert loaded.papers[0].text == "Title: Graph Paper\n\nAbstract: We do graphs."


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_boolean_label_columns_map_true_to_accept(tmp_path, suffix):
    frame = pd.DataFrame({"title": ["A", "B"], "abstract": ["x", "y"], "decision": [True, False]})
    path = tmp_path / f"t.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    assert [p.label for p in load(path).papers] == ["Accept", "Reject"]


def test_tabular_reader_uses_configured_fields(tmp_path):
    path = write_jsonl(
        tmp_path / "t.jsonl", [{"key": "x9", "name": "N", "body": "Text.", "verdict": "reject"}]
    )
    paper = load(
        path, text_fields=("body",), title_field="name", label_field="verdict", id_field="key"
    ).papers[0]
    assert (paper.paper_id, paper.title, paper.text, paper.label) == ("x9", "N", "Body: Text.", "Reject")


def test_load_from_disk_folder_is_read_as_a_table(tmp_path):
    import datasets

    folder = tmp_path / "hf"
    datasets.Dataset.from_list(table_rows(2, 1)).save_to_disk(str(folder))
    loaded = load(folder)
    assert loaded.format == "hf_disk"
    assert [p.label for p in loaded.papers] == ["Accept", "Accept", "Reject"]
    assert len(sources.source_sha256(folder)) == 64


def test_drop_unknown_labels_counts_what_it_drops(tmp_path):
    rows = table_rows(3, 3)
    rows[1]["decision"], rows[4]["decision"] = "Withdrawn", None
    loaded = load(write_jsonl(tmp_path / "t.jsonl", rows), drop_unknown_labels=True)
    assert len(loaded.papers) == 4
    assert loaded.dropped == {"unknown_label": 1, "missing_label": 1}


# ---------------------------------------------------------------- bad input: clear error, no output


@pytest.mark.parametrize(
    ("break_rows", "message"),
    [
        (lambda rows: rows[2].pop("decision"), "missing label in row 3"),
        (lambda rows: rows[4].update(decision="Withdrawn"), "row 5: 'Withdrawn'"),
        (lambda rows: rows[1].update(title="", abstract=None), "empty paper text in row 2"),
        (lambda rows: rows[7].update(id="p0"), "duplicate paper id(s): id 'p0' at rows 1, 8"),
    ],
    ids=["missing_label", "unknown_label", "empty_text", "duplicate_ids"],
)
def test_bad_rows_fail_naming_file_and_rows_and_write_nothing(
    tmp_path, capsys, data_tiny_model, break_rows, message
):
    rows = table_rows()
    break_rows(rows)
    source = write_jsonl(tmp_path / "bad.jsonl", rows)
    test_source = write_jsonl(tmp_path / "test.jsonl", table_rows(prefix="q"))
    code, output, stats = run_cli(tmp_path, data_tiny_model, source=source, test_source=test_source)
    error = capsys.readouterr().err
    assert code == 2
    assert message in error and str(source) in error
    assert not output.exists() and not stats.exists()


def test_missing_source_file_is_named(tmp_path, capsys, data_tiny_model):
    code, output, _ = run_cli(tmp_path, data_tiny_model, split="test", source=tmp_path / "nope.jsonl")
    assert code == 2
    assert f"{tmp_path / 'nope.jsonl'}: source file or folder does not exist" in capsys.readouterr().err
    assert not output.exists()


def test_impossible_proportion_says_what_the_source_has(tmp_path, capsys, data_tiny_model):
    source = write_jsonl(tmp_path / "train.jsonl", table_rows(n_accept=5, n_reject=6))
    test_source = write_jsonl(tmp_path / "test.jsonl", table_rows(prefix="q"))
    code, output, _ = run_cli(tmp_path, data_tiny_model, prop="1_8", source=source, test_source=test_source)
    error = capsys.readouterr().err
    assert code == 2
    assert (
        "has 5 Accept and 6 Reject papers; proportion 1_8" in error
        and "needs at least 1 Accept and 7 Reject" in error
    )
    assert not output.exists()


def test_overlapping_ids_between_train_and_test_are_leakage(tmp_path, capsys, data_tiny_model):
    source = write_jsonl(tmp_path / "train.jsonl", table_rows())
    test_rows = table_rows(prefix="q")
    test_rows[0]["id"], test_rows[3]["id"] = "p2", "p5"
    test_source = write_jsonl(tmp_path / "test.jsonl", test_rows)
    code, output, _ = run_cli(tmp_path, data_tiny_model, source=source, test_source=test_source)
    error = capsys.readouterr().err
    assert code == 2
    assert "train/test leakage: 2 training paper(s) also in the test source (2 same id)" in error
    assert f"{source} row 3 ~ {test_source} row 1 (same id" in error
    assert f"{source} row 6 ~ {test_source} row 4 (same id" in error
    assert not output.exists()


def test_overlapping_titles_are_leakage_when_ids_are_absent(tmp_path, capsys, data_tiny_model):
    train_rows = [{k: v for k, v in row.items() if k != "id"} for row in table_rows()]
    test_rows = [{k: v for k, v in row.items() if k != "id"} for row in table_rows(prefix="q")]
    test_rows[1]["title"] = (
        "  PAPER p number 4!"  # the same title as train row 5, but for case and punctuation
    )
    source = write_jsonl(tmp_path / "train.jsonl", train_rows)
    test_source = write_jsonl(tmp_path / "test.jsonl", test_rows)
    code, _, _ = run_cli(tmp_path, data_tiny_model, source=source, test_source=test_source)
    assert code == 2
    assert "1 training paper(s) also in the test source (1 near-duplicate title)" in capsys.readouterr().err


def test_user_template_without_paper_slot_is_rejected(tmp_path, capsys, data_tiny_model):
    code, _, _ = run_cli(
        tmp_path,
        data_tiny_model,
        split="test",
        source=write_jsonl(tmp_path / "t.jsonl", table_rows()),
        settings={"user_template": "Judge it."},
    )
    assert code == 2
    assert "data.user_template must contain {paper} exactly once" in capsys.readouterr().err


# ---------------------------------------------------------------- proportions


@pytest.mark.parametrize(
    ("prop", "n_accept", "n_reject"), [("1_2", 100, 100), ("1_3", 50, 100), ("1_4", 33, 99), ("1_8", 14, 98)]
)
def test_train_sets_hit_the_accept_fraction_exactly(
    tmp_path, data_corpus, data_tiny_model, prop, n_accept, n_reject
):
    code, output, stats_path = run_cli(
        tmp_path, data_tiny_model, prop=prop, source=data_corpus[0], test_source=data_corpus[1]
    )
    assert code == 0
    rows = read_jsonl(output)
    assert sum(row["label"] == "Accept" for row in rows) == n_accept
    assert sum(row["label"] == "Reject" for row in rows) == n_reject
    stats = json.loads(stats_path.read_text())
    assert stats["accept_fraction"] == pytest.approx(1 / int(prop.split("_")[1]), abs=1e-12)
    assert stats["counts"] == {"Accept": n_accept, "Reject": n_reject}
    assert len({row["id"] for row in rows}) == len(rows)


def test_max_examples_caps_the_set_and_keeps_the_fraction_exact():
    items = ["Accept"] * 50 + ["Reject"] * 50
    chosen = sampling.subsample_to_proportion(items, lambda label: label, 4, seed=1, max_examples=21)
    assert (chosen.count("Accept"), chosen.count("Reject")) == (5, 15)


def test_proportion_keeps_as_many_rejects_as_possible():
    assert sampling.proportion_counts(n_accept=600, n_reject=600, denominator=3) == (300, 600)
    assert sampling.proportion_counts(n_accept=10, n_reject=600, denominator=2) == (10, 10)


def test_sets_of_larger_n_nest_inside_smaller_ones():
    items = [("Accept", i) for i in range(100)] + [("Reject", i) for i in range(200)]
    one_in_4 = sampling.subsample_to_proportion(items, lambda item: item[0], 4, seed=5)
    one_in_8 = sampling.subsample_to_proportion(items, lambda item: item[0], 8, seed=5)
    assert (len(one_in_4), len(one_in_8)) == (264, 224)
    assert set(one_in_8) < set(one_in_4)


# ---------------------------------------------------------------- determinism, truncation, stats


def test_same_seed_gives_byte_identical_files_and_another_seed_another_order(
    tmp_path, data_corpus, data_tiny_model
):
    runs = []
    for name, seed in [("a", 42), ("b", 42), ("c", 43)]:
        folder = tmp_path / name
        code, output, stats = run_cli(
            folder,
            data_tiny_model,
            prop="1_3",
            source=data_corpus[0],
            test_source=data_corpus[1],
            settings={"seed": seed},
        )
        assert code == 0
        runs.append((output.read_bytes(), stats.read_bytes()))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]


def test_truncation_cuts_only_the_paper_and_keeps_instruction_and_answer(
    tmp_path, data_corpus, data_tiny_model
):
    from transformers import AutoTokenizer

    template = "Judge this ICLR paper.\n\n{paper}\n\nAnswer Accept or Reject."
    code, output, stats_path = run_cli(
        tmp_path,
        data_tiny_model,
        split="test",
        source=data_corpus[1],
        settings={"max_paper_tokens": 8, "user_template": template, "system_prompt": "You review."},
    )
    assert code == 0
    tokenizer = AutoTokenizer.from_pretrained(data_tiny_model)
    originals = {p.paper_id: p.text for p in load(data_corpus[1]).papers}
    for row in read_jsonl(output):
        system, user, assistant = row["messages"]
        assert system == {"role": "system", "content": "You review."}
        assert user["content"].startswith("Judge this ICLR paper.\n\n")
        assert user["content"].endswith("\n\nAnswer Accept or Reject.")
        paper = user["content"][len("Judge this ICLR paper.\n\n") : -len("\n\nAnswer Accept or Reject.")]
        assert originals[row["id"]].startswith(paper)
        assert len(tokenizer(paper, add_special_tokens=False)["input_ids"]) <= 8
        assert row["truncated"] and row["n_paper_tokens"] > 8
        assert assistant == {"role": "assistant", "content": row["label"]}
    assert json.loads(stats_path.read_text())["n_truncated"] == 80


class CharTokenizer:
    """One token per character, with offsets, like a fast tokenizer."""

    is_fast = True

    def __call__(self, texts, add_special_tokens, return_offsets_mapping):
        return {
            "input_ids": [list(range(len(t))) for t in texts],
            "offset_mapping": [[(i, i + 1) for i in range(len(t))] for t in texts],
        }


def test_short_papers_are_kept_whole_and_long_ones_cut_to_a_prefix():
    kept = prompts.truncate_texts(["abc", "abcdefgh"], CharTokenizer(), 5)
    assert kept == [prompts.TruncatedText("abc", 3, False), prompts.TruncatedText("abcde", 8, True)]


def test_truncation_in_batches_keeps_every_text_in_order(monkeypatch):
    monkeypatch.setattr(prompts, "BATCH_SIZE", 2)
    kept = prompts.truncate_texts(["a" * n for n in range(1, 8)], CharTokenizer(), 4)
    assert [(k.text, k.n_tokens) for k in kept] == [("a" * min(n, 4), n) for n in range(1, 8)]


def test_test_split_keeps_every_paper_and_stats_describe_it(tmp_path, data_corpus, data_tiny_model):
    code, output, stats_path = run_cli(tmp_path, data_tiny_model, split="test", source=data_corpus[1])
    assert code == 0
    rows = read_jsonl(output)
    stats = json.loads(stats_path.read_text())
    assert len(rows) == 80 and stats["counts"] == {"Accept": 24, "Reject": 56}
    assert stats["accept_fraction"] == pytest.approx(0.3)
    assert stats["source"]["sha256"] == hashlib.sha256(data_corpus[1].read_bytes()).hexdigest()
    assert stats["source"]["n_rows"] == 80 and stats["seed"] == 42 and stats["prop"] is None
    tokens = stats["example_tokens"]
    assert 0 < tokens["p50"] <= tokens["p90"] <= tokens["p99"] <= tokens["max"]
    assert (
        tokens["mean"] == pytest.approx(tokens["total"] / 80, abs=0.01)
        and tokens["mean"] >= tokens["p50"] / 2
    )
    assert stats["n_truncated"] == 0 and all(not row["truncated"] for row in rows)
    assert set(rows[0]) == {"id", "title", "label", "messages", "n_paper_tokens", "truncated"}


def test_test_split_is_capped_by_max_examples(tmp_path, data_corpus, data_tiny_model):
    code, output, _ = run_cli(
        tmp_path, data_tiny_model, split="test", source=data_corpus[1], settings={"max_examples": 10}
    )
    assert code == 0 and len(read_jsonl(output)) == 10


def test_papers_without_ids_get_the_same_hash_id_every_run(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "id"} for row in table_rows(1, 1)]
    first = [p.paper_id for p in load(write_jsonl(tmp_path / "a.jsonl", rows)).papers]
    second = [p.paper_id for p in load(write_jsonl(tmp_path / "b.jsonl", rows)).papers]
    assert first == second and first[0] != first[1]
    assert first[0] == sources.stable_paper_id(
        "paper p number 0", "Title: Paper p number 0\n\nAbstract: We study problem 0 with method 0."
    )


# ---------------------------------------------------------------- synthetic corpus


def test_corpus_has_requested_sizes_and_accept_rates(tmp_path):
    train_path, test_path = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    argv = [
        "--seed",
        "11",
        "--settings",
        json.dumps({"n_train": 300, "n_test": 100, "test_accept_rate": 0.32}),
        "--train-out",
        str(train_path),
        "--test-out",
        str(test_path),
    ]
    assert synthetic_corpus_cli.main(argv) == 0
    train, test = read_jsonl(train_path), read_jsonl(test_path)
    assert (len(train), len(test)) == (300, 100)
    assert sum(row["decision"].startswith("Accept") for row in train) == 150
    assert sum(row["decision"].startswith("Accept") for row in test) == 32
    assert {row["decision"] for row in train} <= {
        "Reject",
        "Accept (Poster)",
        "Accept (Spotlight)",
        "Accept (Oral)",
    }
    assert len({row["id"] for row in train + test}) == 400
    assert len({row["title"].lower() for row in train + test}) == 400
    words = [len(row["abstract"].split()) for row in train]
    assert min(words) >= 40 and max(words) <= 80
    first = (train_path.read_bytes(), test_path.read_bytes())
    assert synthetic_corpus_cli.main(argv) == 0
    assert (train_path.read_bytes(), test_path.read_bytes()) == first


def test_corpus_is_learnable_by_bag_of_words_but_noisy():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    train, test = synthetic.generate_corpus({}, seed=42)
    vectorizer = CountVectorizer(min_df=2)
    features = vectorizer.fit_transform([r["title"] + " " + r["abstract"] for r in train])
    model = LogisticRegression(max_iter=2000).fit(features, [r["decision"] != "Reject" for r in train])
    predicted = model.predict(vectorizer.transform([r["title"] + " " + r["abstract"] for r in test]))
    score = balanced_accuracy_score([r["decision"] != "Reject" for r in test], predicted)
    assert 0.70 < score < 0.95


def test_corpus_rejects_unknown_settings():
    with pytest.raises(ValueError, match=r"data\.synthetic\.n_trian: unknown key"):
        synthetic.generate_corpus({"n_trian": 5}, seed=0)
