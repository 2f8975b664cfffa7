"""Train one model (HNN or baseline) on the two-body task or, with --task 3body, the three-body.

    python experiment-orbits/train.py [--task 2body|3body] [--baseline] [--seed 0] [--quick]

`--help` lists every flag; the defaults are in task.py. Writes
{save_dir}/{2body|3body}-{hnn|baseline}-seed{N}.pt and .json (train/test loss, energy MSE).
The dataset is cached as .npz (see data.py), so later runs skip generation.
"""
from hnn.experiments import train_main

if __name__ == "__main__":
    train_main(__file__)
