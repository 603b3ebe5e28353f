set -u
export LIMIT=585; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -4 $OUT/setup.log
mkdir -p /tmp/old && cp -r .carry/old_kernels /tmp/old/genomamba_kernels
OLD="env PYTHONPATH=/tmp/old:$PYTHONPATH"
$OLD python3 -c "import genomamba_kernels.selective_scan as s; print('old', s.__file__)"
echo "== gpu scan tests (new) =="
timeout 200 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_scan_helpers.py tests/kernels/test_mamba_block.py > $OUT/gpu_tests.log 2>&1; echo "rc $?"; tail -3 $OUT/gpu_tests.log
echo "left: $(left)"
echo "== scan new =="; timeout 110 python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,3,2,0 --variants PASS1_FMA_EXP=1 --out $OUT/scan_new.md 2>&1 | grep -v "^|" | tail -12
echo "left: $(left)"
echo "== scan old =="; timeout 90 $OLD python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,3,2,0 --variants PASS1_SPLIT=0 --out $OUT/scan_old.md 2>&1 | grep -v "^|" | tail -12
echo "left: $(left)"
echo "== lm new =="; timeout 80 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_new --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 --tag new 2>&1 | tail -8
echo "left: $(left)"
echo "== lm new + pass-1 FMA exps =="; GENOMAMBA_SCAN_PASS1_FMA_EXP=1 timeout 70 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_fma --models genomamba --profile-B 1 --profile-L 131072 --norm-M 0 --tag fma 2>&1 | tail -6
echo "left: $(left)"
echo "== lm old =="; timeout $(( $(left) - 5 )) $OLD python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_old --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 --tag old 2>&1 | tail -8
echo "left: $(left)"
