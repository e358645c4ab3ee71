"""gunicorn settings for sundial-web.service (and usable by hand: gunicorn -c deploy/gunicorn.conf.py wsgi:app)."""
import os

bind = os.environ.get("SUNDIAL_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SUNDIAL_WEB_WORKERS", "2"))
threads = int(os.environ.get("SUNDIAL_WEB_THREADS", "4"))
timeout = 60  # the connection doctor runs synchronously within SUNDIAL_DOCTOR_TIMEOUT_SECONDS (25 s)
accesslog = "-"
forwarded_allow_ips = os.environ.get("SUNDIAL_FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Prometheus multi-process mode: forget a dead web worker's live gauges."""
    from portal.ops.metrics import mark_process_dead

    mark_process_dead(worker.pid)
