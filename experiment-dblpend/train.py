"""Train one model on the double pendulum: python experiment-dblpend/train.py --help"""
from hnn.experiments import train_main

if __name__ == "__main__":
    train_main(__file__)
