"""Fine-tune a causal LM on one training set with the class-weighted answer loss; resume from checkpoints.

python workflow/scripts/train.py --train-file results/data/prop1_2/train.jsonl --model results/embedded/model \
    --variant accept --gamma 4.0 --settings '{"learning_rate": 2e-3}' \
    --output-dir results/models/accept_gamma4.0_prop1_2/seed1 \
    --checkpoint-dir results/checkpoints/accept_gamma4.0_prop1_2/seed1 \
    --tensorboard-dir results/logs/tensorboard/accept_gamma4.0_prop1_2/seed1

Run it under `accelerate launch` for several processes. Writes the weights (or LoRA adapter), the tokenizer and
train_summary.json into --output-dir, all at once at the end; checkpoints go to --checkpoint-dir, and once the
final model is written and checked they are deleted (the model's hard-linked copy stays there); the losses go
to --tensorboard-dir as well as to the log when train.report_to is tensorboard. On SIGUSR1 or SIGTERM (to any
process) it finishes its optimizer step, saves a checkpoint of it and exits 75.
"""

from __future__ import annotations

import argparse
import sys
import time

from wlf.chat_template import render_kwargs
from wlf.errors import one_line_errors
from wlf.experiments import VARIANTS, class_weights
from wlf.files import check_output_paths, file_sha256
from wlf.model_source import check_model_source
from wlf.training import checkpoints, run
from wlf.training.stop_signals import StopSignalRecord

# sysexits' EX_TEMPFAIL: the job stopped on purpose (a stop signal, train.interrupt_at_step) and its retry resumes
INTERRUPTED_EXIT = 75


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--train-file", required=True, help="chat JSONL training set (results/data/prop*/train.jsonl)"
    )
    parser.add_argument("--model", required=True, help="base model: local folder or hub id")
    parser.add_argument("--variant", required=True, choices=VARIANTS)
    parser.add_argument("--gamma", required=True, type=float, help="weight of the variant's class")
    parser.add_argument("--settings", default="{}", help="JSON train settings (the schema's $defs/training)")
    parser.add_argument("--output-dir", required=True, help="where the final model and train_summary.json go")
    parser.add_argument(
        "--checkpoint-dir", required=True, help="where checkpoints go; resumed from when present"
    )
    parser.add_argument(
        "--tensorboard-dir",
        help="where TensorBoard event files go with report_to tensorboard (emptied when the run starts fresh)",
    )
    return parser.parse_args(argv)


@one_line_errors("train")
def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    # first: SLURM's warning signal can come while the model loads, and it comes only once
    signals = StopSignalRecord().install()
    # everything that can be wrong with the inputs is checked before torch is imported or anything written
    check_output_paths(folders=[args.output_dir, args.checkpoint_dir, *filter(None, [args.tensorboard_dir])])
    settings, papers = run.check_inputs(args.settings, args.train_file, args.variant, args.gamma)
    run.check_reporting(settings, args.tensorboard_dir)
    check_model_source(args.model, "--model")
    records = run.prompt_completion_records(papers, args.variant, args.gamma)
    train_sha256 = file_sha256(args.train_file)

    session = run.start_session(settings, args.checkpoint_dir)
    fingerprint = checkpoints.run_fingerprint(
        settings, args.variant, args.gamma, args.model, train_sha256, session.state.num_processes
    )
    resume_from = run.prepare_checkpoints(args.checkpoint_dir, fingerprint, session)
    run.report_training(settings, args.tensorboard_dir, resume_from, session)
    trainer = run.build_trainer(
        args.model, records, settings, session, run.interrupt_step(settings, resume_from), signals
    )
    resumed_from_step, resumed_after = run.restore(trainer, resume_from)
    if resume_from is not None:
        session.log(f"resumed at global step {resumed_from_step}", flush=True)
    session.log(
        f"training {args.variant} gamma={args.gamma} weights={class_weights(args.variant, args.gamma)} on "
        f"{len(records)} examples, {session.state.num_processes} process(es), reduction {settings['loss_reduction']}, "
        f"chat template arguments {render_kwargs(trainer.processing_class)}",
        flush=True,
    )
    run.log_distribution(trainer, session)
    facts = run.RunFacts(
        args.variant, args.gamma, settings, args.train_file, train_sha256, args.model, papers,
        resumed_from_step, resumed_after, train_seconds=0.0, wall_seconds=0.0, bf16=session.bf16,
    )  # fmt: skip
    summary = run.train_and_summarise(trainer, resume_from, facts, started)
    if summary["stopped_by"] is not None:
        run.save_stop_summary(args.checkpoint_dir, session, summary)  # every process waits for it
        if session.state.is_main_process:
            reason = summary["stopped_by"].removesuffix(f" at step {summary['steps']}")
            print(
                f"train: interrupted after saving the checkpoint of step {summary['steps']} of "
                f"{summary['max_steps']} ({reason}): a retry or a rerun resumes from it",
                file=sys.stderr,
            )
        exit_code = INTERRUPTED_EXIT
    else:
        run.save_final_model(trainer, session, args.output_dir, args.checkpoint_dir, summary)
        exit_code = 0
    signals.ignore()  # measured: a SLURM warning that came after the model was written ended the job as failed
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
