"""What the test servers (token_server.py, fault_proxy.py) share: a threading HTTP server on 127.0.0.1 that
reports its port, and dies with the test process that started it."""
import os
import signal
import threading
import time
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def unblock_signals():
    """A child inherits its parent's signal mask: started from a thread that blocks SIGTERM (Swift's Process
    from a pool thread does), it would never die of it."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def watch_parent():
    """Exits the process once the parent that started it is gone (it was re-parented)."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def serve(server):
    """Prints `PORT <n>` (the first stdout line, once connections are accepted) and serves until stopped."""
    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
