set -u
export LIMIT=560; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -2 $OUT/setup.log
env | grep GENOMAMBA_ || echo "no GENOMAMBA_ settings: the code's defaults"
python3 benchmarks/bench_lm_gpu.py --out $OUT/lm --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --profile-models genomamba --norm-M 0 > $OUT/lm.log 2>&1; echo "lm rc $?"; tail -7 $OUT/lm.log
timeout 150 python3 benchmarks/kernels/bench_scan_layout.py --shapes 1,2,0 --variants "FWD_WARPS_PER_SM=24" --out $OUT/scan_layout.md > $OUT/scan_layout.log 2>&1; echo "scan rc $?"; grep "^|" $OUT/scan_layout.log | grep -v "L-contig" | tail -12
echo "left: $(left)"
timeout 120 python3 benchmarks/kernels/bench_selective_scan.py --backends triton,mamba_ssm --shapes 0,1,2 --out $OUT/scan4.md > $OUT/scan4.log 2>&1; echo "scan4 rc $?"; grep "^|" $OUT/scan4.log | tail -12 | cut -c1-120
echo "left before tests: $(left)"
timeout $(( $(left) - 5 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py tests/modules/test_mixer_seq_idx.py tests/kernels/test_mamba_block.py > $OUT/gpu_tests.log 2>&1; echo "tests rc $?"; tail -4 $OUT/gpu_tests.log
echo "left at end: $(left)"
