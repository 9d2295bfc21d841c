"""gunicorn settings for ecogprom's web processes (override with GUNICORN_* env vars).

One worker per core, eight threads each (gthread): a request mostly waits on
PostgreSQL, so threads overlap the waits, while more processes than cores only
compete for them. Measured with 150 tablets on 2 busy cores (``make bench``):
2 workers x 8 threads p95 70 ms; 5 workers x 4 threads (the usual 2 x cores + 1)
p95 558 ms. Idle keep-alive connections from nginx or tablets are parked in the
worker's poller and hold no thread.

No worker recycling by default (``max_requests = 0``). Recycling restarts a
worker after N requests; under the even load of a clinic's tablets every
worker reaches N at about the same time (a jitter of 10% barely spreads
them), so they restart together: their keep-alive connections are dropped
and the replacements start cold (Django, pandas and scipy imports), which
measured p95 590 ms and 254 dropped connections at 150 tablets instead of
155 ms and none (``make bench``). ecogprom keeps no per-process state that
grows, so there is nothing to recycle away. If a leak ever calls for it, set
``GUNICORN_MAX_REQUESTS`` and the jitter defaults to half of it, so restarts
are spread out.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Longer than a patient's pause between two taps, so a tablet's connection stays open.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "15"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 2))
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190
