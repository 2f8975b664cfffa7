"""Real pendulum (paper Task 3): Schmidt & Lipson's (2009) measured trajectory, `real_pend_h_1.txt`.

The file ships in `data/` and is checked against its sha256 on every load; nothing is downloaded
(see data/README.md for its provenance). It holds one trajectory of 556 rows `trial t theta omega`.
As in the original, the state is x = [theta, omega] taken as (q, p), the target is the forward
difference dx = (x[i+1] - x[i]) / (t[i+1] - t[i]) with the real time steps (nominally 1/6, with a
few dropped frames), and the test set is the last contiguous fifth of the trajectory.

`derivative="central"` gives the D-HNN paper's dataset instead (Sosanya & Greydanus 2022,
experiment_realpend/data.py): the mean of the two forward differences around each state, a central
difference. A forward difference of an oscillation of frequency w over a step h also shrinks it by
(1 - cos wh) / h per unit time, about 0.4 here: a friction that the recording does not have, which
any model that can dissipate learns. The central difference has no such term.
"""
import hashlib
import os

import numpy as np

DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "real_pend_h_1.txt")
SHA256 = "45d92988198b89a5933f5a53e67aa819d06937516f71a462ac09e1307d8b3411"
COLUMNS = ("trial", "t", "theta", "omega")
ENERGY_COEFFICIENT = 2.4   # the original's "ground-truth" H = 2.4 (1 - cos q) + p^2


def hamiltonian(x):
    """The energy used for the paper's metric, H = 2.4 (1 - cos q) + p^2, of `(..., 2)` states."""
    return ENERGY_COEFFICIENT * (1 - np.cos(x[..., 0])) + x[..., 1] ** 2


def parse_table(text, source="<text>"):
    """Parse the Schmidt & Lipson text format into a float array `(rows, 4)` = trial, t, theta,
    omega.

    Lines may end in CRLF or LF; lines starting with `%` are headers and blank lines are skipped.
    Every other line must hold 4 finite numbers."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        fields = line.split()
        if len(fields) != len(COLUMNS):
            raise ValueError(f"{source}, line {number}: expected {len(COLUMNS)} columns "
                             f"{' '.join(COLUMNS)}, got {len(fields)}")
        try:
            rows.append([float(field) for field in fields])
        except ValueError:
            raise ValueError(f"{source}, line {number}: not a number in {line!r}") from None
    table = np.array(rows, dtype=np.float64).reshape(-1, len(COLUMNS))
    if not np.isfinite(table).all():
        raise ValueError(f"{source}: holds values that are not finite")
    return table


def load_table(path=DATA_PATH, sha256=SHA256):
    """Read and verify the data file; returns `t` (rows,) and `x` (rows, 2) = [theta, omega].

    A missing file, or one whose sha256 differs from `sha256`, raises an error naming the path and
    the expected checksum. The file must hold one trial with strictly increasing time."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: it ships with the project "
                                f"(real_pend_h_1.txt, sha256 {sha256}); see data/README.md")
    with open(path, "rb") as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ValueError(f"{path} has sha256 {digest}, expected {sha256}: the file is altered or "
                         f"corrupt; restore real_pend_h_1.txt (see data/README.md)")
    table = parse_table(raw.decode("ascii"), source=path)
    if len(np.unique(table[:, 0])) != 1:
        raise ValueError(f"{path}: expected a single trial, found trials {np.unique(table[:, 0])}")
    t = table[:, 1]
    if not (np.diff(t) > 0).all():
        raise ValueError(f"{path}: time is not strictly increasing")
    return t, table[:, 2:4]


def split_indices(n, train_fraction):
    """(train, test) row indices of the original split of `n` points.

    test = [a, a + m) with a = int(n f) and m = int(n (1 - f)); train = every other row. For n = 555
    and f = 0.8, float rounding gives m = 110, so the test set is rows 444..553 and the train set
    rows 0..443 plus row 554 (445 points)."""
    start, size = int(n * train_fraction), int(n * (1 - train_fraction))
    test = np.arange(start, start + size)
    train = np.setdiff1d(np.arange(n), test)
    return train, test


DERIVATIVES = ("forward", "central")


def difference_targets(t, states, derivative="forward"):
    """States `(n, 2)`, finite-difference targets `(n, 2)` and times `(n,)` from a recording of
    `states` `(N, 2)` at times `t` `(N,)`, with the real time steps.

    "forward": dx[i] = (x[i+1] - x[i]) / (t[i+1] - t[i]) for rows 0..N-2 (the HNN paper's).
    "central": rows 1..N-1, each with the mean of the forward differences before and after it,
    the last with the one before it (the D-HNN paper's)."""
    if derivative not in DERIVATIVES:
        raise ValueError(f"derivative must be one of {DERIVATIVES}, got {derivative!r}")
    forward = np.diff(states, axis=0) / np.diff(t)[:, None]
    if derivative == "forward":
        return states[:-1], forward, t[:-1]
    return states[1:], np.concatenate([(forward[:-1] + forward[1:]) / 2, forward[-1:]]), t[1:]


def get_dataset(train_fraction, path=DATA_PATH, derivative="forward"):
    """The original dataset: numpy `x, dx` (445, 2) and `test_x, test_dx` (110, 2) for
    `train_fraction` 0.8, with their times `t` and `test_t`. dx is the forward difference with the
    real time step, so each point is the state at the start of its interval (the last row of the
    file has no target).

    `derivative="central"` gives the D-HNN paper's dataset: rows 1..555 of the file with central
    targets (`difference_targets`), the first int(556 f) training and the rest testing: (444, 2)
    and (111, 2) for f = 0.8."""
    t, states = load_table(path)
    x, dx, t = difference_targets(t, states, derivative)
    if derivative == "central":
        split = int(len(states) * train_fraction)
        train, test = np.arange(split), np.arange(split, len(x))
    else:
        train, test = split_indices(len(x), train_fraction)
    if len(test) < 2 or len(train) < 1:
        raise ValueError(f"--train-fraction {train_fraction} leaves {len(train)} training and "
                         f"{len(test)} test points of {len(x)}; the test segment needs at least 2")
    return {"x": x[train], "dx": dx[train], "t": t[train],
            "test_x": x[test], "test_dx": dx[test], "test_t": t[test]}


def evaluation_segment(dataset):
    """The energy-MSE protocol: start `(1, 2)`, times from 0 `(T,)` and the data `(1, T, 2)`, T the
    test segment's length (110 for the original split)."""
    t = dataset["test_t"] - dataset["test_t"][0]
    return dataset["test_x"][:1], t, dataset["test_x"][None]
