set -u
export LIMIT=400; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
export GENOMAMBA_SCAN_CKPT_PASS=8x4x1
C="32x8x1,16x8x1,8x16x1,4x32x1,2x32x1,2x64x1,1x64x1,4x16x1,8x8x1,16x4x1x2,8x8x1x2,4x16x1x2,4x32x2"
timeout $(( $(left) - 10 )) python3 benchmarks/kernels/bench_selective_scan.py --tune --tune-configs "$C" --backends triton,mamba_ssm --out $OUT/scan4_tuned.md > $OUT/scan4_tuned.log 2>&1; echo "rc $?"
grep -E "^tune|^best|failed" $OUT/scan4_tuned.log | tail -60; tail -20 $OUT/scan4_tuned.log | grep "^|"
echo "left at end: $(left)"
