"""Finding experiment folders and loading their tasks.

An experiment folder is a directory named `experiment-<name>` holding an `__init__.py`
that defines `TASKS`, a list of `hnn.tasks.Task`. `find_tasks` looks for such folders in the
repository root and in every directory listed in `$HNN_EXPERIMENTS` (separated like PATH).

This module is the only place that imports an experiment folder, and it does so by path:
the folder names have hyphens, which an `import` statement cannot spell, and every folder has
modules of the same names (`data.py`, `task.py`). So `load_folder` imports a folder as a
package under a name of its own (`experiment-my-system` -> `experiment_my_system`), registered in
`sys.modules`, and the modules inside a folder import each other relatively
(`from . import data`), which editors and linters follow.
"""
import argparse
import glob
import importlib.util
import os
import re
import sys

from .config import REPO_ROOT

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
    """The repository root, then the directories in `$HNN_EXPERIMENTS`."""
    extra = [p for p in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep) if p]
    return [REPO_ROOT, *extra]


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
    return list(tasks)


def find_tasks(roots=None):
    """{name: task} of every task in every experiment folder, in table order."""
    found = {}
    for folder in find_folders(roots):
        for task in folder_tasks(folder):
            if task.name in found:
                raise ValueError(f"task name {task.name!r} is declared twice (second time in {folder})")
            found[task.name] = task
    return dict(sorted(found.items(), key=lambda item: item[1].order))


def train_main(script, argv=None):
    """What a folder's `train.py` runs: train one model of one of the folder's tasks.

    A folder with several tasks takes `--task NAME` (the first task by default)."""
    tasks = {task.name: task for task in folder_tasks(os.path.dirname(os.path.abspath(script)))}
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(tasks) > 1:
        chooser = argparse.ArgumentParser(add_help=False)
        chooser.add_argument("--task", choices=list(tasks), default=next(iter(tasks)))
        chosen, argv = chooser.parse_known_args(argv)
        epilog = (f"This folder has the tasks {', '.join(tasks)}; --task NAME chooses one "
                  f"(default {next(iter(tasks))}).")
        return tasks[chosen.task].main(argv, epilog=epilog)
    return next(iter(tasks.values())).main(argv)
