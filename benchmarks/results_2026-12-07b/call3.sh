set -u
export LIMIT=480; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -1 $OUT/setup.log
B="python3 benchmarks/bench_lm_gpu.py --norm-M 0 --profile-L 4096"
$B --out $OUT/base --models mamba_ssm,genomamba > $OUT/base.log 2>&1; echo "base rc $?"; grep "| genomamba | mamba_ssm" $OUT/base.log | cut -d'|' -f4,8
for v in CKPT_STEPS=16 FWD_WARPS_PER_SM=8 FWD_WARPS_PER_SM=32 BWD_WARPS_PER_SM=16 BWD_WARPS_PER_SM=64; do
  [ $(left) -lt 40 ] && break
  env GENOMAMBA_SCAN_$v $B --out $OUT/$v --models genomamba > $OUT/$v.log 2>&1; echo "$v rc $?"; grep "^| genomamba | " $OUT/$v.log | cut -d'|' -f3,4
done
echo "left at end: $(left)"
