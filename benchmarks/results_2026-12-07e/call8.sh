set -u
export LIMIT=230; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
echo "== fwd sweep =="; timeout $(( $(left) - 5 )) python3 benchmarks/kernels/bench_scan_layout.py --shapes 2,1 --variants FWD_WARPS_PER_SM=24,FWD=32x16x1,FWD_WARPS_PER_SM=12,FWD=16x8x1 2>&1 | grep -v "^|" | tail -20
echo "left at end: $(left)"
