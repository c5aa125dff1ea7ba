import sys

from fewshot_sep.cli import main

sys.exit(main())
