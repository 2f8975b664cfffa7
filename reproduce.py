"""Reproduce the paper's Table 1 and the appendix three-body table with one command.

    python reproduce.py --quick              # tiny profile for smoke checks (results/quick),
                                             # minutes
    python reproduce.py                      # every task, seed 0, and the default studies
    python reproduce.py --seeds 0 1 2 3 4    # five seeds: cells become mean ± std over seeds
    python reproduce.py --tasks spring pend  # a subset
    python reproduce.py --study NAME         # one study (see --help for their names)
    python reproduce.py --jobs 1             # one run at a time, in this process
    python reproduce.py --cluster auto       # the runs as Ray tasks on a running Ray cluster

The tasks and studies are those the experiment folders declare (`experiment-*/` here and in the
directories of `$HNN_EXPERIMENTS`). Each task x seed x model is one run, trained by
`task.run(config)` with `--threads` torch threads (default 1), `--jobs` runs at a time (default:
cores / threads); a run already saved with the same settings is skipped (--force retrains). Where
a run is scheduled never changes its numbers (see `hnn.sweep`). Writes, under --out, results.json
(every run saved there, merged with the runs it already lists), table.md, figures/ and studies/.
"""
import argparse
import os
import time

import torch

from hnn.checkpoint import read_json, write_text
from hnn.config import REPO_ROOT
from hnn.experiments import find_studies, find_tasks, search_report
from hnn.plots import save_loss_curves
from hnn.report import protocol_page, render_tables
from hnn.runs import RunsFolder, parse_run_name, write_summary
from hnn.studies import Context, fingerprint, redraw, run_study
from hnn.sweep import Options, Run, default_jobs, make_executor, run_all

PROTOCOL_PAGE = os.path.join(REPO_ROOT, "docs", "protocol.md")


def parse(tasks, studies):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(tasks), metavar="TASK",
                        help=f"the tasks to run (default: all of {', '.join(tasks)})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true", help="few steps and small data")
    parser.add_argument("--force", action="store_true", help="retrain runs that are up to date")
    parser.add_argument("--study", nargs="+", choices=list(studies), default=None,
                        help="run these studies (and the runs they need) instead of the tables: "
                             + "; ".join(f"{name}: {s.title}" for name, s in studies.items()))
    parser.add_argument("--no-studies", action="store_true",
                        help="leave out the default studies ("
                             + ", ".join(n for n, s in studies.items() if s.default) + ")")
    parser.add_argument("--protocol-page", action="store_true",
                        help="write docs/protocol.md from the tasks' protocol notes, and stop")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per run (0: torch's default); "
                             "the committed numbers use 1")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs at once in local processes (default: cores // threads)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="run on Ray: a cluster address (auto, ray://host:10001) or `local`")
    parser.add_argument("--out", default=None,
                        help="results folder (default results, or results/quick)")
    args = parser.parse_args()
    args.tasks = list(dict.fromkeys(args.tasks))
    args.seeds = list(dict.fromkeys(args.seeds))
    unknown = [name for name in args.tasks if name not in tasks]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; the tasks are {', '.join(tasks)}. "
                     f"{search_report()}")
    if min(args.seeds) < 0:
        parser.error(f"--seeds must be at least 0, got {min(args.seeds)}")
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


class LazyExecutor:
    """The executor of `make()`, made when first used (a Ray cluster takes seconds to start)."""

    def __init__(self, make):
        self.make, self.executor = make, None

    def __getattr__(self, name):
        if self.executor is None:
            self.executor = self.make()
        return getattr(self.executor, name)

    def close(self):
        if self.executor is not None:
            self.executor.close()


def train_tables(args, tasks, runs, executor):
    """Train every run of the tables that is not up to date; returns the runs of the tables."""
    wanted = [Run(name, model, seed) for name in args.tasks for seed in args.seeds
              for model in tasks[name].models]
    options = Options(quick=args.quick, device=args.device, threads=args.threads)
    todo = [run for run in wanted if args.force or not tasks[run.task].is_up_to_date(
        options.config(tasks[run.task], run, runs.path))]
    # Longest first, by the wall time results.json last recorded for the task and model.
    summary = os.path.join(args.out, "results.json")
    try:
        previous = read_json(summary) if os.path.exists(summary) else {}
    except ValueError:
        previous = {}                    # write_summary says so, and rebuilds it
    recorded = {parse_run_name(name)[:2]: metrics.get("wall_time_s", 0.0)
                for name, metrics in previous.items()}
    todo.sort(key=lambda run: -recorded.get((run.task, run.model), float("inf")))
    print(f"{len(wanted) - len(todo)} of {len(wanted)} runs are up to date; training {len(todo)} "
          f"({'Ray cluster ' + args.cluster if args.cluster else f'{args.jobs} at a time'}, "
          f"{args.threads or 'default'} thread(s) each)")
    if todo:
        run_all(todo, runs.path, options, executor)
    return wanted, len({run.task for run in todo})


def draw_figures(args, tasks, runs, figures_dir):
    """Each task's figures of the first seed, redrawn when its runs changed or a figure is gone."""
    seed = args.seeds[0]
    for name in args.tasks:
        task = tasks[name]
        key = fingerprint([runs.paths(task, model, seed).metrics for model in task.models])
        redraw(os.path.join(figures_dir, f".{name}-seed{seed}.done"), key,
               lambda task=task: [*task.figures(runs, figures_dir, seed),
                                  save_loss_curves(runs, task, figures_dir, seed)])


def main():
    tasks, studies = find_tasks(), find_studies()
    args = parse(tasks, studies)
    if args.protocol_page:
        write_text(PROTOCOL_PAGE, protocol_page(tasks))
        print(f"wrote {PROTOCOL_PAGE}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)     # the figures and the studies in this process
    started = time.time()
    runs = RunsFolder(os.path.join(args.out, "runs"))
    options = Options(quick=args.quick, device=args.device, threads=args.threads)
    executor = LazyExecutor(lambda: make_executor(args.jobs, args.cluster, options))

    def context(study):
        everything = {**tasks, **{task.name: task for task in study.tasks}}
        return Context(study, everything, args.tasks, args.seeds, args.quick, args.out,
                       args.device, args.threads)

    try:
        if args.study:
            for name in args.study:
                paths = run_study(context(studies[name]), executor, force=args.force)
                print(f"study {name}: {len(paths)} file(s) in {context(studies[name]).folder}")
            print(f"done in {time.time() - started:.0f} s")
            return
        wanted, trained = train_tables(args, tasks, runs, executor)
        draw_figures(args, tasks, runs, os.path.join(args.out, "figures"))
        if not args.no_studies:
            for study in studies.values():
                if study.default:
                    run_study(context(study), executor)
    finally:
        executor.close()

    missing = [run.name for run in wanted if not runs.has(tasks[run.task], run.model, run.seed)]
    if missing:
        raise SystemExit(f"runs missing from {runs.path} after training: {', '.join(missing)}")
    results = write_summary(os.path.join(args.out, "results.json"), runs)
    table = render_tables(results, tasks, quick=args.quick)
    write_text(os.path.join(args.out, "table.md"), table)
    print(table)
    print(f"trained {trained} task(s); wrote results.json, table.md, figures/ and studies/ under "
          f"{args.out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
