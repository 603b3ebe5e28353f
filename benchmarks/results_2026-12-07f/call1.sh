# as run on the device (bash .carry/call1.sh): .carry/ is the git-ignored folder carried there (wheels, setup.sh,
# this script and a copy of normbench.py); .carry/base/genomamba_kernels is the kernels of main at 9a4bf44
set -u
export LIMIT=575; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
echo "== gpu tests =="; timeout 100 python3 -m pytest -q -m gpu tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py -k "not tile_settings" -x 2>&1 | tail -4
echo "left: $(left)"
echo "== scan sweep new =="; timeout $(( $(left) - 250 )) python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,2,0 --variants FWD_MAXNREG=128,FWD_MAXNREG=128+CKPT_PASS_MAXNREG=128,PREFETCH=0 2>&1 | grep -v "^|" | tail -16
echo "left: $(left)"
echo "== scan base =="; PYTHONPATH=$PWD/.carry/base:$PYTHONPATH timeout 80 python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,2,0 --variants "" 2>&1 | grep -v "^|" | tail -8
echo "left: $(left)"
echo "== norm new =="; timeout 30 python3 .carry/normbench.py 2>&1 | tail -3
echo "== norm base =="; PYTHONPATH=$PWD/.carry/base:$PYTHONPATH timeout 30 python3 .carry/normbench.py 2>&1 | tail -3
echo "== lm default =="; timeout $(( $(left) - 60 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_def --models mamba_ssm,genomamba --profile-B 64 --profile-L 8192 --norm-M 0 2>&1 | tail -12
echo "left: $(left)"
echo "== lm maxnreg =="; GENOMAMBA_SCAN_FWD_MAXNREG=128 GENOMAMBA_SCAN_CKPT_PASS_MAXNREG=128 timeout $(( $(left) - 5 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_reg --models genomamba --profile-B 64 --profile-L 8192 --norm-M 0 2>&1 | tail -12
echo "left at end: $(left)"
