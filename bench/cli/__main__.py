"""`python -m unlearnbench.cli`: the command line."""
import sys

from unlearnbench.cli.main import main

sys.exit(main())
