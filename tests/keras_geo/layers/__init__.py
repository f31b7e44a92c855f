"""Tests of keras_geo.layers."""
