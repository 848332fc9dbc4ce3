"""Session analysis: flows read as agent sessions -> conversations -> turns, prompt-cache forensics,
the SSE stream linter and turn diffs. Pure: works on `StoredFlow`s the flow library hands it and
never opens the store itself (`SessionLibrary` in `library.py` is the one entry over a flow set).
"""
