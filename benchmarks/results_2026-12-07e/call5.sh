set -u
export LIMIT=575; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -2 $OUT/setup.log
BASE="env PYTHONPATH=$PWD/.carry/base:$PYTHONPATH"
$BASE python3 -c "import genomamba_kernels as g; print('base kernels from', g.__file__)"
timeout 130 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py -k "not tile_settings" > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -3 $OUT/gpu_tests.log
B=benchmarks/kernels/bench_selective_scan.py
echo "== scan, new =="; timeout 100 python3 $B --backends triton,mamba_ssm --shapes 0,1,2 2>&1 | grep -v "^|" | tail -14
echo "left: $(left)"
echo "== lm, new =="; timeout 100 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_new --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -12
echo "left: $(left)"
echo "== lm, base =="; timeout 80 $BASE python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_base --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -12
echo "left: $(left)"
echo "== channel-last sweep, new =="; timeout $(( $(left) - 150 )) python3 benchmarks/kernels/bench_scan_layout.py --shapes 2,1 --variants CKPT_STEPS=8,CKPT_PASS=32x4x1,CKPT_STEPS=4,CKPT_PASS=16x8x1,BWD_MAXNREG=200 2>&1 | grep -v "^|" | tail -20
echo "left: $(left)"
echo "== scan, base =="; timeout $(( $(left) - 50 )) $BASE python3 $B --backends triton,mamba_ssm --shapes 0,1,2 2>&1 | grep -v "^|" | tail -14
echo "left: $(left)"
echo "== 1M L-contig new =="; timeout $(( $(left) - 5 )) python3 $B --backends triton,mamba_ssm --shapes 3 --no-bidir 2>&1 | grep -v "^|" | tail -4
echo "left at end: $(left)"
