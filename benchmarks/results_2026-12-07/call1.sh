set -u
LIMIT=575 source .carry/setup.sh > $OUT/setup.log 2>&1; cat $OUT/setup.log
echo "left after setup: $(left)"
# 1. backward tile sweep around 16x4x1x2 (DI=2), the scan alone on the mixer layout
V="BWD=16x4x1,BWD=16x4x1x2,BWD=16x4x1x2+CKPT_PASS=8x4x1,BWD=16x4x1x4,BWD=8x4x1x2,BWD=16x2x1x4,BWD=8x4x1x2+CKPT_PASS=8x4x1,BWD=16x4x1x2+BWD_WARPS_PER_SM=16,BWD=16x4x1x2+BWD_WARPS_PER_SM=48"
timeout 200 python3 benchmarks/kernels/bench_scan_layout.py --shapes 2,1,0 --variants "$V" --out $OUT/scan_sweep.md > $OUT/scan_sweep.log 2>&1; echo "sweep rc $?"
tail -40 $OUT/scan_sweep.log | grep -v "^|"
# 2. the best variant by the geometric mean of fwd+bwd ratios over the three shapes
python3 - > $OUT/best.env <<'PY'
import json, math, os, sys
sys.path.insert(0, "benchmarks/kernels")
from bench_scan_layout import variant_env
rows = json.load(open(os.environ["OUT"] + "/scan_sweep.json"))
by = {}
for r in rows:
    by.setdefault(r["impl"], []).append(r["fwd_bwd_x"])
score = {k: math.exp(sum(map(math.log, v)) / len(v)) for k, v in by.items() if len(v) == 3}
best = max((k for k in score if k.startswith("genomamba ") and "=" in k), key=score.get)
for k, v in sorted(score.items(), key=lambda kv: -kv[1]):
    print(f"# {v:.3f}  {k}")
for k, v in variant_env(best.split(" ", 1)[1]).items():
    print(f"export {k}={v}")
PY
cat $OUT/best.env; source $OUT/best.env
echo "left after sweep: $(left)"
# 3. the whole model, same process as mamba-ssm's MambaLMHeadModel
timeout $(( $(left) - 200 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/lm --models mamba_ssm,genomamba --profile-L 131072 --norm-M 0 > $OUT/lm.log 2>&1; echo "lm rc $?"
grep -v "^\s*$" $OUT/lm/results.md 2>/dev/null | head -40
echo "left after lm: $(left)"
# 4. GPU tests under the chosen settings
timeout $(( $(left) - 90 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py tests/kernels/test_causal_conv1d_bwd.py tests/modules/test_mixer_seq_idx.py tests/kernels/test_mamba_block.py > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -5 $OUT/gpu_tests.log
echo "left after tests: $(left)"
# 5. the issue's four scan shapes and the fused bidirectional scan
timeout $(( $(left) - 5 )) python3 benchmarks/kernels/bench_selective_scan.py --backends triton,mamba_ssm --out $OUT/scan4.md > $OUT/scan4.log 2>&1; echo "scan4 rc $?"; tail -20 $OUT/scan4.log
echo "left at end: $(left)"
