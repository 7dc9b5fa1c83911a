"""Small paper sources and a make_dataset runner, shared by the data-stage tests."""

import json

import make_dataset

SETTINGS = {"max_paper_tokens": 512, "seed": 42}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def table_rows(n_accept=6, n_reject=6, prefix="p", decisions=("Accept (Poster)", "Reject")):
    """Return tabular rows with distinct ids and titles, accepts first."""
    return [
        {
            "id": f"{prefix}{i}",
            "title": f"Paper {prefix} number {i}",
            "abstract": f"We study problem {i} with method {i % 3}.",
            "decision": decisions[0] if i < n_accept else decisions[1],
        }
        for i in range(n_accept + n_reject)
    ]


def run_cli(tmp_path, model, *, split="train", prop="1_2", source, test_source=None, settings=None, extra=()):
    """Return (exit code, output path, stats path) of one make_dataset CLI run into tmp_path/out."""
    output, stats = tmp_path / "out" / "data.jsonl", tmp_path / "out" / "stats.json"
    argv = [
        "--split",
        split,
        "--source",
        str(source),
        "--model",
        str(model),
        "--settings",
        json.dumps({**SETTINGS, **(settings or {})}),
        "--output",
        str(output),
        "--stats",
        str(stats),
        *extra,
    ]
    if split == "train":
        argv += ["--prop", prop, "--test-source", str(test_source)]
    return make_dataset.main(argv), output, stats
