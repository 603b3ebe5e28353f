set -u
export LIMIT=560; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
timeout 200 python3 benchmarks/kernels/bench_scan_layout.py --shapes 1,2,0 --variants "VEC_PASSES=none,VEC_PASSES=fwd,VEC_PASSES=state,FWD=32x16x1+FWD_WARPS_PER_SM=32,VEC_PASSES=fwd+FWD=32x16x1+FWD_WARPS_PER_SM=32" --out $OUT/scan_layout.md > $OUT/scan_layout.log 2>&1; echo "scan rc $?"; grep "^|" $OUT/scan_layout.log | grep -v "L-contig" | tail -20
echo "left: $(left)"
python3 benchmarks/bench_lm_gpu.py --out $OUT/lm --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --profile-models genomamba --norm-M 0 > $OUT/lm.log 2>&1; echo "lm rc $?"; tail -7 $OUT/lm.log
echo "left: $(left)"
timeout $(( $(left) - 10 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -3 $OUT/gpu_tests.log
echo "left at end: $(left)"
