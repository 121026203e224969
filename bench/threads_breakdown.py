"""Per-command breakdown of Redis's work per assignment: AllSides articles N0..N1 assigned after
the first N0, against a private redis-server, key prefix "p" (one byte, so the bytes are those of
the data, not of a long prefix). Prints, per assignment, each command's calls and µs (INFO
commandstats; a script's own commands are counted on their own too), the commands run (those
inside scripts included, the scripts' calls not), KB sent and received, and INFO cpu µs.

    .venv/bin/python bench/threads_breakdown.py 300 500           # the README's window
    .venv/bin/python bench/threads_breakdown.py 0 1479 undated    # all of AllSides, undated
    .venv/bin/python bench/threads_breakdown.py 0 1479 dated idf=online   # ThreadSettings fields after the mode
"""
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.environ.get("SRC", str(Path(__file__).resolve().parents[1])))
import redis
from bench.threads import load, undated
from bench.dedup import start_private_redis
from worker.settings import ThreadSettings
from worker.store.keys import Keys
from worker.threads.state import ThreadState

n0, n1 = int(sys.argv[1]), int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "dated"
settings = ThreadSettings(**dict(a.split("=", 1) for a in sys.argv[4:]))
arts = load()
if mode == "undated":
    arts = undated(arts)
tmp = tempfile.TemporaryDirectory()
proc, url = start_private_redis(tmp.name)
try:
    c = redis.Redis.from_url(url)
    st = ThreadState(c, Keys("p"), settings)
    for a in arts[:n0]:
        st.assign(a.article_id, a.title, a.text, a.language, a.when, dated=a.dated)
    st.flush()
    c.config_resetstat()

    net0 = c.info("stats")
    info0 = c.info("cpu")
    cpu0 = info0["used_cpu_user"] + info0["used_cpu_sys"]
    for a in arts[n0:n1]:
        st.assign(a.article_id, a.title, a.text, a.language, a.when, dated=a.dated)
    st.flush()
    n = n1 - n0
    info1 = c.info("cpu")
    cpu1 = info1["used_cpu_user"] + info1["used_cpu_sys"]
    net1 = c.info("stats")
    stats = c.info("commandstats")
    tot = 0
    for k, v in sorted(stats.items(), key=lambda kv: -kv[1]["calls"]):
        if k.startswith(("cmdstat_config", "cmdstat_info")):
            continue
        print(f"{k:24} {v['calls']/n:7.1f} calls {v['usec']/n:7.1f} us")
        if not k.startswith(("cmdstat_eval",)):
            tot += v["calls"]
    print("commands (incl. inside scripts, excl. eval):", round(tot / n, 1))
    print("in KB", round((net1["total_net_input_bytes"] - net0["total_net_input_bytes"]) / n / 1024, 2),
          "out KB", round((net1["total_net_output_bytes"] - net0["total_net_output_bytes"]) / n / 1024, 2))
    print("cpu us", round((cpu1 - cpu0) * 1e6 / n))
finally:
    proc.kill()
    tmp.cleanup()
