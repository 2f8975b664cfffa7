"""Train one model (HNN or baseline) on the ideal mass-spring.

    python experiment-spring/train.py [--baseline] [--seed 0] [--device cpu] [--quick]

`--help` lists every flag; the defaults are in task.py. Writes
{save_dir}/spring-{hnn|baseline}-seed{N}.pt and .json (train/test loss, energy MSE).
"""
from hnn.experiments import train_main

if __name__ == "__main__":
    train_main(__file__)
