"""The one home for studies: every study runs through `reproduce.py --study NAME --quick`, trains
the runs it needs, writes its files under `studies/NAME/`, and is redone only when its inputs
change."""
import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from hnn import reversal
from hnn.checkpoint import read_json
from hnn.config import PROFILES, REPO_ROOT
from hnn.experiments import find_studies, find_tasks, load_folder
from hnn.runs import RunsFolder
from hnn.studies import Study
from hnn.tasks import TimeReversal

TASKS = find_tasks()
STUDIES = find_studies()


def reproduce(repo, *args):
    return subprocess.run([sys.executable, "reproduce.py", "--quick", *args], cwd=repo, check=True,
                          capture_output=True, text=True, timeout=900).stdout


@pytest.fixture(scope="module")
def studied(tmp_path_factory, repo):
    out = tmp_path_factory.mktemp("studies")
    first = reproduce(repo, "--out", str(out), "--study", *STUDIES)
    second = reproduce(repo, "--out", str(out), "--study", *STUDIES)
    return out, first, second


def test_the_studies_are_found_and_time_reversal_is_a_default():
    assert set(STUDIES) == {"time-reversal", "which-prior", "end-of-training",
                            "sample-efficiency", "friction-identifiability", "pixel-factors",
                            "trajectory-training", "pixel-coordinates", "iso-horizon",
                            "lipson-horizon"}
    assert [name for name, study in STUDIES.items() if study.default] == ["time-reversal"]
    with pytest.raises(ValueError, match="lowercase letters, digits and single hyphens"):
        Study("Bad_Name", "", needs=list, write=list)


@pytest.mark.slow
def test_time_reversal_takes_its_starts_and_round_trips_from_the_task(tmp_path, monkeypatch):
    spring = TASKS["spring"]
    spring.run(spring.config(quick=True, quiet=True, save_dir=str(tmp_path)))
    task = copy.copy(spring)
    task.time_reversal = TimeReversal(starts=3, round_trip_steps=(4, 8, 16))
    task.eval_t = task.eval_t[:11]              # a short horizon keeps the step-size sweep cheap
    seen = []
    table = reversal.round_trip_table
    monkeypatch.setattr(reversal, "round_trip_table",
                        lambda field, x0, *a: seen.append(x0.shape) or table(field, x0, *a))
    numbers = reversal.study([task], RunsFolder(tmp_path))["spring"]
    assert seen == [(3, 2)] and numbers["round_trip"]["steps"] == [4, 8, 16]
    assert len(numbers["round_trip"]["midpoint"]) == 3 and "long_horizon" not in numbers
    quick = reversal.study([task], RunsFolder(tmp_path), quick=True)["spring"]
    assert quick["round_trip"]["steps"] == [4, 8]
    # a symmetric integrator returns to the start up to roundoff; RK4 does not
    assert (max(numbers["round_trip"]["midpoint"]) < 1e-14 < 1e-11
            < min(numbers["round_trip"]["rk4"]))


@pytest.mark.slow
def test_time_reversal_study(studied):
    out = studied[0]
    folder = out / "studies" / "time-reversal"
    numbers = read_json(folder / "time-reversal.json")
    declared = {name: task.time_reversal for name, task in TASKS.items() if task.time_reversal}
    assert set(numbers) == set(declared) == {"pend", "2body", "dblpend"}
    for name, settings in declared.items():
        assert numbers[name]["round_trip"]["steps"] == list(settings.round_trip_steps[:2])
        assert max(numbers[name]["round_trip"]["midpoint"]) < 1e-9
    horizon = numbers["2body"]["long_horizon"]["midpoint"]["t"][-1]
    assert horizon == pytest.approx(declared["2body"].long_horizon / 10, rel=0.01)
    assert "long_horizon" not in numbers["pend"]
    assert (folder / "round-trip.png").exists() and (folder / "long-horizon-2body.png").exists()
    assert "| Ideal pendulum |" in (folder / "time-reversal.md").read_text()


@pytest.mark.slow
def test_friction_identifiability_study(studied):
    out = studied[0]
    result = read_json(out / "studies" / "friction-identifiability"
                       / "friction-identifiability.json")
    seed0 = result["data"]["damped"]["seeds"]["0"]
    runs = RunsFolder(out / "runs")
    assert seed0["dhnn"] == pytest.approx(
        runs.metrics(TASKS["damped"], "dhnn", 0)["divergence"]["mean"], rel=1e-5)
    assert seed0["least_squares"] == pytest.approx(
        TASKS["damped"].least_squares_reference(0)["divergence"])
    assert result["data"]["damped"]["least_squares"]["groups"] == 2      # 10 seeds with --quick
    identifiability = load_folder(f"{REPO_ROOT}/experiment-damped", "identifiability")
    assert seed0["inferred_starts"] == identifiability.trajectory_divergence(TASKS["damped"], 0)
    assert result["data"]["damped"]["inferred_starts"]["groups"] == 2
    noise_free = RunsFolder(out / "studies" / "friction-identifiability" / "runs-noisefree")
    config = noise_free.metrics(TASKS["damped"], "dhnn", 0)["config"]
    assert (config["noise_std"] == 0.0
            and config["total_steps"] == TASKS["damped"].quick["total_steps"])
    assert len(result["acceptance"]) == 14


@pytest.mark.slow
def test_pixel_factors_study(studied):
    out = studied[0]
    numbers = read_json(out / "studies" / "pixel-factors" / "pixel-factors.json")
    saved = RunsFolder(out / "runs")
    for model in ("hnn", "baseline"):      # rescored our way, a run scores what it saved
        assert numbers["0"]["ours"][model] == pytest.approx(
            saved.metrics(TASKS["pixels"], model, 0)["energy_mse"]["mean"], rel=1e-6)
    (hnn,) = [row for row in numbers["contrast"] if row["model"] == "hnn"]
    ours, rod1 = hnn["train_loss"]
    assert ours == saved.metrics(TASKS["pixels"], "hnn", 0)["train_loss"]["mean"] and rod1 != ours
    variant = RunsFolder(out / "studies" / "pixel-factors" / "runs-contrast")
    assert variant.metrics(TASKS["pixels"], "hnn", 0)["config"]["rod_value"] == 1.0


@pytest.mark.slow
def test_pixel_coordinates_study_reads_each_variants_runs(studied):
    out = studied[0]
    folder = out / "studies" / "pixel-coordinates"
    numbers = read_json(folder / "pixel-coordinates.json")
    pixels = TASKS["pixels"]
    assert set(numbers["variants"]) == {"mlp, Euler", "conv, Euler", "mlp, rollout"}
    mlp, conv = RunsFolder(folder / "runs-mlp"), RunsFolder(folder / "runs-conv")
    assert numbers["variants"]["mlp, Euler"]["hnn"]["energy_mse"] == [
        mlp.metrics(pixels, "hnn", 0)["energy_mse"]["mean"]]
    assert mlp.metrics(pixels, "hnn", 0)["config"]["ema_decay"] == PROFILES["robust"]["ema_decay"]
    assert numbers["variants"]["conv, Euler"]["baseline"]["vpt"] == [
        conv.metrics(pixels, "baseline", 0)["vpt"]]
    assert conv.metrics(pixels, "hnn", 0)["config"]["encoder"] == "conv"
    rollout = RunsFolder(folder / "runs-rollout")
    for model, integrator in (("hnn", "midpoint"), ("baseline", "rk4")):
        config = rollout.metrics(pixels, model + "+rollout", 0)["config"]
        assert (config["loss"], config["horizon"], config.get("train_integrator", "rk4")) == (
            "rollout", 3, integrator)
    assert numbers["best"] in numbers["variants"] and (folder / "pixel-coordinates.png").exists()


@pytest.mark.slow
def test_a_study_is_redone_only_when_its_inputs_change(studied, repo):
    out, first, second = studied
    assert ": training " in first and ": training " not in second
    md = out / "studies" / "pixel-factors" / "pixel-factors.md"
    stamp = md.stat().st_mtime_ns
    reproduce(repo, "--out", str(out), "--study", "pixel-factors")
    assert md.stat().st_mtime_ns == stamp                   # up to date: not rewritten
    md.unlink()
    reproduce(repo, "--out", str(out), "--study", "pixel-factors")
    assert md.exists()                                      # a missing file is written again


@pytest.mark.slow
def test_no_studies_leaves_out_the_default_study(tmp_path, repo):
    reproduce(repo, "--out", str(tmp_path), "--tasks", "pend", "--no-studies")
    assert (tmp_path / "results.json").exists() and not (tmp_path / "studies").exists()
    reproduce(repo, "--out", str(tmp_path), "--tasks", "pend")
    assert np.isfinite(read_json(tmp_path / "studies" / "time-reversal" / "time-reversal.json")
                       ["pend"]["dt"])


def test_node2_share_is_the_log_fraction_of_the_hnns_gain():
    from hnn.priors import log_fraction
    assert log_fraction(1.0, 0.1, 0.01) == pytest.approx(0.5)      # a tenth of 1/100: half
    assert log_fraction(1.0, 0.01, 0.01) == pytest.approx(1.0)
    assert log_fraction(1.0, 10.0, 0.1) == pytest.approx(-1.0)     # worse than the baseline
    assert log_fraction(1.0, 0.5, 2.0) is None                     # the HNN gains nothing


@pytest.mark.slow
def test_which_prior_study(studied):
    """Its groups come from the tasks' declared models, and its numbers are the runs'."""
    out = studied[0]
    numbers = read_json(out / "studies" / "which-prior" / "which-prior.json")["tasks"]
    conservative = [n for n, t in TASKS.items() if "lnn" in t.models]
    assert conservative == ["spring", "pend", "2body", "dblpend"]
    assert set(numbers) == set(conservative) | {"damped", "lipson_central"}
    runs = RunsFolder(out / "runs")
    for name, entry in numbers.items():
        for model, metrics in entry["models"].items():
            saved = runs.metrics(TASKS[name], model, 0)
            assert (metrics["energy_mse"][0] is None) == ("diverged" in saved)
            if "diverged" not in saved:
                assert metrics["state_mse"] == [saved["state_mse"]["mean"]]
                assert entry["ratio"][model]["state_mse"] == pytest.approx(
                    saved["state_mse"]["mean"]
                    / runs.metrics(TASKS[name], "baseline", 0)["state_mse"]["mean"])
    assert set(numbers["damped"]["models"]) == {"baseline", "node2", "hnn", "dhnn"}
    assert (out / "studies" / "which-prior" / "which-prior.png").exists()


@pytest.mark.slow
def test_end_of_training_study(studied):
    """Table 1's tasks that are not expensive; the robust runs hold the profile; the last
    scoring along training is the run's final metric."""
    from hnn.config import PROFILES
    out = studied[0]
    folder = out / "studies" / "end-of-training"
    numbers = read_json(folder / "end-of-training.json")
    assert set(numbers["tasks"]) == {"spring", "pend", "lipson", "2body"}      # no pixels
    assert set(numbers["tasks"]["spring"]["paper"]) == {"baseline", "hnn"}
    assert set(numbers["tasks"]["spring"]["speed"]["levels"]) == {"energy_mse", "state_mse"}
    robust = RunsFolder(folder / "runs-robust")
    config = robust.metrics(TASKS["spring"], "hnn", 0)["config"]
    assert all(config[k] == v for k, v in PROFILES["robust"].items())
    paper = RunsFolder(folder / "runs-paper")
    curve = paper.checkpoint(TASKS["pend"], "hnn", 0)["curves"]["tracked"]
    assert curve["step"][-1] == TASKS["pend"].quick["total_steps"]
    assert curve["energy_mse"][-1] == paper.metrics(TASKS["pend"], "hnn", 0)["energy_mse"]["mean"]
    last = numbers["tasks"]["pend"]["paper"]["hnn"]["last"]["0"]["energy_mse"]
    assert numbers["tasks"]["pend"]["paper"]["hnn"]["within"][0] == pytest.approx(
        max(last) / min(last))
    assert "Results under the robust profile" in (folder / "robust-table.md").read_text()


@pytest.mark.slow
def test_sample_efficiency_study(studied):
    out = studied[0]
    folder = out / "studies" / "sample-efficiency"
    numbers = read_json(folder / "sample-efficiency.json")["tasks"]
    assert set(numbers) == {n for n, t in TASKS.items() if t.sample_sizes} == {
        "spring", "pend", "2body", "dblpend"}
    assert all(set(entry["models"]) == {"baseline", "hnn", "node2"} for entry in numbers.values())
    spring = TASKS["spring"]
    assert numbers["spring"]["sizes"] == [5, 25]                   # --quick: smallest, paper
    saved = RunsFolder(folder / "runs-spring-n5").metrics(spring, "hnn", 0)
    assert saved["config"]["train_trajectories"] == 5 and saved["config"]["samples"] == 400
    assert numbers["spring"]["models"]["hnn"]["energy_mse"]["5"] == [saved["energy_mse"]["mean"]]
    assert (folder / "sample-efficiency.png").exists()


@pytest.mark.slow
def test_sample_efficiency_measures_the_tasks_named_and_keeps_the_others(studied, repo, tmp_path):
    """`--tasks pend` re-measures pend from its runs and keeps the JSON's other sections; the
    steps-scaled note stays the spring's."""
    import shutil
    source = studied[0] / "studies" / "sample-efficiency"
    folder = tmp_path / "studies" / "sample-efficiency"
    shutil.copytree(source, folder)
    (folder / ".done").unlink()
    before = read_json(folder / "sample-efficiency.json")
    marked = copy.deepcopy(before)
    marked["tasks"]["dblpend"]["title"] = "kept as it was"
    marked["tasks"]["pend"]["models"]["hnn"]["energy_mse"]["5"] = [-1.0]
    (folder / "sample-efficiency.json").write_text(json.dumps(marked))
    reproduce(repo, "--out", str(tmp_path), "--study", "sample-efficiency", "--tasks", "pend")
    after = read_json(folder / "sample-efficiency.json")
    assert set(after["tasks"]) == {"spring", "pend", "2body", "dblpend"}
    assert after["tasks"]["dblpend"]["title"] == "kept as it was"
    assert after["tasks"]["pend"] == before["tasks"]["pend"]          # measured again
    assert "scaled" in after["tasks"]["spring"] and "scaled" not in after["tasks"]["pend"]


@pytest.mark.slow
def test_iso_horizon_study(studied):
    out, task = studied[0], TASKS["damped"]
    folder = out / "studies" / "iso-horizon"
    numbers = read_json(folder / "iso-horizon.json")
    horizon = load_folder(f"{REPO_ROOT}/experiment-damped", "horizon")
    assert set(numbers["horizons"]) == {"5", "29"} and numbers["noises"] == [0.0, 0.1]  # --quick
    runs = RunsFolder(folder / "runs-k29-noise0.1")
    model, ckpt = runs.load(task, "dhnn+rollout+iso", 0)
    stored = ckpt["config"]
    assert (stored["horizon"], stored["noise_std"], stored["infer_starts"]) == (29, 0.1, True)
    cell = numbers["horizons"]["29"]["0.1"]
    assert cell["divergence"] == [runs.metrics(task, "dhnn+rollout+iso", 0)["divergence"]["mean"]]
    config = task.config(**{k: v for k, v in stored.items() if k != "task"})
    assert cell["held_out"] == [horizon.held_out_score(task, model, config)]
    assert cell["linear_likelihood"] == [horizon.trajectory_divergence(
        task, 0, **task.quick, horizon=29, noise_std=0.1)]
    scores = {k: entry["0.1"]["held_out"][0] for k, entry in numbers["horizons"].items()}
    assert numbers["chosen"] == int(min(scores, key=scores.get))
    assert len(numbers["checks"]) == 3


@pytest.mark.slow
def test_lipson_horizon_study(studied):
    out = studied[0]
    numbers = read_json(out / "studies" / "lipson-horizon" / "lipson-horizon.json")
    raw = RunsFolder(out / "studies" / "lipson-horizon" / "runs-raw-k10").metrics(
        TASKS["lipson"], "dhnn+rollout", 0)
    assert (raw["config"]["horizon"], raw["config"]["loss"]) == (10, "rollout")
    central = RunsFolder(out / "runs").metrics(TASKS["lipson_central"], "dhnn", 0)
    assert numbers["raw"]["energy_mse"] == [raw["energy_mse"]["mean"]]
    assert numbers["energy_mse_ratio"] == pytest.approx(
        raw["energy_mse"]["mean"] / central["energy_mse"]["mean"], rel=1e-12)
    assert numbers["central"]["recording_decay_rate"] == pytest.approx(0.0118, abs=5e-4)


@pytest.mark.slow
def test_trajectory_training_study(studied):
    out = studied[0]
    folder = out / "studies" / "trajectory-training"
    numbers = read_json(folder / "trajectory-training.json")
    declared = {name: task.trajectory_study.part for name, task in TASKS.items()
                if task.trajectory_study}
    assert declared == {"damped": "noise", "lipson": "real", "spring": "long", "pend": "long",
                        "2body": "long"}
    noise = numbers["noise"]["damped"]
    assert list(noise["noises"]) == ["0", "0.1"]                   # --quick: two noise levels
    assert noise["noises"]["0"]["least_squares"][0] == pytest.approx(-0.2, abs=1e-9)
    assert noise["truth"]["divergence"] == pytest.approx(-0.2)
    iso = RunsFolder(folder / "runs-noise0.1").metrics(TASKS["damped"], "dhnn+rollout+iso", 0)
    assert iso["config"]["loss"] == "rollout" and iso["config"]["infer_starts"] is True
    assert iso["config"]["noise_std"] == 0.1
    assert "iso_method" not in iso["config"]                       # alternating, the default
    alternating = noise["noises"]["0.1"]["rollout + ISO (alternating)"]
    assert alternating["divergence"] == [iso["divergence"]["mean"]]
    joint = RunsFolder(folder / "runs-noise0.1-joint").metrics(TASKS["damped"], "dhnn+rollout+iso",
                                                               0)
    assert joint["config"]["iso_method"] == "joint"
    assert noise["noises"]["0.1"]["rollout + ISO (joint)"]["divergence"] == [
        joint["divergence"]["mean"]]
    more = noise["more_seeds"]                                     # --quick: seeds 0 and 1
    second = RunsFolder(folder / "runs-noise0.1").metrics(TASKS["damped"], "dhnn+rollout+iso", 1)
    assert more["noise_std"] == 0.1 and more["seeds"] == [0, 1]
    assert more["rollout + ISO (alternating)"]["divergence"] == [iso["divergence"]["mean"],
                                                                 second["divergence"]["mean"]]
    assert len(more["derivative"]["energy_decay_rate"]) == 2
    assert set(numbers["real"]["lipson"]["trainings"]) == {
        "lipson derivative", "lipson_central derivative", "lipson rollout (raw)"}
    assert set(numbers["long"]) == {"spring", "pend", "2body"}
    curve = RunsFolder(folder / "runs-long").checkpoint(TASKS["pend"], "hnn+rollout", 0)
    assert curve["curves"]["tracked"]["step"][-1] == TASKS["pend"].quick["total_steps"]
    assert (folder / "damped-divergence-against-noise.png").exists()
    assert (folder / "lipson-energy.png").exists()
