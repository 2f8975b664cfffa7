"""Train one model on the real pendulum of Schmidt & Lipson.

    python experiment-lipson/train.py [--model {baseline,hnn,dhnn,shnn}] [--seed 0] [--quick]
    python experiment-lipson/train.py --task lipson_central --model dhnn

`--task lipson` (the default) has the HNN paper's forward-difference targets; `lipson_central` the
D-HNN paper's central differences and split. `--help` lists every flag; the defaults are in
task.py. Writes {save_dir}/{task}-{model}-seed{N}.pt and .json (losses, energy and state MSE).
"""
from hnn.experiments import train_main

if __name__ == "__main__":
    train_main(__file__)
