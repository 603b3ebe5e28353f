set -u
export LIMIT=400; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
echo "== sweep =="; timeout 150 python3 benchmarks/kernels/bench_scan_layout.py --shapes 2,1 --variants CKPT_PASS=32x8x1,CKPT_PASS=16x16x1,CKPT_PASS=8x8x1 2>&1 | grep -v "^|" | tail -20
echo "left: $(left)"
B=benchmarks/kernels/bench_selective_scan.py
echo "== scan, new =="; timeout $(( $(left) - 100 )) python3 $B --backends triton,mamba_ssm --shapes 0,1,2,3 2>&1 | grep -v "^|" | tail -16
echo "left: $(left)"
timeout $(( $(left) - 5 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_mamba_block.py tests/modules/test_mixer_seq_idx.py > $OUT/gpu_tests2.log 2>&1; echo "block tests rc $?"; tail -2 $OUT/gpu_tests2.log
echo "left at end: $(left)"
