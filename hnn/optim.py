"""Adam, as `torch.optim.Adam(fused=True)` computes it, without `torch.optim.Optimizer`.

Constructing any `torch.optim` optimizer imports `torch._dynamo` (about 1.5 s here), which is a
tenth of a whole spring run. This class keeps Adam's state itself and calls the same fused kernel
through torch's functional API, `torch.optim.adam.adam`, which imports nothing more. It also skips
the optimizer wrapper's per-step bookkeeping (about 0.07 ms a step).
"""
import torch
from torch.optim.adam import adam


class Adam:
    """Adam with L2 weight decay added to the gradient (torch.optim.Adam's `weight_decay`).

    `step()` updates every parameter that has a `.grad`, in place; the results equal
    torch.optim.Adam(params, lr, betas, eps, weight_decay, fused=True) step for step.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("Adam got an empty parameter list")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format)
                        for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format)
                           for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        """One Adam update of the parameters that have a gradient (others are left alone)."""
        held = [i for i, p in enumerate(self.params) if p.grad is not None]
        adam([self.params[i] for i in held], [self.params[i].grad for i in held],
             [self.exp_avg[i] for i in held], [self.exp_avg_sq[i] for i in held], [],
             [self.steps[i] for i in held], fused=True, amsgrad=False, beta1=self.betas[0],
             beta2=self.betas[1], lr=self.lr, weight_decay=self.weight_decay, eps=self.eps,
             maximize=False)
