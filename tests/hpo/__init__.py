"""Tests of hpo."""
