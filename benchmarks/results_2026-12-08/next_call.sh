# The measurement this session could not run (device time spent): GENOMAMBA_SCAN_UNMASKED=1 against the default,
# mamba-ssm in the same process, and its GPU tests. Run from the repository root on the device, after
# `source .carry/setup.sh` (benchmarks/results_2026-12-07/setup.sh) as in call2.sh.
set -u
echo "== scan: default vs unmasked =="; timeout 120 python3 benchmarks/kernels/bench_scan_layout.py --channel-last-only --shapes 1,3,2,0 --variants UNMASKED=1 --out $OUT/scan.md 2>&1 | grep -v "^|" | tail -12
echo "== gpu tests (unmasked) =="; GENOMAMBA_SCAN_UNMASKED=1 timeout 300 python3 -m pytest -q -m gpu -p no:cacheprovider tests/kernels/test_selective_scan_triton.py tests/kernels/test_mamba_block.py tests/kernels/test_bidirectional.py 2>&1 | tail -2
echo "== lm default =="; timeout 90 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_def --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -8
echo "== lm unmasked =="; GENOMAMBA_SCAN_UNMASKED=1 timeout 90 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_unmasked --models mamba_ssm,genomamba --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -8
# Added in the tenth session (2026-12-08, no device lent): packed rows now run chunked inference too (2^18 tokens a
# chunk on a GPU: the packed scorer's 8 x 65,536-base calls take 2 chunks); measure it against one pass, and the
# 2^19-token chunk against the default on the model's forward rows.
echo "== packed scoring, chunked (default) vs one pass =="; cd benchmarks
timeout 120 python3 bench_packed_scoring.py ../data/ecoli_mg1655.fa.gz --random-init 256,8 --device cuda --n 30000 --padded-batch-size 64 --one-by-one 0 --out $OUT/packed_chunked.json 2>&1 | tail -4
GENOMAMBA_INFERENCE_CHUNK=0 timeout 120 python3 bench_packed_scoring.py ../data/ecoli_mg1655.fa.gz --random-init 256,8 --device cuda --n 30000 --padded-batch-size 64 --one-by-one 0 --out $OUT/packed_onepass.json 2>&1 | tail -4
cd ..
echo "== lm: chunk 2^19 =="; timeout 90 python3 benchmarks/bench_lm_gpu.py --out $OUT/lm_chunk --models mamba_ssm,genomamba,genomamba_chunk524288 --profile-B 8 --profile-L 16384 --norm-M 0 2>&1 | tail -8
