"""How the Spark job would scale with cores, from Spark's own event log.

python3 benches/spark_scaling.py EVENT_LOG_DIR [CORES_OF_THE_RUN]

Per stage: the tasks' summed executor run time T, the number of tasks n and
the longest task m (SparkListenerTaskEnd metrics), and the stage's observed
wall time w. With c cores (those of the run, default 2) a stage's tasks
need at least t(c) = max(T / min(c, n), m); what the stage took beyond that
(w - t(c): scheduling, task launch, result collection) is kept as fixed, as
is the time outside stages (driver work: planning, the manifest, hashing
the inputs). The estimate for C cores is fixed + sum of t(C): optimistic
about the tasks (perfect balance), honest about what does not shrink, and
given twice: with the tasks of this run (their number fixed, so it shows
where that parallelism runs out), and with each stage's work divided
evenly over the cores (Spark cuts a scan into as many pieces as the
cluster has cores, down to 4 MiB each, so on a cluster the scan, most of
the work, spreads too).
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
run_cores = int(sys.argv[2]) if len(sys.argv) > 2 else 2
wall = (end - start) / 1000


def need(t, cores):
    return max(sum(t) / min(cores, len(t)), max(t))


overhead = 0.0
for key, (a, b) in stages.items():
    observed = (b - a) / 1000
    overhead += max(observed - need(tasks[key], run_cores), 0.0) if tasks[key] else observed
in_stages = sum((b - a) / 1000 for a, b in stages.values())
outside = max(wall - in_stages, 0.0)
total = sum(sum(t) for t in tasks.values())
print(f"event log: {wall:.1f} s application, {in_stages:.1f} s in {len(stages)} stages "
      f"({overhead:.1f} s of it beyond the tasks' need), {sum(len(t) for t in tasks.values())} tasks, "
      f"{total:.1f} s of task time")
print("  cores   same tasks   work divided evenly")
for cores in (run_cores, 8, 32, 128):
    same = outside + overhead + sum(need(t, cores) for t in tasks.values() if t)
    even = outside + overhead + sum(sum(t) / cores for t in tasks.values() if t)
    print(f"  {cores:5d} {same:10.1f} s {even:14.1f} s")
