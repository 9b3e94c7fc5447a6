"""How the Spark job would scale with cores, from Spark's own event log.

python3 benches/spark_scaling.py EVENT_LOG_DIR

Per stage: the tasks' summed executor run time T, the number of tasks n and
the longest task m (SparkListenerTaskEnd metrics). With C cores a stage
takes at least max(T / min(C, n), m); what is not in a stage (driver work:
planning, the manifest, hashing the inputs) is taken as fixed. The estimate
is a lower bound for the same input (as many tasks as this run had), so it
also shows where the parallelism runs out.
"""
import collections
import glob
import json
import sys

log = sorted(glob.glob(sys.argv[1].rstrip("/") + "/*"))[-1]
tasks = collections.defaultdict(list)
stages = {}
start = end = None
for line in open(log, encoding="utf-8"):
    e = json.loads(line)
    kind = e["Event"]
    if kind == "SparkListenerApplicationStart":
        start = e["Timestamp"]
    elif kind == "SparkListenerApplicationEnd":
        end = e["Timestamp"]
    elif kind == "SparkListenerStageCompleted":
        info = e["Stage Info"]
        stages[(info["Stage ID"], info["Stage Attempt ID"])] = (
            info.get("Submission Time") or 0,
            info.get("Completion Time") or 0,
        )
    elif kind == "SparkListenerTaskEnd" and e.get("Task Metrics"):
        tasks[(e["Stage ID"], e["Stage Attempt ID"])].append(
            e["Task Metrics"]["Executor Run Time"] / 1000
        )
wall = (end - start) / 1000
# Stages overlap rarely here; their observed walls summed.
in_stages = sum((b - a) / 1000 for a, b in stages.values())
fixed = max(wall - in_stages, 0.0)
total = sum(sum(t) for t in tasks.values())
print(f"event log: {wall:.1f} s application, {in_stages:.1f} s in {len(stages)} stages, "
      f"{sum(len(t) for t in tasks.values())} tasks, {total:.1f} s of task time")
for cores in (2, 8, 32, 128):
    est = fixed + sum(max(sum(t) / min(cores, len(t)), max(t)) for t in tasks.values())
    print(f"  estimate with {cores:3d} cores: {est:6.1f} s")
