"""Reproduce the paper's Table 1 and the appendix three-body table with one command.

    python reproduce.py                      # every task, seed 0
    python reproduce.py --seeds 0 1 2 3 4    # five seeds: cells become mean ± std over seeds
    python reproduce.py --tasks spring pend  # a subset
    python reproduce.py --quick              # tiny profile for smoke checks (results/quick)

The tasks are those the experiment folders declare (`experiment-*/` here and in the directories
of `$HNN_EXPERIMENTS`). Each task x seed x {baseline, HNN} is trained in this process by
`task.run(config)`; a run already saved with the same settings is skipped (--force retrains).
Writes results.json (merged with the runs already listed there), table.md and figures/ under --out.
"""
import argparse
import os
import time

from tqdm import tqdm

from hnn.checkpoint import read_json, write_json, write_text
from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks
from hnn.report import render_tables
from hnn.runs import parse_run_name, run_name


def parse(tasks):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(tasks), default=list(tasks))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true", help="few steps and small data")
    parser.add_argument("--force", action="store_true", help="retrain runs that are up to date")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: one per core)")
    parser.add_argument("--out", default=None, help="results folder (default results, or results/quick)")
    args = parser.parse_args()
    args.tasks = list(dict.fromkeys(args.tasks))
    args.seeds = list(dict.fromkeys(args.seeds))
    if args.out is None:
        args.out = os.path.join(REPO_ROOT, "results", "quick") if args.quick else \
            os.path.join(REPO_ROOT, "results")
    return args


def main():
    tasks = find_tasks()
    args = parse(tasks)
    runs_dir, figures_dir = os.path.join(args.out, "runs"), os.path.join(args.out, "figures")
    jobs = [(tasks[name], seed, model) for name in args.tasks for seed in args.seeds
            for model in tasks[name].models]
    trained, started = set(), time.time()
    bar = tqdm(jobs, desc="reproduce", unit="run")
    for task, seed, model in bar:
        bar.set_postfix_str(f"{task.name} {model} seed {seed}")
        config = task.config(quick=args.quick, seed=seed, model=model, save_dir=runs_dir,
                             device=args.device, threads=args.threads, quiet=True)
        if args.force or not task.is_up_to_date(config):
            task.run(config)
            trained.add(task.name)

    seed = args.seeds[0]
    for name in args.tasks:
        # The stamp lists the figures drawn from the current runs; redraw if one is gone.
        stamp = os.path.join(figures_dir, f".{name}-seed{seed}.done")
        drawn = open(stamp).read().splitlines() if os.path.exists(stamp) else []
        if name in trained or not drawn or not all(map(os.path.exists, drawn)):
            paths = tasks[name].figures(runs_dir, figures_dir, seed)
            paths.append(tasks[name].save_loss_curves(runs_dir, figures_dir, seed))
            write_text(stamp, "\n".join(paths) + "\n")

    summary_path = os.path.join(args.out, "results.json")
    results = read_json(summary_path) if os.path.exists(summary_path) else {}
    results = {name: run for name, run in results.items() if parse_run_name(name)[0] in tasks}
    for task, seed, model in jobs:
        results[run_name(task.name, model, seed)] = task.read_metrics(runs_dir, model, seed)
    results = dict(sorted(results.items()))
    write_json(summary_path, results)
    table = render_tables(results, tasks, quick=args.quick)
    write_text(os.path.join(args.out, "table.md"), table)
    print(table)
    print(f"trained {len(trained)} task(s); wrote results.json, table.md and figures/ under "
          f"{args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
