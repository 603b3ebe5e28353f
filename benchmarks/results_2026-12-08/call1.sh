set -u
export LIMIT=560; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -4 $OUT/setup.log
NCU=$(which ncu 2>/dev/null || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda*/bin/ncu 2>/dev/null | head -1); echo "ncu: $NCU"
M="gpu__time_duration.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,sm__pipe_alu_cycles_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,dram__bytes.sum,lts__t_bytes.sum,launch__registers_per_thread,launch__grid_size,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio"
for S in 8,512,16,16384 1,512,16,131072 64,512,16,8192; do
  F=$OUT/ncu_${S//,/_}.csv
  timeout $(( $(left) - 20 )) $NCU --clock-control none --profile-from-start off -k regex:"selective_scan|chunk_combine" --csv --metrics $M python3 benchmarks/kernels/ncu_scan.py --shape $S > $F 2> $OUT/ncu_${S//,/_}.err; echo "ncu $S rc $? left $(left)"
  tail -2 $OUT/ncu_${S//,/_}.err
done
echo "left at end: $(left)"
