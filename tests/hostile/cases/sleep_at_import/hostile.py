"""Sleeps far past the time limit while being imported."""
import time


class Nap:
    time.sleep(3600)
