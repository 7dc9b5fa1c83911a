"""weighted-loss-fn's shared code: the library behind the thin command-line scripts in workflow/scripts/.

Top level: labels, experiments (the grid and the loss weights), settings (config keys from the schema), files
(JSON reading and atomic writes). Subpackages: data (sources to chat datasets, the embedded corpus and model),
training (the weighted trainer and its run), evaluation (inference, metrics, baselines, hypotheses, plots).
"""
