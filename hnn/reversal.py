"""Time reversal and long rollouts of a learned field: tests of the paper's claim that an HNN
"is perfectly reversible in time" and does not drift in energy.

Everything here steps an integrator of `hnn.integrate` by hand with a fixed step `dt`, batched
over starts `(batch, d)`, states `[q..., p...]`; use float64 models and starts, or roundoff
hides what the integrators do. `STUDY` runs it on the HNN of every task that declares a
`hnn.tasks.TimeReversal` (`python reproduce.py --study time-reversal`; `python reproduce.py`
runs it too, unless `--no-studies`).
"""
import os

import numpy as np
import torch

from .checkpoint import write_json, write_text
from .integrate import get_integrator
from .report import markdown_table
from .studies import RunSet, Study
from .sweep import Run


class CountingField:
    """A field that counts how often it is evaluated (once per call, whatever the batch)."""

    def __init__(self, field):
        self.field = field
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return self.field(x)


def integrate(field, x0, dt, steps, integrator):
    """`steps` steps of `integrator` (a name or an integrator) from `x0` `(batch, d)`: the final
    state `(batch, d)`."""
    integrator = get_integrator(integrator) if isinstance(integrator, str) else integrator
    x = x0
    with torch.no_grad():
        for _ in range(steps):
            x = integrator.step(field, x, dt)
    return x


def round_trip_error(field, x0, dt, steps, integrator):
    """Relative distance `|x_back - x0| / |x0|` per start `(batch,)` after `steps` steps forward
    with `dt` and `steps` steps back with `-dt`. Zero, up to roundoff and the solver's tolerance,
    for a symmetric integrator."""
    forward = integrate(field, x0, dt, steps, integrator)
    back = integrate(field, forward, -dt, steps, integrator)
    return ((back - x0).norm(dim=-1) / x0.norm(dim=-1)).cpu().numpy()


def amplification(field, x0, dt, steps, size=1e-13, seed=0):
    """How much the flow stretches a tiny perturbation: the largest ratio over the starts of
    |x_N(x0 + e) - x_N(x0)| to |e| after `steps` RK4 steps, e a random direction of relative size
    `size`. A round trip in floating point cannot return closer than about this times the
    roundoff, however symmetric the integrator."""
    direction = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed), dtype=x0.dtype)
    e = size * x0.norm(dim=-1, keepdim=True) * direction / direction.norm(dim=-1, keepdim=True)
    a, b = (integrate(field, x, dt, steps, "rk4") for x in (x0, x0 + e))
    return float(((b - a).norm(dim=-1) / e.norm(dim=-1)).max())


def round_trip_table(field, x0, dt, step_counts, integrators):
    """{integrator: [largest round-trip error over the starts, for each of `step_counts`]}."""
    return {name: [float(round_trip_error(field, x0, dt, n, name).max()) for n in step_counts]
            for name in integrators}


def evaluations_per_step(field, x0, dt, integrator, steps=20):
    """Field evaluations per step of `integrator` from `x0`, averaged over `steps` steps."""
    counted = CountingField(field)
    integrate(counted, x0, dt, steps, integrator)
    return counted.calls / steps


def energy_error_path(model, x0, dt, steps, integrator, every=1):
    """The learned energy's error along a rollout: times `(steps // every + 1,)` and
    `|H(x_t) - H(x_0)|`, the largest over the starts, at each of them."""
    integrator = get_integrator(integrator) if isinstance(integrator, str) else integrator
    with torch.no_grad():
        h0 = model.hamiltonian(x0)
        x, errors = x0, [0.0]
        for i in range(1, steps + 1):
            x = integrator.step(model.time_derivative, x, dt)
            if i % every == 0:
                errors.append(float((model.hamiltonian(x) - h0).abs().max()))
    return dt * every * np.arange(len(errors)), np.array(errors)


def drift_ratio(errors):
    """Largest error over the last 10% of a path against the largest over its first 10% (its
    first point, the start, excluded): near 1 when the error is bounded, large when it drifts."""
    n = max(len(errors) // 10, 1)
    return float(np.max(errors[-n:]) / np.max(errors[1:n + 1]))


def step_size_energy_mse(model, energy_fn, x0, truth, t_end, step_sizes, integrators):
    """{integrator: [energy MSE for each step size]}: the model rolled out from `x0` to `t_end`
    with each step `dt` of `step_sizes`, against `truth(x0, t)` (numpy `(batch, T, d)` on the grid
    `t = 0, dt, ..., t_end`), the distance `(E_true - E_model)^2` averaged over starts and times.
    A rollout that blows up scores `inf`."""
    table = {name: [] for name in integrators}
    for dt in step_sizes:
        steps = int(round(t_end / dt))
        t = dt * np.arange(steps + 1)
        true_energy = energy_fn(truth(x0.cpu().numpy(), t))
        for name in integrators:
            integrator = get_integrator(name)
            x, states = x0, [x0]
            try:
                with torch.no_grad():
                    for _ in range(steps):
                        x = integrator.step(model.time_derivative, x, dt)
                        states.append(x)
            except RuntimeError:        # an implicit step that cannot converge at this dt
                table[name].append(float("inf"))
                continue
            model_energy = energy_fn(torch.stack(states, 1).cpu().numpy())
            mse = float(np.mean((true_energy - model_energy) ** 2))
            table[name].append(mse if np.isfinite(mse) else float("inf"))
    return table


def long_horizon(model, x0, dt, t_end, points=400):
    """The learned energy's error over [0, t_end] by the implicit midpoint rule with step `dt`,
    and by RK4 at the same cost (field evaluations per unit time) and at the same step:
    {name: {"dt", "evaluations_per_step", "t", "error", "drift_ratio"}}."""
    midpoint_cost = evaluations_per_step(model.time_derivative, x0, dt, "midpoint")
    runs = {"midpoint": ("midpoint", dt, midpoint_cost),
            "rk4_equal_cost": ("rk4", dt * 4 / midpoint_cost, 4.0),
            "rk4_same_step": ("rk4", dt, 4.0)}
    out = {}
    for label, (integrator, step, cost) in runs.items():
        steps = int(round(t_end / step))
        t, errors = energy_error_path(model, x0, step, steps, integrator,
                                      every=max(steps // points, 1))
        out[label] = {"dt": step, "evaluations_per_step": cost, "t": t.tolist(),
                      "error": errors.tolist(), "drift_ratio": drift_ratio(errors)}
    return out


STUDY_INTEGRATORS = ("rk4", "midpoint", "yoshida4")
STEP_MULTIPLES = (1, 2, 4, 8, 16)


def study(tasks, runs, seed=0, quick=False):
    """The time-reversal study of the HNNs of `tasks` (Tasks with a `time_reversal` and a
    `reference`) saved in `runs` (an `hnn.runs.RunsFolder`), in float64, from the first
    `task.time_reversal.starts` held-out starts of each task:
    {task name: {"dt", "round_trip", "step_size"[, "long_horizon"]}}:
    - round_trip: {"steps": N..., integrator: largest relative return error after N steps
      forward and N back, for each N of `time_reversal.round_trip_steps`, and "amplification":
      see `amplification`};
    - step_size: {"dt": steps..., integrator: energy MSE against the true energy over the
      evaluation horizon, for each step (multiples of the evaluation step)};
    - long_horizon (where `time_reversal.long_horizon` is set): see `long_horizon`.
    `quick` keeps the round trips to their first two counts and the long horizon to a tenth."""
    out = {}
    for task in tasks:
        settings = task.time_reversal
        model = runs.load(task, "hnn", seed)[0].double()
        ref = task.reference(task.config(quick=quick))
        x0 = torch.as_tensor(ref.x0[:settings.starts], dtype=torch.float64)
        steps = settings.round_trip_steps[:2] if quick else settings.round_trip_steps
        dts = [ref.dt * m for m in STEP_MULTIPLES]
        entry = {"dt": ref.dt,
                 "round_trip": {"steps": list(steps), **round_trip_table(
                     model.time_derivative, x0, ref.dt, steps, STUDY_INTEGRATORS),
                     "amplification": [amplification(model.time_derivative, x0, ref.dt, n)
                                       for n in steps]},
                 "step_size": {"dt": dts, **step_size_energy_mse(
                     model, ref.energy, x0, ref.solution, ref.t_end, dts, STUDY_INTEGRATORS)}}
        if settings.long_horizon:
            entry["long_horizon"] = long_horizon(model, x0, ref.dt,
                                                 settings.long_horizon / (10 if quick else 1))
        out[task.name] = entry
    return out


def markdown(numbers, titles):
    """The tables of a `study` result in Markdown; `titles` maps task names to row titles."""
    steps = max((entry["round_trip"]["steps"] for entry in numbers.values()), key=len)
    rows = [[titles[name], f"{entry['dt']:.3g}", integrator]
            + [f"{e:.1e}" for e in errors] + [""] * (len(steps) - len(errors))
            for name, entry in numbers.items()
            for integrator, errors in entry["round_trip"].items() if integrator != "steps"]
    lines = ["Round trip: the largest relative return error |x_back - x0| / |x0| after N steps "
             "forward and N back (float64); amplification: how much N steps stretch a perturbation "
             "of relative size 1e-13 (RK4), which bounds how closely any round trip can "
             "return.", "",
             markdown_table(["Task", "dt", "integrator"] + [f"N = {n}" for n in steps], rows)]
    dts = next(iter(numbers.values()))["step_size"]["dt"]
    rows = [[titles[name], integrator] + [f"{e:.2e}" for e in errors]
            for name, entry in numbers.items()
            for integrator, errors in entry["step_size"].items() if integrator != "dt"]
    lines += ["", "Step size: the energy MSE against the true energy over the evaluation horizon "
              "(inf: the rollout blew up or an implicit step did not converge).", "",
              markdown_table(["Task", "integrator"] + [f"dt = {dt:.3g}" for dt in dts], rows)]
    for name, entry in numbers.items():
        if "long_horizon" in entry:
            runs = entry["long_horizon"]
            t_end = runs["midpoint"]["t"][-1]
            rows = []
            for label, run in runs.items():
                errors = np.array(run["error"])
                n = max(len(errors) // 10, 1)
                rows.append([label, f"{run['dt']:.3g}",
                             f"{run['evaluations_per_step'] / run['dt']:.0f}",
                             f"{errors[1:n + 1].max():.2e}", f"{errors[-n:].max():.2e}",
                             f"{run['drift_ratio']:.2f}"])
            lines += ["", f"Long horizon, {titles[name]} HNN over t in [0, {t_end:.0f}]: "
                      f"the learned "
                      "energy's error |H(x_t) - H(x_0)|, largest over the starts.", "",
                      markdown_table(["rollout", "dt", "field evaluations per unit time",
                                      "max error, first 10%", "max error, last 10%",
                                      "last / first"], rows)]
    return "\n".join(lines) + "\n"


def studied(context):
    """The selected tasks that declare a time-reversal study."""
    return [context.tasks[name] for name in context.selected if context.tasks[name].time_reversal]


def needs(context):
    return [RunSet(tuple(Run(task.name, "hnn", context.seeds[0]) for task in studied(context)))]


def write_study(context):
    """Run `study` on the first seed and write `time-reversal.json`, its tables
    `time-reversal.md` and its figures (`round-trip.png`, `step-size.png`,
    `long-horizon-NAME.png`) in the study's folder; returns the paths."""
    from .plots import long_horizon_figure, round_trip_figure, save_figure, step_size_figure
    tasks = studied(context)
    if not tasks:
        return []
    print(f"time-reversal study of the {', '.join(t.name for t in tasks)} HNNs "
          f"(seed {context.seeds[0]})")
    numbers = study(tasks, context.runs(), context.seeds[0], context.quick)
    titles = {task.name: task.title for task in tasks}
    folder = context.folder
    json_path, md_path = (os.path.join(folder, f"time-reversal.{ext}") for ext in ("json", "md"))
    write_json(json_path, numbers, allow_nan=True)     # inf: a rollout that blew up
    write_text(md_path, markdown(numbers, titles))
    paths = [json_path, md_path,
             save_figure(round_trip_figure(numbers, titles),
                         os.path.join(folder, "round-trip.png")),
             save_figure(step_size_figure(numbers, titles), os.path.join(folder, "step-size.png"))]
    for name, entry in numbers.items():
        if "long_horizon" in entry:
            paths.append(save_figure(long_horizon_figure(entry["long_horizon"],
                                                         f"{titles[name]} HNN"),
                                     os.path.join(folder, f"long-horizon-{name}.png")))
    return paths


STUDY = Study("time-reversal", "Is a learned HNN reversible in time, and does its energy drift? "
              "Round trips, step sizes and long horizons with RK4 and symplectic integrators.",
              needs=needs, write=write_study, default=True)
