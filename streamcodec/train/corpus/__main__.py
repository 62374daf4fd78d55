"""``python -m streamcodec.train.corpus --out DATA_DIR``: build the training corpus."""

from .building import main

main()
