"""Tests of keras_geo.datasets."""
