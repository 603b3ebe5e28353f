set -u
export LIMIT=585; source .carry/setup.sh > $OUT/setup.log 2>&1; tail -3 $OUT/setup.log
S=benchmarks/kernels/bench_scan_layout.py
echo "== scan, prefetch into L2 (HEAD) =="; timeout 100 python3 $S --channel-last-only --shapes 3,1,2 --variants "" 2>&1 | grep -v "^|" | tail -6
echo "left: $(left)"
echo "== scan, backward walk's C/dy/z prefetched into L1 =="; GENOMAMBA_SCAN_PF_L1=walk timeout 100 python3 $S --channel-last-only --shapes 3,1,2 --variants "" 2>&1 | grep -v "^|" | grep channel-last
echo "left: $(left)"
echo "== scan, every prefetch into L1 (+ distance 8) =="; GENOMAMBA_SCAN_PF_L1=scan,walk timeout 120 python3 $S --channel-last-only --shapes 3,1,2 --variants PREFETCH=8 2>&1 | grep -v "^|" | grep genomamba
echo "left: $(left)"
echo "== gpu tests (HEAD defaults: pass-1 split) =="
timeout $(( $(left) - 5 )) python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels tests/modules/test_mixer_seq_idx.py tests/modules/test_mamba.py tests/generation tests/models/test_fused_add_norm.py tests/models/test_chunked_inference.py 2>&1 | tail -6
echo "left at end: $(left)"
