"""The fault-injection harness (faults.py, also a script) and its tests."""
