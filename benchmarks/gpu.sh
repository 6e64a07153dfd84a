#!/usr/bin/env bash
# GPU figures for docs/performance.md in one call of at most 8 minutes, offline.
#
#   bash benchmarks/gpu.sh            # on the GPU machine, from the repository root
#
# Needs a Python with torch + CUDA (and open_clip, torchvision, which semaudit depends on);
# installs semaudit itself with --no-deps (no network). Generates its own JPEG files. Writes
# every figure to $OUT/gpu.txt (./gpu-results.txt when OUT is unset) as soon as it is measured.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS="${OUT:-.}/$( [ -n "${OUT:-}" ] && echo gpu.txt || echo gpu-results.txt )"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -c "import semaudit" 2>/dev/null || pip install -q -e . --no-deps >/dev/null 2>&1 \
  || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv,noheader \
  > /tmp/semaudit-nvidia-smi.txt 2>&1 || true
timeout -s INT 450 python benchmarks/gpu_bench.py --out "$RESULTS"
status=$?
{ echo "nvidia-smi: $(cat /tmp/semaudit-nvidia-smi.txt)"; echo "exit status $status"; } >> "$RESULTS"
echo "figures in $RESULTS"
exit $status
