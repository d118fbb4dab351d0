import sys

from vgg.cli import main

sys.exit(main())
