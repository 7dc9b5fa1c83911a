"""Synthetic ICLR-like corpus: templated titles and abstracts whose decision follows a hidden paper quality."""

from __future__ import annotations

import math
import statistics

import numpy as np

from wlf.data.leakage import title_without_punctuation
from wlf.errors import InputError
from wlf.labels import ACCEPT, REJECT
from wlf.settings import resolve

METHOD_PREFIXES = [
    "Graph",
    "Meta",
    "Hyper",
    "Flow",
    "Contrast",
    "Sparse",
    "Neural",
    "Deep",
    "Diffu",
    "Trans",
    "Latent",
    "Causal",
    "Robust",
    "Quant",
    "Fed",
    "Info",
    "Equi",
    "Kernel",
    "Spectral",
    "Prox",
]
METHOD_SUFFIXES = [
    "Net",
    "Former",
    "Mix",
    "GAN",
    "Prop",
    "Flow",
    "Align",
    "Tune",
    "Reg",
    "Distill",
    "Match",
    "Opt",
]
TASKS = [
    "image classification",
    "language modeling",
    "molecular property prediction",
    "machine translation",
    "reinforcement learning",
    "graph representation learning",
    "few-shot learning",
    "continual learning",
    "object detection",
    "speech recognition",
    "time series forecasting",
    "question answering",
    "domain adaptation",
    "program synthesis",
    "generative modeling",
    "neural architecture search",
    "offline reinforcement learning",
    "semi-supervised learning",
    "federated learning",
    "video prediction",
]
TECHNIQUES = [
    "contrastive learning",
    "attention",
    "variational inference",
    "adversarial training",
    "knowledge distillation",
    "optimal transport",
    "energy-based models",
    "diffusion models",
    "mixture of experts",
    "implicit differentiation",
    "normalizing flows",
    "low-rank adaptation",
    "message passing",
    "self-supervision",
    "data augmentation",
    "pruning",
    "curriculum learning",
]
DATASETS = [
    "CIFAR-10",
    "CIFAR-100",
    "ImageNet",
    "GLUE",
    "SuperGLUE",
    "WikiText-103",
    "MuJoCo",
    "Atari",
    "OGB",
    "QM9",
    "COCO",
    "LibriSpeech",
    "WMT14",
    "SQuAD",
    "Omniglot",
    "miniImageNet",
    "D4RL",
]
ADJECTIVES = [
    "Efficient",
    "Scalable",
    "Robust",
    "Simple",
    "Provable",
    "Adaptive",
    "Generalized",
    "Stable",
    "Fast",
    "Principled",
    "Unified",
    "Implicit",
    "Hierarchical",
    "Differentiable",
]
TITLE_PATTERNS = [
    "{method}: {adj} {task_title} with {technique_title}",
    "{adj} {task_title} via {technique_title}",
    "On the Role of {technique_title} in {task_title}",
    "{method}: Towards {adj} {task_title}",
    "Rethinking {technique_title} for {task_title}",
    "{adj} {technique_title} for {task_title}",
    "Learning to {verb} with {technique_title}",
]
VERBS = [
    "Generalize",
    "Plan",
    "Compress",
    "Reason",
    "Adapt",
    "Explore",
    "Align",
    "Transfer",
    "Forget",
    "Search",
]
OPENINGS = [
    "We study {task}, a central problem in machine learning.",
    "{task_cap} remains challenging when data are scarce or noisy.",
    "Recent progress in {task} relies on {technique}, yet its limits are poorly understood.",
    "We propose {method}, a new approach to {task} based on {technique}.",
    "This paper introduces {method}, which combines {technique} with {technique2} for {task}.",
]
NEUTRAL = [
    "Our method builds on {technique} and is easy to implement.",
    "We evaluate {method} on {dataset}.",
    "The approach extends naturally to {task2}.",
    "We analyse the trade-off between accuracy and compute.",
    "Experiments cover both {dataset} and {dataset2}.",
    "We discuss connections to {technique2}.",
]
STRONG = [
    "We provide theoretical guarantees on convergence and generalization.",
    "{method} achieves state-of-the-art results on {dataset} and {dataset2}.",
    "It consistently outperforms strong baselines across large-scale experiments.",
    "Extensive ablations isolate the contribution of each component.",
    "Code and pretrained models are publicly released.",
    "We prove a tight bound that matches the empirical behaviour.",
    "Large-scale experiments on {dataset} show significant gains over prior work.",
    "The method scales to billions of parameters with negligible overhead.",
]
WEAK = [
    "Preliminary results on a toy problem are encouraging.",
    "We report small-scale experiments on {dataset}.",
    "Our evaluation is limited to a single synthetic benchmark.",
    "We hope this initial study motivates future work.",
    "Results are comparable to a simple baseline in a limited setting.",
    "The analysis is heuristic and leaves theory for future work.",
    "We test the idea on a small subset of {dataset}.",
    "Initial experiments suggest possible improvements in some cases.",
]
MIN_WORDS, MAX_WORDS = 40, 80  # abstract length
ACCEPT_KINDS = [("Accept (Poster)", 0.75), ("Accept (Spotlight)", 0.20), ("Accept (Oral)", 0.05)]
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def sigmoid(x: float) -> float:
    """Return the logistic function of x."""
    return 1.0 / (1.0 + math.exp(-x))


def merge_settings(given: dict) -> dict:
    """Return the generator settings: the schema's defaults updated with given (SettingsError naming a bad key)."""
    return resolve("synthetic_corpus", given, "data.synthetic")


def decision_bias(accept_rate: float, sharpness: float) -> float:
    """Return b such that P(accept) = sigmoid(sharpness * q + b), q ~ N(0, 1), averages accept_rate."""
    # a fixed grid of normal quantiles makes the bias deterministic and independent of any seed
    normal = statistics.NormalDist()
    quantiles = np.array([normal.inv_cdf(p) for p in np.linspace(0.0005, 0.9995, 2000)])
    low, high = -20.0, 20.0
    for _ in range(80):
        middle = (low + high) / 2
        rate = float(np.mean(1 / (1 + np.exp(-(sharpness * quantiles + middle)))))
        low, high = (middle, high) if rate < accept_rate else (low, middle)
    return (low + high) / 2


def _paper_slots(rng: np.random.Generator) -> dict:
    """Return the random words one paper is written from."""
    task, task2 = rng.choice(TASKS, size=2, replace=False)
    technique, technique2 = rng.choice(TECHNIQUES, size=2, replace=False)
    dataset, dataset2 = rng.choice(DATASETS, size=2, replace=False)
    method = str(rng.choice(METHOD_PREFIXES)) + str(rng.choice(METHOD_SUFFIXES))
    return {
        "task": task,
        "task2": task2,
        "task_cap": task[0].upper() + task[1:],
        "task_title": task.title(),
        "technique": technique,
        "technique2": technique2,
        "technique_title": technique.title(),
        "dataset": dataset,
        "dataset2": dataset2,
        "method": method,
        "adj": str(rng.choice(ADJECTIVES)),
        "verb": str(rng.choice(VERBS)),
    }


def write_paper(rng: np.random.Generator, quality: float, signal_strength: float) -> tuple[str, str]:
    """Return (title, abstract) of one paper; its quality tilts the cue sentences towards strong ones."""
    slots = _paper_slots(rng)
    title = str(rng.choice(TITLE_PATTERNS)).format(**slots)
    p_strong = sigmoid(signal_strength * quality)
    sentences = [str(rng.choice(OPENINGS)).format(**slots)]
    n_body = int(rng.integers(4, 8))
    n_words = len(sentences[0].split())
    # at least n_body sentences and MIN_WORDS words, never past MAX_WORDS: short abstracts keep training fast
    for _ in range(4 * n_body):
        if len(sentences) > n_body and n_words >= MIN_WORDS:
            break
        # a fifth of the sentences carry no signal; the rest lean strong with probability p_strong
        is_cue = rng.random() >= 0.2
        pool = (STRONG if rng.random() < p_strong else WEAK) if is_cue else NEUTRAL
        sentence = str(rng.choice(pool)).format(**slots)
        if sentence in sentences or n_words + len(sentence.split()) > MAX_WORDS:
            continue
        sentences.append(sentence)
        n_words += len(sentence.split())
    return title, " ".join(sentences)


def _paper_id(rng: np.random.Generator) -> str:
    """Return a 10-character OpenReview-like id."""
    return "".join(ID_ALPHABET[i] for i in rng.integers(0, len(ID_ALPHABET), size=10))


def _accept_kind(rng: np.random.Generator) -> str:
    names, weights = zip(*ACCEPT_KINDS, strict=True)
    return str(rng.choice(names, p=np.asarray(weights)))


def generate_corpus(settings: dict, seed: int) -> tuple[list[dict], list[dict]]:
    """Return (train, test) rows {id, title, abstract, decision}: train balanced, test at test_accept_rate."""
    settings = merge_settings(settings)
    rng = np.random.default_rng(seed)
    sharpness = float(settings["decision_sharpness"])
    bias = decision_bias(float(settings["population_accept_rate"]), sharpness)
    n_train, n_test = int(settings["n_train"]), int(settings["n_test"])
    wanted = {
        ("train", ACCEPT): n_train // 2,
        ("train", REJECT): n_train - n_train // 2,
        ("test", ACCEPT): round(n_test * float(settings["test_accept_rate"])),
    }
    wanted[("test", REJECT)] = n_test - wanted[("test", ACCEPT)]
    rows: dict[str, list[dict]] = {"train": [], "test": []}
    seen_ids, seen_titles = set(), set()
    # Papers are drawn from one population; each fills its split/class slot until every slot is full.
    max_draws = 200 * (n_train + n_test)
    for _ in range(max_draws):
        if all(count == 0 for count in wanted.values()):
            break
        quality = float(rng.normal())
        accepted = rng.random() < sigmoid(sharpness * quality + bias)
        title, abstract = write_paper(rng, quality, float(settings["signal_strength"]))
        paper_id = _paper_id(rng)
        label = ACCEPT if accepted else REJECT
        decision = _accept_kind(rng) if accepted else REJECT
        split = "test" if rng.random() < n_test / (n_train + n_test) else "train"
        if wanted[(split, label)] == 0:
            split = "train" if split == "test" else "test"
        # titles are unique, even without punctuation, so the leakage check never fires on a chance collision
        title_key = title_without_punctuation(title)
        if wanted[(split, label)] == 0 or title_key in seen_titles or paper_id in seen_ids:
            continue
        wanted[(split, label)] -= 1
        seen_ids.add(paper_id)
        seen_titles.add(title_key)
        rows[split].append({"id": paper_id, "title": title, "abstract": abstract, "decision": decision})
    else:
        raise InputError(f"could not draw enough unique papers in {max_draws} draws; lower n_train/n_test")
    return rows["train"], rows["test"]
