"""The body-reading session views as of main 743671c (before facts), kept verbatim as the oracle the
facts-based views must agree with (`tests/store/test_facts.py`)."""
