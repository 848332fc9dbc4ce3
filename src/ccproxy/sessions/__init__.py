"""Session analysis: flows read as agent sessions -> conversations -> turns, prompt-cache forensics,
the SSE stream linter and turn diffs, what a session cost, quota windows, loop patterns, context anatomy.
Pure: works on `StoredFlow`s and flow JSON the flow library hands it and never opens the store itself
(`SessionLibrary` in `library.py` is the one entry over a flow set).
"""
