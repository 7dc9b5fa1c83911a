"""From a trained model to verdicts: inference, prediction files, metrics, the reference baselines, the
metrics table, hypothesis tests and their report, and the figures."""
