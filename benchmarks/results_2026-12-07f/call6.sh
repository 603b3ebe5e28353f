# as run on the device (bash .carry/call6.sh) with clamped_loads_rejected.patch applied to the working tree
set -u
export LIMIT=${LIMIT:-300}; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
echo "== gpu tests (clamped loads) =="; timeout 120 python3 -m pytest -q -x -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py -k "not tile_settings" 2>&1 | tail -3
echo "left: $(left)"
echo "== scan, L-contig copies (default) =="; timeout $(( $(left) - 5 )) python3 benchmarks/kernels/bench_scan_layout.py --shapes 2 --variants "" 2>&1 | grep -v "^|" | tail -5
echo "left: $(left)"
echo "== scan, L-contig in place =="; GENOMAMBA_SCAN_LCONTIG=inplace timeout $(( $(left) - 3 )) python3 benchmarks/kernels/bench_scan_layout.py --shapes 2 --variants "" 2>&1 | grep -v "^|" | tail -5
echo "left at end: $(left)"
