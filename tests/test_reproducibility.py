"""Run-to-run reproducibility settings of the numerical libraries."""
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, os
import hnn, torch
lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
torch.randn(64, 64) @ torch.randn(64, 64)
print(os.environ["MKL_CBWR"], os.environ["MKL_DYNAMIC"], lib.mkl_serv_cbwr_get(1))
"""


def test_importing_hnn_turns_on_mkl_reproducible_mode():
    """MKL's default mode picks kernels and splits sums at run time; two runs of one train.py
    once differed at the 1e-6 level. `import hnn` sets MKL_CBWR=AUTO (branch code 2)."""
    import torch
    if "BLAS_INFO=mkl" not in torch.__config__.show():
        pytest.skip("this torch does not use MKL")
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "MKL_DYNAMIC")}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["AUTO", "FALSE", "2"]
