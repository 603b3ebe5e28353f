"""add_rms_norm_triton fwd+bwd and bwd-only times at the model's rows (d_model 256), one process."""
import sys, torch
from triton.testing import do_bench
import genomamba_kernels, genomamba_kernels.layer_norm as ln
print("kernels from", genomamba_kernels.__file__)
for M in (131072, 524288):
    x = torch.randn(M, 256, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    res = torch.randn(M, 256, device="cuda", dtype=torch.float32, requires_grad=True)
    w = torch.ones(256, device="cuda", requires_grad=True)
    y, r = ln.add_rms_norm_triton(x, res, w, 1e-5, True)
    dy, dr = torch.randn_like(y), torch.randn_like(r)
    f = lambda: torch.autograd.grad((y, r), (x, res, w), (dy, dr), retain_graph=True)
    ms = do_bench(f, warmup=20, rep=200)
    print(f"M={M} bwd {ms*1e3:.1f} us  ({M*256*16/ms/1e9:.2f} TB/s at 16 B/elem)")
