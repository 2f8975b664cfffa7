"""Reproduce the paper's Table 1 and the appendix three-body table with one command.

    python reproduce.py                      # every task, seed 0
    python reproduce.py --seeds 0 1 2 3 4    # five seeds: cells become mean ± std over seeds
    python reproduce.py --tasks spring pend  # a subset
    python reproduce.py --quick              # tiny profile for smoke checks (results/quick)
    python reproduce.py --jobs 1             # one run at a time, in this process
    python reproduce.py --cluster auto       # the runs as Ray tasks on a running Ray cluster

The tasks are those the experiment folders declare (`experiment-*/` here and in the directories
of `$HNN_EXPERIMENTS`). Each task x seed x model is one run, trained by `task.run(config)` with
`--threads` torch threads (default 1), `--jobs` runs at a time (default: cores / threads); a run
already saved with the same settings is skipped (--force retrains). Where a run is scheduled
never changes its numbers (see `hnn.sweep`). Writes results.json (merged with the runs already
listed there), table.md and figures/ under --out.
"""
import argparse
import os
import time

import torch

from hnn.checkpoint import read_json, write_json, write_text
from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks
from hnn.report import render_tables
from hnn.reversal import write_study
from hnn.runs import parse_run_name
from hnn.sweep import Options, Run, default_jobs, make_executor, run_all


def parse(tasks):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(tasks), default=list(tasks))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true", help="few steps and small data")
    parser.add_argument("--force", action="store_true", help="retrain runs that are up to date")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per run (0: torch's default); the committed numbers use 1")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs at once in local processes (default: cores // threads)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="run on Ray: a cluster address (auto, ray://host:10001) or `local`")
    parser.add_argument("--out", default=None, help="results folder (default results, or results/quick)")
    args = parser.parse_args()
    args.tasks = list(dict.fromkeys(args.tasks))
    args.seeds = list(dict.fromkeys(args.seeds))
    if args.threads < 0:
        parser.error(f"--threads must be at least 0, got {args.threads}")
    if args.jobs is None:
        args.jobs = default_jobs(args.threads)
    elif args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.out is None:
        args.out = os.path.join(REPO_ROOT, "results", "quick") if args.quick else \
            os.path.join(REPO_ROOT, "results")
    return args


def redraw(stamp, changed, draw):
    """Call `draw()`, which returns the paths it wrote, and list them in `stamp`, unless nothing
    `changed` and every path the stamp lists still exists."""
    drawn = open(stamp).read().splitlines() if os.path.exists(stamp) else []
    if changed or not drawn or not all(map(os.path.exists, drawn)):
        write_text(stamp, "\n".join(draw()) + "\n")


def main():
    tasks = find_tasks()
    args = parse(tasks)
    if args.threads:
        torch.set_num_threads(args.threads)     # the figures and the study in this process
    runs_dir, figures_dir = os.path.join(args.out, "runs"), os.path.join(args.out, "figures")
    summary_path = os.path.join(args.out, "results.json")
    previous = read_json(summary_path) if os.path.exists(summary_path) else {}
    runs = [Run(name, model, seed) for name in args.tasks for seed in args.seeds
            for model in tasks[name].models]
    options = Options(quick=args.quick, device=args.device, threads=args.threads)
    started = time.time()
    todo = [run for run in runs
            if args.force or not tasks[run.task].is_up_to_date(options.config(tasks[run.task], run, runs_dir))]
    # Longest first, by the wall time results.json last recorded for the task and model.
    recorded = {parse_run_name(name)[:2]: metrics.get("wall_time_s", 0.0) for name, metrics in previous.items()}
    todo.sort(key=lambda run: -recorded.get((run.task, run.model), float("inf")))
    print(f"{len(runs) - len(todo)} of {len(runs)} runs are up to date; training {len(todo)} "
          f"({'Ray cluster ' + args.cluster if args.cluster else f'{args.jobs} at a time'}, "
          f"{args.threads or 'default'} thread(s) each)")
    if todo:
        executor = make_executor(args.jobs, args.cluster, options)
        try:
            run_all(todo, runs_dir, options, executor)
        finally:
            executor.close()
    trained = {run.task for run in todo}
    retrained = {(run.task, run.seed) for run in todo}

    seed = args.seeds[0]
    for name in args.tasks:
        redraw(os.path.join(figures_dir, f".{name}-seed{seed}.done"), (name, seed) in retrained,
               lambda task=tasks[name]: [*task.figures(runs_dir, figures_dir, seed),
                                         task.save_loss_curves(runs_dir, figures_dir, seed)])
    studied = [tasks[name] for name in args.tasks if tasks[name].time_reversal]
    if studied:
        print(f"time-reversal study of the {', '.join(t.name for t in studied)} HNNs (seed {seed})")
        redraw(os.path.join(figures_dir, f".time-reversal-seed{seed}.done"),
               any(Run(task.name, "hnn", seed) in todo for task in studied),     # it uses the HNNs
               lambda: write_study(studied, runs_dir, args.out, figures_dir, seed, args.quick))

    results = {name: run for name, run in previous.items() if parse_run_name(name)[0] in tasks}
    for run in runs:
        results[run.name] = tasks[run.task].read_metrics(runs_dir, run.model, run.seed)
    results = dict(sorted(results.items()))
    write_json(summary_path, results)
    table = render_tables(results, tasks, quick=args.quick)
    write_text(os.path.join(args.out, "table.md"), table)
    print(table)
    print(f"trained {len(trained)} task(s); wrote results.json, table.md and figures/ under "
          f"{args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
