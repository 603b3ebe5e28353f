# as run on the device (bash .carry/call5.sh): the final defaults, no GENOMAMBA_SCAN_ settings
set -u
export LIMIT=560; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
env | grep GENOMAMBA || echo "no GENOMAMBA_ settings: the code's defaults"
echo "== lm (defaults) =="; timeout 120 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_final --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -8
echo "left: $(left)"
echo "== gpu tests =="; timeout $(( $(left) - 10 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels tests/modules/test_mixer_seq_idx.py tests/modules/test_mamba.py tests/generation tests/models/test_fused_add_norm.py tests/models/test_chunked_inference.py 2>&1 | tail -15
echo "left at end: $(left)"
