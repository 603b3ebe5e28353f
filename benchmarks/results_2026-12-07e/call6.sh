set -u
export LIMIT=560; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
timeout 300 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py -k "not tile_settings" --durations=5 > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -12 $OUT/gpu_tests.log
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_scan_helpers.py tests/kernels/test_transpose.py 2>&1 | tail -2
echo "left: $(left)"
echo "== lm, new (ckpt pass 16x8x1) =="; timeout $(( $(left) - 5 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_new2 --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -7
echo "left at end: $(left)"
