set -u
export LIMIT=170; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
echo "== lm new =="; timeout 60 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_new --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 --tag new 2>&1 | tail -8
echo "left: $(left)"
echo "== gpu tests =="
timeout $(( $(left) - 3 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_mamba_block.py -k "triton_gpu or parts_of_chunks_gpu or block" > $OUT/gpu_tests.log 2>&1; echo "rc $?"; tail -3 $OUT/gpu_tests.log
echo "left: $(left)"
