import sys

from runestone_cli.main import main

sys.exit(main())
