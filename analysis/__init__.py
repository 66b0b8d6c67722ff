"""From runs to verdicts: the claims schema, the verdict rules, verification, tables."""
