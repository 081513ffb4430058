"""os._exit(0) while being imported: the process ends without any cleanup or reply."""
import os


class Bye:
    os._exit(0)
