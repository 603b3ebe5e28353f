# The measurement this session could not run (device time spent): GENOMAMBA_SCAN_UNMASKED=1 against the default,
# mamba-ssm in the same process, and its GPU tests. Run from the repository root on the device, after
# `source .carry/setup.sh` (benchmarks/results_2026-12-07/setup.sh) as in call2.sh.
set -u
echo "== scan: default vs unmasked =="; timeout 120 python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,3,2,0 --variants UNMASKED=1 --out $OUT/scan.md 2>&1 | grep -v "^|" | tail -12
echo "== gpu tests (unmasked) =="; GENOMAMBA_SCAN_UNMASKED=1 timeout 300 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_mamba_block.py tests/kernels/test_bidirectional.py 2>&1 | tail -2
echo "== lm default =="; timeout 90 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_def --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -8
echo "== lm unmasked =="; GENOMAMBA_SCAN_UNMASKED=1 timeout 90 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_unmasked --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -8
