"""Tests of keras_geo."""
