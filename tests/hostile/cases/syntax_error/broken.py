"""A helper file with a syntax error: the rest of the submission must still load."""


def broken(:
    return 1
