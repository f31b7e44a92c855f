"""Tests of keras-geo as another project sees it: the wheel, installed outside the source tree."""
