"""Ignores SIGTERM, starts a child that ignores it too, then sleeps in Pooling.backward."""
import signal
import subprocess
import sys
import time

import common.layers as layers


def backward(self, dout):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)  # {{MARKER}}"
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    time.sleep(3600)


class Patch:
    layers.Pooling.backward = backward
