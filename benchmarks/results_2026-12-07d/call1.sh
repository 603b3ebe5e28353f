set -u
export LIMIT=570; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
NCU=$(which ncu 2>/dev/null || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1); echo "ncu: $NCU"; uname -r
B=benchmarks/kernels/bench_selective_scan.py
echo "== L-contiguous restaged (copy) =="; GENOMAMBA_SCAN_LCONTIG=copy timeout 150 python3 $B --backends triton,mamba_ssm --shapes 0,1,2 2>&1 | grep -v "^|" | tail -14
echo "== inplace =="; GENOMAMBA_SCAN_LCONTIG=inplace timeout 90 python3 $B --backends triton,mamba_ssm --shapes 0,1,2 --no-bidir 2>&1 | grep -v "^|" | tail -8
echo "== inplace + generic L =="; GENOMAMBA_SCAN_LCONTIG=inplace GENOMAMBA_SCAN_GENERIC_L=1 timeout 90 python3 $B --backends triton --shapes 0,1,2 --no-bidir 2>&1 | grep -v "^|" | tail -8
echo "left before tests: $(left)"
python3 -m pytest -q -p no:cacheprovider tests/kernels/test_transpose.py 2>&1 | tail -1
GENOMAMBA_SCAN_LCONTIG=copy GENOMAMBA_SCAN_CKPT_STEPS=16 timeout $(( $(left) - 100 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_bidirectional.py -k "not tile_settings" > $OUT/gpu_tests.log 2>&1; echo "tests (copy, ckpt16) rc $?"; tail -4 $OUT/gpu_tests.log
echo "left before ncu: $(left)"
S=8,512,16,16384; F=$OUT/ncu_8_16k.txt
timeout $(( $(left) - 10 )) $NCU --clock-control none --profile-from-start off -k regex:"selective_scan_bwd" \
    --section SpeedOfLight --section Occupancy --section WarpStateStats --section ComputeWorkloadAnalysis \
    --metrics regex:"smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio",sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,lts__t_bytes.sum,dram__bytes.sum \
    --print-details all python3 benchmarks/kernels/ncu_scan.py --shape $S > $F 2>&1; echo "ncu $S rc $?"
grep -E "Duration|Throughput|Achieved Occupancy|Issue Slots Busy|Executed Ipc A|Warp Cycles Per Issued|pipe_xu|pipe_fma|lts__t_bytes|dram__bytes|inst_executed.sum|stalled" $F | head -60
echo "left at end: $(left)"
