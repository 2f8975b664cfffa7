"""Train one model (HNN, baseline or dissipative HNN) on the damped mass-spring.

    python experiment-damped/train.py [--model hnn|baseline|dhnn] [--seed 0] [--quick]

`--help` lists every flag; the defaults are in task.py. Writes
{save_dir}/damped-{model}-seed{N}.pt and .json (losses, energy and state MSE, divergence,
energy decay rate).
"""
from hnn.experiments import train_main

if __name__ == "__main__":
    train_main(__file__)
