set -u
export LIMIT=570; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -2 $OUT/setup.log
env | grep GENOMAMBA_ || echo "no GENOMAMBA_ settings: the code's defaults"
timeout 200 python3 benchmarks/kernels/bench_selective_scan.py --backends triton,mamba_ssm --out $OUT/scan4.md > $OUT/scan4.log 2>&1; echo "scan4 rc $?"; grep "^|" $OUT/scan4.log | tail -15
echo "left: $(left)"
python3 benchmarks/bench_lm_gpu.py --out $OUT/lm --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --profile-models genomamba,mamba_ssm --norm-M 0 > $OUT/lm.log 2>&1; echo "lm rc $?"; tail -8 $OUT/lm.log
echo "left: $(left)"
timeout $(( $(left) - 100 )) python3 benchmarks/kernels/bench_scan_layout.py --shapes 1,2 --variants "FWD_WARPS_PER_SM=8,FWD_WARPS_PER_SM=4,CKPT_STEPS=4,CKPT_STEPS=8,CKPT_STEPS=16" --out $OUT/scan_fwdw.md > $OUT/scan_fwdw.log 2>&1; echo "scan rc $?"; grep "^|" $OUT/scan_fwdw.log | tail -20
echo "left: $(left)"
timeout $(( $(left) - 5 )) python3 benchmarks/bench_lm_gpu.py --out $OUT/prof64 --models "" --profile-B 64 --profile-L 8192 --profile-models genomamba,mamba_ssm --norm-M 0 > $OUT/prof64.log 2>&1; echo "prof64 rc $?"
echo "left at end: $(left)"
