"""Pixel pendulum (paper Task 5): frames of gymnasium's Pendulum-v1 swinging freely.

Angles are measured from the hanging-down position (gymnasium measures them from upright), so
the true state of a frame is `theta` and `theta_dot`; the coordinates kept for analysis are
`[theta, 0.25 * theta_dot]`, in which H = 1.9 (1 - cos q) + p^2 is nearly constant along a
trajectory. An observation is two consecutive 28x28 frames, flattened and concatenated:
`[frame_t, frame_t+1]`, 1568 values in [0, 1].
"""
import math
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")         # headless rendering
os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")     # let Ctrl-C / SIGTERM stop generation
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from hnn.cache import cached  # noqa: E402

FRAME_SIZE = 28
FRAME_DIM = FRAME_SIZE * FRAME_SIZE
PAIR_DIM = 2 * FRAME_DIM                # the model's input: two frames
VELOCITY_SCALE = 0.25                   # p = 0.25 * theta_dot
ENV_DT = 0.05                           # Pendulum-v1's time step, seconds per frame

MIN_ANGLE, MAX_ANGLE = 0.0, math.pi / 6 # a trial starts once MIN_ANGLE < |theta| < MAX_ANGLE
TEST_FRACTION = 0.2                     # the first 20% of trials are the test set
RENDER_SIZE = 500                       # gymnasium's default screen_dim

# Pendulum-v1's renderer shows world x, y in [-2.2, 2.2] with the pivot at the centre and draws
# the rod in (204, 77, 77) on white. The crop, in world units around the pivot (x right, y down),
# is the region the original's pixel indices cut out: 1.5 x 1.5 units, pivot 0.25 from the top.
RENDER_BOUND = 2.2
CROP = {"left": -0.75, "right": 0.75, "top": -0.25, "bottom": 1.25}
ROD_INK = 204 - 77                      # red minus green of the rod's colour
ORIGINAL_ROD_VALUE = 0.5                # the original's rod in its frames: 127/255

# The fresh trajectory used for the energy MSE and the figures (the original notebook's).
EVAL_SEED = 1
EVAL_TIMESTEPS = 203                    # 200 observation pairs
EVAL_MIN_ANGLE, EVAL_MAX_ANGLE = math.pi / 11, math.pi / 10


def hamiltonian(coords):
    """H = 1.9 (1 - cos q) + p^2 of coordinates `(..., 2)` = [theta, 0.25 * theta_dot]."""
    coords = np.asarray(coords)
    return 1.9 * (1 - np.cos(coords[..., 0])) + coords[..., 1] ** 2


def preprocess(frame, rod_value=1.0):
    """A rendered RGB frame `(S, S, 3)` uint8, any S, -> a `(28, 28)` float32 frame in [0, 1].

    Desaturates to one channel, red minus green (which keeps the red rod and drops the white
    background and the black axle) scaled so that the rod is `rod_value` (the pixel task's
    default is the original's, `ORIGINAL_ROD_VALUE`: its red minus green over 255); crops the
    region `CROP` around the pivot, located relative to the image size; and resizes to 28x28 by
    area averaging (Pillow's box filter), so the result does not depend on the render resolution.
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] != frame.shape[1]:
        raise ValueError(f"frame must be a square RGB image (S, S, 3), got shape {frame.shape}")
    size = frame.shape[0]
    # The renderer puts the pivot at pixel (size // 2) before flipping the image upside down.
    pivot_x = size // 2 + 0.5
    pivot_y = size - size // 2 - 0.5
    scale = size / (2 * RENDER_BOUND)                       # pixels per world unit
    left, top = pivot_x + CROP["left"] * scale, pivot_y + CROP["top"] * scale
    right, bottom = pivot_x + CROP["right"] * scale, pivot_y + CROP["bottom"] * scale
    # Work on the whole pixels that hold the crop; the box filter takes the exact (sub-pixel) box.
    x0, y0 = max(int(left), 0), max(int(top), 0)
    region = frame[y0:min(math.ceil(bottom), size), x0:min(math.ceil(right), size)]
    ink = (region[..., 0].astype(np.float32) - region[..., 1].astype(np.float32)) / ROD_INK
    ink = np.clip(ink, 0.0, 1.0) * np.float32(rod_value)
    box = (left - x0, top - y0, right - x0, bottom - y0)
    small = Image.fromarray(ink).resize((FRAME_SIZE, FRAME_SIZE), Image.Resampling.BOX, box=box)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)


def make_env(render_size=RENDER_SIZE):
    """Pendulum-v1 rendering `(render_size, render_size, 3)` frames (the raw env, no time limit)."""
    if not isinstance(render_size, int) or render_size < 50:
        raise ValueError(f"render_size must be an integer >= 50 pixels, got {render_size!r}")
    env = gym.make("Pendulum-v1", render_mode="rgb_array").unwrapped
    env.screen_dim = render_size
    return env


def hanging_angle(env):
    """The env's angle measured from hanging down, wrapped to [-pi, pi).

    gymnasium's angle is 0 upright, so this is wrap(angle - pi) = (angle mod 2 pi) - pi."""
    return env.state[0] % (2 * math.pi) - math.pi


def render_trials(seed, trials, timesteps, min_angle=MIN_ANGLE, max_angle=MAX_ANGLE,
                  render_size=RENDER_SIZE, quiet=False, rod_value=1.0):
    """Run `trials` zero-torque trials of `timesteps` frames each.

    Every trial resets the env (seeded once with `seed`, as the original did) until
    `min_angle < |theta| < max_angle`. Each frame is rendered before the step.
    Returns `{"frames": (trials, timesteps, 784) float32, "coords": (trials, timesteps, 2)}`
    with coords `[theta, 0.25 * theta_dot]` at each frame; `rod_value` as in `preprocess`.
    """
    if trials < 1 or timesteps < 4:
        raise ValueError(f"need trials >= 1 and timesteps >= 4, got {trials} and {timesteps}")
    env = make_env(render_size)
    frames = np.zeros((trials, timesteps, FRAME_DIM), dtype=np.float32)
    coords = np.zeros((trials, timesteps, 2))
    env.reset(seed=seed)
    try:
        for trial in tqdm(range(trials), desc="pendulum frames", disable=quiet, leave=False):
            while not min_angle < abs(hanging_angle(env)) < max_angle:
                env.reset()
            for step in range(timesteps):
                frames[trial, step] = preprocess(env.render(), rod_value).reshape(-1)
                coords[trial, step] = hanging_angle(env), VELOCITY_SCALE * env.state[1]
                env.step(np.zeros(1))
            env.reset()
    finally:
        env.close()
    return {"frames": frames, "coords": coords}


def make_pairs(frames, coords, label_offset=0):
    """Observation pairs of each trial: `x_t = [f_t, f_t+1]`, `next_x_t = [f_t+1, f_t+2]` and
    the coords at t + `label_offset`, for t = 0 .. timesteps - 4 (the original's 100 pairs from
    103 frames). Ours label a pair with its first frame's state (offset 0); the original's with
    the state one step after its second frame (offset 2).

    `frames` (trials, T, 784) and `coords` (trials, T, 2) -> `x`, `next_x` (trials*(T-3), 1568)
    and `coords` (trials*(T-3), 2), trial by trial."""
    n = frames.shape[1] - 3
    x = np.concatenate([frames[:, :n], frames[:, 1:n + 1]], axis=-1)
    next_x = np.concatenate([frames[:, 1:n + 1], frames[:, 2:n + 2]], axis=-1)
    return {"x": x.reshape(-1, PAIR_DIM), "next_x": next_x.reshape(-1, PAIR_DIM),
            "coords": coords[:, label_offset:n + label_offset].reshape(-1, 2)}


def get_dataset(seed, trials, timesteps, render_size=RENDER_SIZE, quiet=False, label_offset=0,
                rod_value=1.0):
    """The pixel dataset of `trials` trials of `timesteps` frames, cached as .npz. The first 20%
    of trials are the test set.

    Returns numpy `x`, `next_x` (N, 1568) float32 and `coords` (N, 2) for training, and the same
    with a `test_` prefix; with the task's defaults (200 trials of 103 frames) 16,000 train and
    4,000 test examples. `coords` are for analysis only (see `make_pairs` for `label_offset`,
    `preprocess` for `rod_value`)."""
    n_test = int(trials * TEST_FRACTION)
    if n_test < 1:
        raise ValueError(f"trials must be >= {math.ceil(1 / TEST_FRACTION)} so that the first "
                         f"{TEST_FRACTION:.0%} of them hold a test trial, got {trials}")
    settings = {"seed": seed, "trials": trials, "timesteps": timesteps, "render_size": render_size,
                "min_angle": MIN_ANGLE, "max_angle": MAX_ANGLE, "frame_size": FRAME_SIZE,
                "crop": CROP}
    if rod_value != 1.0:                    # the key of the default frames stays as it was
        settings["rod_value"] = rod_value
    raw = cached("pixels", settings, lambda: render_trials(
        seed, trials, timesteps, MIN_ANGLE, MAX_ANGLE, render_size, quiet, rod_value), quiet=quiet)
    test = make_pairs(raw["frames"][:n_test], raw["coords"][:n_test], label_offset)
    train = make_pairs(raw["frames"][n_test:], raw["coords"][n_test:], label_offset)
    return {**train, **{"test_" + k: v for k, v in test.items()}}


def evaluation_trajectory(render_size=RENDER_SIZE, label_offset=0, rod_value=1.0):
    """The fresh test trajectory of the original notebook (seed 1, |theta0| in (pi/11, pi/10)).

    Returns `x` (200, 1568), the observation pairs, and `coords` (200, 2), one frame apart."""
    raw = render_trials(EVAL_SEED, 1, EVAL_TIMESTEPS, EVAL_MIN_ANGLE, EVAL_MAX_ANGLE,
                        render_size, quiet=True, rod_value=rod_value)
    pairs = make_pairs(raw["frames"], raw["coords"], label_offset)
    return pairs["x"], pairs["coords"]


def evaluation_grid(steps):
    """Rollout times of `steps` observations one frame apart, in frames (the latent model's
    time unit: it is trained with an Euler step of one frame)."""
    return np.arange(steps, dtype=np.float64)
