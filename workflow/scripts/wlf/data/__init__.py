"""From paper sources to chat datasets: reading, label normalisation, leakage, subsampling, prompts; and the
embedded default's synthetic corpus and tiny model."""
