"""An infinite loop while the file is imported (hidden in a class body, which always runs)."""


class Forever:
    while True:
        pass
