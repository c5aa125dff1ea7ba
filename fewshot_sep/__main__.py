import sys

from fewshot_sep.cli import main

if __name__ == "__main__":  # not when a spawned worker process (separate --jobs) imports it
    sys.exit(main())
