set -u
export LIMIT=585; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
env | grep GENOMAMBA || echo "no GENOMAMBA_ settings: the code's defaults"
echo "== lm (defaults) and inference chunk sizes =="
timeout 240 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm --models mamba_ssm,genomamba,genomamba_chunk393216,genomamba_chunk524288,genomamba_chunk1048576 --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -16
echo "left: $(left)"
echo "== issue scan shapes =="
timeout $(( $(left) - 5 )) python3 benchmarks/kernels/bench_selective_scan.py --backends triton,mamba_ssm --shapes 0,1,2,3 2>&1 | grep "^|" | tail -16
echo "left at end: $(left)"
