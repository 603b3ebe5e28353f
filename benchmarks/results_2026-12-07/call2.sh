set -u
export LIMIT=560; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
export GENOMAMBA_SCAN_BWD=16x4x1x2 GENOMAMBA_SCAN_CKPT_PASS=8x4x1
echo "left after setup: $(left)"
timeout $(( $(left) - 230 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/lm --models mamba_ssm,genomamba --profile-L 131072 --norm-M 0 > $OUT/lm.log 2>&1; echo "lm rc $?"
grep -v "^\s*$" $OUT/lm/results.md 2>/dev/null | head -40
echo "left after lm: $(left)"
timeout $(( $(left) - 100 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py tests/kernels/test_causal_conv1d_bwd.py tests/modules/test_mixer_seq_idx.py tests/kernels/test_mamba_block.py > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -5 $OUT/gpu_tests.log
echo "left after tests: $(left)"
timeout $(( $(left) - 5 )) python3 benchmarks/kernels/bench_selective_scan.py --backends triton,mamba_ssm --out $OUT/scan4.md > $OUT/scan4.log 2>&1; echo "scan4 rc $?"; tail -24 $OUT/scan4.log
echo "left at end: $(left)"
