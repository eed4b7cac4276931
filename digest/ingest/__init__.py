"""Getting papers in: fetching each source (``fetch``), reading its format (``sources``),
cleaning its text (``feedtext``) and storing the papers with a record of each run (``store``).
"""
