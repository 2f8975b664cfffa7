"""Finding experiment folders and loading their tasks.

An experiment folder is a directory named `experiment-<name>` holding an `__init__.py`
that defines `TASKS`, a list of `hnn.tasks.Task`, and optionally `STUDIES`, a list of
`hnn.studies.Study`. `find_tasks` and `find_studies` look for such folders in the repository root
and in every directory listed in `$HNN_EXPERIMENTS` (separated like PATH): a directory that
holds experiment folders, not a folder itself.

This module is the only place that imports an experiment folder, and it does so by path:
the folder names have hyphens, which an `import` statement cannot spell, and every folder has
modules of the same names (`data.py`, `task.py`). So `load_folder` imports a folder as a
package under a name of its own (`experiment-my-system` -> `experiment_my_system`), registered in
`sys.modules`, and the modules inside a folder import each other relatively
(`from . import data`), which editors and linters follow.
"""
import argparse
import dataclasses
import glob
import importlib.util
import os
import re
import sys

from .config import REPO_ROOT
from .tasks import Task

SEARCH_PATH_ENV = "HNN_EXPERIMENTS"
FOLDER_PATTERN = "experiment-*"


def package_name(folder):
    """The module name a folder is imported under: `experiment-x` -> `experiment_x`."""
    return re.sub(r"\W", "_", os.path.basename(os.path.normpath(folder)))


def load_folder(folder, module=None):
    """Import an experiment folder as a package (once per process) and return it, or, given
    `module` (e.g. "data"), that module of the folder."""
    package = _load_package(folder)
    return importlib.import_module(f"{package.__name__}.{module}") if module else package


def _load_package(folder):
    folder = os.path.abspath(folder)
    name = package_name(folder)
    loaded = sys.modules.get(name)
    if loaded is not None:
        if os.path.dirname(os.path.abspath(loaded.__file__)) != folder:
            raise ImportError(f"two experiment folders are both named {name}: "
                              f"{os.path.dirname(loaded.__file__)} and {folder}")
        return loaded
    init = os.path.join(folder, "__init__.py")
    if not os.path.exists(init):
        raise ImportError(f"{folder} is not an experiment folder: it has no __init__.py")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[folder])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules[name]
        raise
    return package


def search_roots():
    """The repository root, then the directories in `$HNN_EXPERIMENTS`; ValueError if one of
    those is not a directory."""
    extra = [p for p in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep) if p]
    missing = [p for p in extra if not os.path.isdir(p)]
    if missing:
        raise ValueError(f"${SEARCH_PATH_ENV} lists {', '.join(missing)}, which is not a "
                         f"directory; it should list directories that hold experiment-*/ folders")
    return [REPO_ROOT, *extra]


def search_report(roots=None):
    """Where experiment folders were looked for, and what one needs, for error messages."""
    roots = roots or search_roots()
    lines = [f"searched for {FOLDER_PATTERN}/ folders with an __init__.py defining TASKS in: "
             + ", ".join(roots) + f" (the repository, then ${SEARCH_PATH_ENV})"]
    for root in roots[1:]:
        if re.fullmatch(FOLDER_PATTERN.replace("*", ".+"),
                        os.path.basename(os.path.normpath(root))):
            lines.append(f"{root} is an experiment folder itself: ${SEARCH_PATH_ENV} takes the "
                         f"directory above it ({os.path.dirname(os.path.abspath(root))})")
    return "; ".join(lines)


def find_folders(roots=None):
    """Every experiment folder (a directory `experiment-*` with an `__init__.py`) in `roots`."""
    folders = []
    for root in roots or search_roots():
        folders += sorted(path for path in glob.glob(os.path.join(root, FOLDER_PATTERN))
                          if os.path.exists(os.path.join(path, "__init__.py")))
    return folders


def folder_tasks(folder):
    """The `TASKS` list that an experiment folder declares."""
    tasks = getattr(load_folder(folder), "TASKS", None)
    if not tasks:
        raise ValueError(f"experiment folder {folder} declares no TASKS in its __init__.py")
    if not isinstance(tasks, (list, tuple)) or not all(isinstance(t, Task) for t in tasks):
        raise TypeError(f"experiment folder {folder}: TASKS must be a list of hnn.Task, got "
                        f"{tasks!r}")
    return list(tasks)


def find_studies(roots=None):
    """{name: study}: the library's own (time reversal, which prior pays), then the `STUDIES` of
    every experiment folder in `roots`."""
    from . import efficiency, lottery, priors, reversal, trajectory_study  # they import hnn.sweep
    found = {study.name: study for study in (reversal.STUDY, priors.STUDY, lottery.STUDY,
                                             efficiency.STUDY, trajectory_study.STUDY)}
    for folder in find_folders(roots):
        for study in getattr(load_folder(folder), "STUDIES", ()):
            if study.name in found:
                raise ValueError(f"study name {study.name!r} is declared twice "
                                 f"(second time in {folder})")
            found[study.name] = study
    return found


def find_task(name):
    """The task named `name`: one of `find_tasks`, or a variant that a study trains."""
    tasks = find_tasks()
    if name in tasks:
        return tasks[name]
    for study in find_studies().values():
        for task in study.tasks:
            if task.name == name:
                return task
    raise KeyError(f"no task named {name!r}; {search_report()}")


def find_tasks(roots=None):
    """{name: task} of every task in every experiment folder, in table order."""
    found = {}
    for folder in find_folders(roots):
        for task in folder_tasks(folder):
            if task.name in found:
                raise ValueError(f"task name {task.name!r} is declared twice "
                                 f"(second time in {folder})")
            found[task.name] = task
    return dict(sorted(found.items(), key=lambda item: item[1].order))


def default_save_dir(folder):
    """Where `train.py` of `folder` saves runs by default: the repository's `results/runs` for
    the repository's folders; beside the folder itself (`{folder}/results/runs`) for one outside
    it, since the repository may be installed read-only and a system's runs belong with it."""
    folder = os.path.abspath(folder)
    if os.path.commonpath([folder, REPO_ROOT]) == REPO_ROOT:
        return os.path.join(REPO_ROOT, "results", "runs")
    return os.path.join(folder, "results", "runs")


def train_main(script, argv=None):
    """What a folder's `train.py` runs: train one model of one of the folder's tasks.

    A folder with several tasks takes `--task NAME` (the first task by default). Runs go to
    `default_save_dir` unless `--save-dir` says otherwise."""
    folder = os.path.dirname(os.path.abspath(script))
    tasks = {task.name: task for task in folder_tasks(folder)}
    argv = sys.argv[1:] if argv is None else list(argv)
    epilog = None
    task = next(iter(tasks.values()))
    if len(tasks) > 1:
        chooser = argparse.ArgumentParser(add_help=False)
        chooser.add_argument("--task", choices=list(tasks), default=task.name)
        chosen, argv = chooser.parse_known_args(argv)
        epilog = (f"This folder has the tasks {', '.join(tasks)}; --task NAME chooses one "
                  f"(default {task.name}).")
        task = tasks[chosen.task]
    return task.main(argv, epilog=epilog, defaults=dataclasses.replace(
        task.defaults, save_dir=default_save_dir(folder)))
