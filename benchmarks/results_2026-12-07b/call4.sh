set -u
export LIMIT=250; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
timeout $(( $(left) - 5 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py tests/kernels/test_mamba_block.py tests/modules/test_mixer_seq_idx.py > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -4 $OUT/gpu_tests.log
echo "left at end: $(left)"
