"""Fine-tuning with the class-weighted answer loss: settings, the loss, the TRL trainer, checkpoints, the run."""

# Written by train.py into each model folder; read by the plot stage (loss curves).
SUMMARY_FILE = "train_summary.json"
