"""Reproduce the paper's Table 1 and the appendix three-body table with one command.

    python reproduce.py                      # every task, seed 0
    python reproduce.py --seeds 0 1 2 3 4    # five seeds: cells become mean ± std over seeds
    python reproduce.py --tasks spring pend  # a subset
    python reproduce.py --quick              # tiny profile for smoke checks (results/quick)

Each task x seed x {baseline, HNN} runs that experiment's train.py in this process; a run whose
checkpoint exists with the same config is skipped (--force retrains). Writes results.json,
table.md and figures/ under --out.
"""
import argparse
import os
import sys
import time

from tqdm import tqdm

from hnn.checkpoint import read_json, write_json, write_text
from hnn.experiment import REPO_ROOT, import_experiment
from hnn.plots import save_loss_curves
from hnn.report import TASKS, render_tables

PAPER = os.path.join(REPO_ROOT, "results", "paper.json")


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true", help="few steps and small data")
    parser.add_argument("--force", action="store_true", help="retrain runs that are up to date")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: one per core)")
    parser.add_argument("--out", default=None, help="results folder (default results, or results/quick)")
    args = parser.parse_args()
    if args.out is None:
        args.out = os.path.join(REPO_ROOT, "results", "quick") if args.quick else os.path.join(REPO_ROOT, "results")
    return args


def main():
    args = parse()
    runs_dir, figures_dir = os.path.join(args.out, "runs"), os.path.join(args.out, "figures")
    jobs = [(task, seed, baseline) for task in args.tasks for seed in args.seeds
            for baseline in (True, False)]
    trained, started = set(), time.time()
    bar = tqdm(jobs, desc="reproduce", unit="run")
    for task, seed, baseline in bar:
        folder, extra = TASKS[task]["folder"], TASKS[task]["argv"]
        bar.set_postfix_str(f"{task} {'baseline' if baseline else 'hnn'} seed {seed}")
        argv = extra + ["--seed", str(seed), "--save-dir", runs_dir, "--device", args.device,
                        "--threads", str(args.threads), "--quiet"]
        argv += ["--baseline"] * baseline + ["--quick"] * args.quick + ["--skip-existing"] * (not args.force)
        if import_experiment(folder, "train").main(argv) is not None:
            trained.add(task)

    seed = args.seeds[0]
    for folder in dict.fromkeys(TASKS[task]["folder"] for task in args.tasks):
        tasks = [task for task in args.tasks if TASKS[task]["folder"] == folder]
        stamp = os.path.join(figures_dir, f".{folder}-seed{seed}.done")
        if trained.intersection(tasks) or not os.path.exists(stamp):
            import_experiment(folder, "analysis").make_figures(runs_dir, figures_dir, seed=seed)
            for task in tasks:
                save_loss_curves(runs_dir, task, figures_dir, seed)
            write_text(stamp, "")

    results = {}
    for task, seed, baseline in jobs:
        name = f"{task}-{'baseline' if baseline else 'hnn'}-seed{seed}"
        results[name] = read_json(os.path.join(runs_dir, name + ".json"))
    write_json(os.path.join(args.out, "results.json"), results)
    table = render_tables(results, read_json(PAPER), args.seeds, quick=args.quick)
    write_text(os.path.join(args.out, "table.md"), table)
    print(table)
    print(f"trained {len(trained)} task(s); wrote results.json, table.md and figures/ under "
          f"{args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
