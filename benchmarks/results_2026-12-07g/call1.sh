set -u
export LIMIT=575; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
echo "== gpu tests: pass-1 split; bwd 16x2x1x2 capped at 168 =="
timeout 150 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py -k "pass1" 2>&1 | tail -2
GENOMAMBA_SCAN_BWD_MAXNREG=168 timeout 100 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py -k "tile_settings_gpu and 16x2x1x2" 2>&1 | tail -2
echo "left: $(left)"
echo "== scan sweep =="
timeout $(( $(left) - 150 )) python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,3,2 --variants PASS1_SPLIT=1,BWD=16x2x1x2+BWD_MAXNREG=168,BWD=16x2x1x2+BWD_MAXNREG=128,BWD=16x2x1x2,BWD_MAXNREG=168 --out $OUT/scan.md 2>&1 | grep -v "^|" | tail -24
echo "left: $(left)"
echo "== lm defaults (pass-1 split) =="
timeout $(( $(left) - 5 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_def --models mamba_ssm,genomamba --profile-B 64 --profile-L 8192 --norm-M 0 2>&1 | tail -10
echo "left at end: $(left)"
