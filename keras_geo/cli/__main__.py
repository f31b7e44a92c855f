"""``python -m keras_geo.cli``: the ``keras-geo-hpo`` command."""

import sys

from keras_geo.cli import main

if __name__ == "__main__":
    sys.exit(main())
