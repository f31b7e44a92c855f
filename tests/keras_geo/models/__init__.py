"""Tests of keras_geo.models."""
