set -u
export LIMIT=185; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -2 $OUT/setup.log
env | grep GENOMAMBA_ || echo "no GENOMAMBA_ settings: the code's defaults"
timeout $(( $(left) - 50 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -4 $OUT/gpu_tests.log
timeout $(( $(left) - 3 )) python3 benchmarks/kernels/bench_scan_layout.py --shapes 2,1 --variants "BWD=16x4x1+CKPT_PASS=16x4x1" --out $OUT/scan_defaults.md > $OUT/scan_defaults.log 2>&1; echo "bench rc $?"; grep -v "^|" $OUT/scan_defaults.log | tail -10
echo "left at end: $(left)"
