"""`python -m grader` is the same as `grade`."""

import sys

from grader.cli import main

sys.exit(main())
